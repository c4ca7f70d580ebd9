// A pre-LN transformer over [cond; tokens] with a block-causal mask (method.md §3): a token attends
// to the condition and to every token of its own and earlier blocks. Block size 1 is plain causal; blocks
// may also have different sizes (next-scale AR: one block per scale). Sampling can extend a KV cache
// block by block, since no token ever attends to a later block.
import * as tf from '@tensorflow/tfjs-core';
import { applyLayerNorm, applyLinear, layerNorm, linear, preLnBlockTail, type LayerNorm, type Linear } from './layers.js';
import type { ParamStore } from './params.js';
import { sinCos2d } from './posEmbed.js';
import { multiHeadAttention, projectedSelfAttention } from './attention.js';

export interface TransformerSpec {
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  tokenDim: number;
  numClasses: number;
  /** Input tokens at full length (sequence length is this + 1 for the condition). */
  maxInputTokens: number;
  /** Tokens per block for the mask (equal blocks)… */
  blockSize: number;
  /** …or the block id of every input token (non-decreasing), which overrides blockSize. */
  blockIds?: number[];
  /** [row, col] of each input token's own grid position and of the position each sequence slot predicts. */
  ownPositions: Array<[number, number]>;
  targetPositions: Array<[number, number] | null>;
  gridSize: number;
  /** Noisy-context training: the backbone also takes the context noise level s (zero-initialised embedding). */
  noiseInput?: boolean;
}

/** Keys and values of every layer for the slots processed so far ([B, length, C] each, heads in column blocks). */
export interface KvCache { k: tf.Tensor3D[]; v: tf.Tensor3D[]; length: number }

export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.k, ...cache.v]);
  cache.k = [];
  cache.v = [];
  cache.length = 0;
}

interface Block { ln1: LayerNorm; q: Linear; k: Linear; v: Linear; proj: Linear; ln2: LayerNorm; fc1: Linear; fc2: Linear }

