// The engine benchmark's reference model (research/ts-engines.md): causal pre-LN transformer, batch 64,
// sequence 64, width 256, 4 layers, 4 heads, MLP x4 with tanh-GELU, linear 48 -> 256 embedding, learned
// positions, final LN + linear 256 -> 48, MSE loss. 3,200,816 parameters. bench/reference_model.py is the
// identical model in PyTorch.
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../model/params.js';
import { applyLayerNorm, applyLinear, layerNorm, linear, preLnBlockTail, type LayerNorm, type Linear } from '../model/layers.js';
import { projectedSelfAttention } from '../model/attention.js';

export interface RefDims { batch: number; seq: number; width: number; depth: number; heads: number; inDim: number }
export const REF: RefDims = { batch: 64, seq: 64, width: 256, depth: 4, heads: 4, inDim: 48 };

interface Block { ln1: LayerNorm; q: Linear; k: Linear; v: Linear; proj: Linear; ln2: LayerNorm; fc1: Linear; fc2: Linear }

export class ReferenceModel {
  readonly ps: ParamStore;
  private readonly emb: Linear; private readonly pos: tf.Variable; private readonly blocks: Block[] = [];
  private readonly lnOut: LayerNorm; private readonly out: Linear; private readonly mask: tf.Tensor2D;

  constructor(seed: number, readonly dims: RefDims = REF) {
    const { width: C, depth, inDim, seq: L } = dims;
    const ps = (this.ps = new ParamStore(seed));
    this.emb = linear(ps, 'emb', inDim, C);
    this.pos = ps.create('pos', [L, C], { kind: 'normal', std: 0.02 });
    for (let i = 0; i < depth; i++) {
      const p = `blocks.${i}`;
      this.blocks.push({ ln1: layerNorm(ps, `${p}.ln1`, C), q: linear(ps, `${p}.q`, C, C), k: linear(ps, `${p}.k`, C, C), v: linear(ps, `${p}.v`, C, C),
        proj: linear(ps, `${p}.proj`, C, C), ln2: layerNorm(ps, `${p}.ln2`, C), fc1: linear(ps, `${p}.fc1`, C, 4 * C), fc2: linear(ps, `${p}.fc2`, 4 * C, C) });
    }
    this.lnOut = layerNorm(ps, 'ln_out', C);
    this.out = linear(ps, 'out', C, inDim);
    const m = new Float32Array(L * L);
    for (let q = 0; q < L; q++) for (let k = 0; k < L; k++) m[q * L + k] = k <= q ? 0 : -1e9;
    this.mask = tf.keep(tf.tensor2d(m, [L, L]));
  }

  forward(x_BLD: tf.Tensor3D): tf.Tensor3D {
    const { heads: H, width: C } = this.dims, [B, L] = x_BLD.shape;
    // The residual stream as rows [B·L, C]; each sublayer's output layer adds into it and, fused, normalises the sum
    // for the next sublayer (src/model/layers.ts): the same model as the plain adds and norms.
    let h = tf.reshape(tf.add(applyLinear(this.emb, x_BLD), this.pos), [B * L, C]) as tf.Tensor2D;
    let hn = applyLayerNorm(this.blocks[0]!.ln1, h) as tf.Tensor2D;
    this.blocks.forEach((b, i) => {
      const next = this.blocks[i + 1];
      [h, hn] = preLnBlockTail(b, projectedSelfAttention(hn, b.q, b.k, b.v, this.mask, H, B), h, next?.ln1 ?? this.lnOut, !next);
    });
    return tf.reshape(applyLinear(this.out, hn), [B, L, this.dims.inDim]) as tf.Tensor3D;
  }

  loss(x: tf.Tensor3D, y: tf.Tensor3D): tf.Scalar {
    return tf.mean(tf.square(tf.sub(this.forward(x), y)));
  }

  dispose(): void {
    this.mask.dispose();
    this.ps.dispose();
  }
}
