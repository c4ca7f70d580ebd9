// A pre-LN transformer over [cond; tokens] with a block-causal mask (method.md §3): a token attends
// to the condition and to every token of its own and earlier blocks. Block size 1 is plain causal.
import * as tf from '@tensorflow/tfjs-core';
import { applyLayerNorm, applyLinear, gelu, layerNorm, linear, type LayerNorm, type Linear } from './layers.js';
import type { ParamStore } from './params.js';

export interface TransformerSpec {
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  tokenDim: number;
  numClasses: number;
  /** Input tokens at full length (sequence length is this + 1 for the condition). */
  maxInputTokens: number;
  /** Tokens per block for the mask. */
  blockSize: number;
  /** [row, col] of each input token's own grid position and of the position each sequence slot predicts. */
  ownPositions: Array<[number, number]>;
  targetPositions: Array<[number, number] | null>;
  gridSize: number;
}

interface Block { ln1: LayerNorm; q: Linear; k: Linear; v: Linear; proj: Linear; ln2: LayerNorm; fc1: Linear; fc2: Linear }

/** 2-D sin-cos features of a grid position (MAE-style), used to initialise the learned position tables. */
function sinCos2d(pos: [number, number] | null, dim: number, grid: number): Float32Array {
  const out = new Float32Array(dim);
  if (!pos) return out;
  const quarter = Math.floor(dim / 4);
  for (let a = 0; a < 2; a++) {
    for (let i = 0; i < quarter; i++) {
      const w = (pos[a]! / grid) * Math.PI * Math.pow(grid, i / Math.max(1, quarter - 1));
      out[a * 2 * quarter + i] = Math.sin(w);
      out[a * 2 * quarter + quarter + i] = Math.cos(w);
    }
  }
  return out;
}

export class BlockCausalTransformer {
  private readonly inProj: Linear;
  private readonly classEmb: Linear;
  private readonly ownPos: tf.Variable;
  private readonly tgtPos: tf.Variable;
  private readonly blocks: Block[] = [];
  private readonly lnOut: LayerNorm;
  /** Additive mask [L, L]: 0 where attention is allowed, -1e9 elsewhere. Kept for the model's life. */
  readonly mask: tf.Tensor2D;

  constructor(ps: ParamStore, readonly name: string, readonly spec: TransformerSpec) {
    const { width: C, depth, mlpRatio, tokenDim, numClasses, maxInputTokens: T, blockSize: P } = spec;
    const L = T + 1;
    this.inProj = linear(ps, `${name}.in`, tokenDim, C);
    this.classEmb = linear(ps, `${name}.class`, numClasses + 1, C, { bias: false });
    const own = new Float32Array(L * C), tgt = new Float32Array(L * C);
    for (let j = 0; j < L; j++) {
      own.set(sinCos2d(j === 0 ? null : spec.ownPositions[j - 1]!, C, spec.gridSize), j * C);
      tgt.set(sinCos2d(spec.targetPositions[j] ?? null, C, spec.gridSize), j * C);
    }
    this.ownPos = ps.create(`${name}.pos_own`, [L, C], { kind: 'values', values: own });
    this.tgtPos = ps.create(`${name}.pos_target`, [L, C], { kind: 'values', values: tgt });
    for (let i = 0; i < depth; i++) {
      const p = `${name}.blocks.${i}`;
      this.blocks.push({
        ln1: layerNorm(ps, `${p}.ln1`, C), q: linear(ps, `${p}.attn.q`, C, C), k: linear(ps, `${p}.attn.k`, C, C),
        v: linear(ps, `${p}.attn.v`, C, C), proj: linear(ps, `${p}.attn.proj`, C, C),
        ln2: layerNorm(ps, `${p}.ln2`, C), fc1: linear(ps, `${p}.mlp.fc1`, C, mlpRatio * C), fc2: linear(ps, `${p}.mlp.fc2`, mlpRatio * C, C),
      });
    }
    this.lnOut = layerNorm(ps, `${name}.ln_out`, C);
    const mask = new Float32Array(L * L);
    const blockOf = (j: number) => (j === 0 ? -1 : Math.floor((j - 1) / P));
    for (let q = 0; q < L; q++) for (let k = 0; k < L; k++) mask[q * L + k] = blockOf(k) <= blockOf(q) ? 0 : -1e9;
    this.mask = tf.keep(tf.tensor2d(mask, [L, L]));
  }

  /**
   * x_BTD: the first T input tokens (T <= maxInputTokens; T may be 0), classOneHot_BK: [B, numClasses+1].
   * Returns h_BLC with L = T + 1: row 0 is the condition slot, row j the j-th input token.
   */
  forward(x_BTD: tf.Tensor3D | null, classOneHot_BK: tf.Tensor2D): tf.Tensor3D {
    const { width: C, heads: H } = this.spec;
    const B = classOneHot_BK.shape[0];
    const T = x_BTD ? x_BTD.shape[1] : 0;
    if (T > this.spec.maxInputTokens) throw new Error(`${this.name}: ${T} input tokens exceed the maximum ${this.spec.maxInputTokens}`);
    const L = T + 1, dh = C / H;
    const cond = tf.reshape(applyLinear(this.classEmb, classOneHot_BK), [B, 1, C]);
    let h: tf.Tensor = x_BTD ? tf.concat([cond, applyLinear(this.inProj, x_BTD)], 1) : cond;
    h = tf.add(h, tf.add(tf.slice(this.ownPos, [0, 0], [L, C]), tf.slice(this.tgtPos, [0, 0], [L, C])));
    const mask = L === this.mask.shape[0] ? this.mask : tf.slice(this.mask, [0, 0], [L, L]);
    const scale = 1 / Math.sqrt(dh);
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, L, H, dh]), [0, 2, 1, 3]);
    for (const blk of this.blocks) {
      // Separate q/k/v projections: a fused qkv + split costs more in SplitV than it saves on WASM.
      const hn = applyLayerNorm(blk.ln1, h);
      const q = applyLinear(blk.q, hn), k = applyLinear(blk.k, hn), v = applyLinear(blk.v, hn);
      const scores = tf.add(tf.mul(tf.matMul(heads(q) as tf.Tensor4D, heads(k) as tf.Tensor4D, false, true), scale), mask);
      const att = tf.matMul(tf.softmax(scores), heads(v) as tf.Tensor4D);
      const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B, L, C]);
      h = tf.add(h, applyLinear(blk.proj, merged));
      h = tf.add(h, applyLinear(blk.fc2, gelu(applyLinear(blk.fc1, applyLayerNorm(blk.ln2, h)))));
    }
    return applyLayerNorm(this.lnOut, h) as tf.Tensor3D;
  }

  dispose(): void {
    this.mask.dispose();
  }
}