/** A pre-norm transformer whose attention mask lets each block of tokens see itself and earlier blocks. */
export class BlockCausalTransformer {
  private readonly inProj: Linear;
  private readonly classEmb: Linear;
  private readonly ownPos: tf.Variable;
  private readonly tgtPos: tf.Variable;
  private readonly blocks: Block[] = [];
  private readonly lnOut: LayerNorm;
  private readonly noiseEmb?: Linear;
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
    // Zero-initialised and fed [s, s²], so s = 0 (sampling) adds exactly nothing.
    if (spec.noiseInput) this.noiseEmb = linear(ps, `${name}.ctx_noise`, 2, C, { bias: false, zero: true });
    const mask = new Float32Array(L * L);
    if (spec.blockIds && spec.blockIds.length !== T) throw new Error(`${name}: ${spec.blockIds.length} block ids for ${T} input tokens`);
    const blockOf = (j: number) => (j === 0 ? -1 : spec.blockIds ? spec.blockIds[j - 1]! : Math.floor((j - 1) / P));
    for (let q = 0; q < L; q++) for (let k = 0; k < L; k++) mask[q * L + k] = blockOf(k) <= blockOf(q) ? 0 : -1e9;
    this.mask = tf.keep(tf.tensor2d(mask, [L, L]));
  }

  /**
   * x_BTD: the first T input tokens (T <= maxInputTokens; T may be 0), classOneHot_BK: [B, numClasses+1].
   * Returns h_BLC with L = T + 1: row 0 is the condition slot, row j the j-th input token.
   * s_B: the context noise level per sample (noisy-context models; omitted = 0).
   */
  forward(x_BTD: tf.Tensor3D | null, classOneHot_BK: tf.Tensor2D, s_B: Float32Array | null = null): tf.Tensor3D {
    return this.run(x_BTD, classOneHot_BK, null, s_B);
  }

  /** An empty KV cache for incremental sampling; pass it to extend(), dispose it when done. */
  newCache(): KvCache {
    return { k: [], v: [], length: 0 };
  }

  /**
   * Appends input tokens to a KV cache and returns the outputs of the new slots only. The first call
   * also appends the condition slot (so it returns T+1 rows); later calls return T rows. The new tokens
   * must complete whole blocks, or be a prefix of one that no later call revisits (as the samplers do).
   */
  extend(cache: KvCache, x_BTD: tf.Tensor3D | null, classOneHot_BK: tf.Tensor2D): tf.Tensor3D {
    return this.run(x_BTD, classOneHot_BK, cache, null);
  }

  private run(x_BTD: tf.Tensor3D | null, classOneHot_BK: tf.Tensor2D, cache: KvCache | null, s_B: Float32Array | null): tf.Tensor3D {
    const { width: C, heads: H } = this.spec;
    const B = classOneHot_BK.shape[0];
    const T = x_BTD ? x_BTD.shape[1] : 0;
    const start = cache ? cache.length : 0; // sequence slots already cached
    const withCond = start === 0;
    const newRows = T + (withCond ? 1 : 0);
    const end = start + newRows;
    if (end > this.spec.maxInputTokens + 1) throw new Error(`${this.name}: ${end - 1} input tokens exceed the maximum ${this.spec.maxInputTokens}`);
    if (newRows === 0) throw new Error(`${this.name}: nothing to process`);
    const parts: tf.Tensor[] = [];
    if (withCond) parts.push(tf.reshape(applyLinear(this.classEmb, classOneHot_BK), [B, 1, C]));
    if (x_BTD && T > 0) parts.push(applyLinear(this.inProj, x_BTD));
    let h: tf.Tensor = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
    h = tf.add(h, tf.add(tf.slice(this.ownPos, [start, 0], [newRows, C]), tf.slice(this.tgtPos, [start, 0], [newRows, C])));
    if (this.noiseEmb && s_B) {
      if (s_B.length !== B) throw new Error(`${this.name}: ${s_B.length} noise levels for ${B} samples`);
      const feats = new Float32Array(2 * B);
      s_B.forEach((s, b) => { feats[2 * b] = s; feats[2 * b + 1] = s * s; });
      h = tf.add(h, tf.reshape(applyLinear(this.noiseEmb, tf.tensor2d(feats, [B, 2])), [B, 1, C]));
    }
    const full = this.mask.shape[0];
    const mask = start === 0 && end === full ? this.mask : tf.slice(this.mask, [start, 0], [newRows, end]);
    // Sampling runs each block in its own tidy so that only one block's temporaries are alive at once: in one
    // outer tidy all blocks' attention maps and MLP activations coexist (next-scale AR's depth-9 sampler at
    // batch 250 with CFG needed over 3.5 GB and overran the 4 GiB WASM heap). Training keeps them for backprop.
    const perBlock = (f: () => [tf.Tensor, tf.Tensor]) => (cache ? tf.tidy(f) : f());
    const shape3: [number, number, number] = [B, newRows, C], rows = (t: tf.Tensor) => tf.reshape(t, [B * newRows, C]) as tf.Tensor2D;
    // The residual stream h and its normalised hn for the next sublayer: each sublayer's output layer adds into the
    // stream and normalises the sum for the next in one fused op where the engine has it (residualLinearNorm).
    let hn = applyLayerNorm(this.blocks[0]!.ln1, h);
    this.blocks.forEach((blk, li) => [h, hn] = perBlock(() => {
      let merged: tf.Tensor3D;
      if (!cache) {
        // Training and whole-sequence passes: q, k, v as one matmul where the engine has the fused kernel.
        merged = tf.reshape(projectedSelfAttention(rows(hn), blk.q, blk.k, blk.v, mask, H, B), shape3) as tf.Tensor3D;
      } else {
        // Cached sampling: separate q/k/v projections (a fused qkv + split costs more in SplitV than it saves on WASM).
        const q = applyLinear(blk.q, hn) as tf.Tensor3D;
        let k = applyLinear(blk.k, hn) as tf.Tensor3D, v = applyLinear(blk.v, hn) as tf.Tensor3D;
        if (cache.k[li]) {
          k = tf.concat([cache.k[li]!, k], 1);
          v = tf.concat([cache.v[li]!, v], 1);
          cache.k[li]!.dispose();
          cache.v[li]!.dispose();
        }
        cache.k[li] = tf.keep(k);
        cache.v[li] = tf.keep(v);
        merged = multiHeadAttention(q, k, v, mask, H);
      }
      const next = this.blocks[li + 1];
      const [h3, hn3] = preLnBlockTail(blk, rows(merged), rows(h), next?.ln1 ?? this.lnOut, !next);
      return [tf.reshape(h3, shape3), tf.reshape(hn3, shape3)];
    }));
    if (cache) cache.length = end;
    return hn as tf.Tensor3D;
  }

  /** Frees the transformer's variables. */
  dispose(): void {
    this.mask.dispose();
  }
}
