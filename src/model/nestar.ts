// NestAR (arXiv 2510.23028): M modules, each its own block-causal transformer and flow head.
// Module 1 makes n1 tokens one at a time; module m>1 makes k-1 patches of k^(m-1)·n1/k tokens each,
// so sampling takes n1 + (M-1)(k-1) sequential backbone calls (counted by the sampler below).
import * as tf from '@tensorflow/tfjs-core';
import { resolveNestARConfig, type NestARConfig, type ResolvedModule } from './config.js';
import { ParamStore } from './params.js';
import { BlockCausalTransformer, disposeCache } from './transformer.js';
import { flowMatchingLoss } from '../flow/flowMatching.js';
import { createHead } from '../flow/heads.js';
import { singleSegment, type HeadLayout, type VelocityHead } from '../flow/head.js';
import { canvasGather, guidanceAt, sampleHead, beginSampling, classOneHot, writeTokens, type Generator, type LossPart, type LossOptions, type SampleOptions, type SampleResult } from './generator.js';
import { isIdentity, sequenceToMorton } from './tokenOrder.js';
import { mortonToRowCol, sequentialCalls } from './zorder.js';
import { coordinatedInput, prefixActive, prefixEstimate, type CoordStep } from './coord.js';
import type { Rng } from '../util/rng.js';

/** NestAR: M nested modules, each a block-causal transformer that makes the next patch of tokens in one call, with a flow head per module. */
export class NestAR implements Generator {
  readonly method = 'nestar' as const;
  readonly config: NestARConfig;
  readonly modules: ResolvedModule[];
  readonly params: ParamStore;
  readonly backbones: BlockCausalTransformer[] = [];
  readonly heads: VelocityHead[] = [];
  /** seqToMorton[i]: the Morton index (data/canvas layout) of sequence position i, for the config's token order. */
  readonly seqToMorton: Int32Array;
  /** Per module: how one sample's training rows split into patches for its head. */
  private readonly trainLayouts: HeadLayout[] = [];

  constructor(config: Partial<NestARConfig>, seed = 0) {
    const r = resolveNestARConfig(config);
    this.config = r.config;
    this.modules = r.modules;
    this.params = new ParamStore(seed);
    const g = this.config.gridSize;
    this.seqToMorton = sequenceToMorton(this.config.order, g);
    const pos = (i: number) => mortonToRowCol(this.seqToMorton[i]!);
    for (const mod of this.modules) {
      const own = Array.from({ length: mod.inputTokens }, (_, i) => pos(i));
      // Slot 0 is the condition; in module 1 it predicts token 0, and slot j predicts token j.
      // In module m > 1 slot j (input token j-1) predicts token j-1+P; the condition slot predicts nothing.
      const targets = Array.from({ length: mod.inputTokens + 1 }, (_, j) =>
        mod.m === 1 ? pos(j) : j === 0 ? null : pos(j - 1 + mod.patch));
      this.backbones.push(new BlockCausalTransformer(this.params, `m${mod.m}`, {
        width: mod.width, depth: mod.depth, heads: mod.heads, mlpRatio: this.config.mlpRatio, tokenDim: this.config.tokenDim,
        numClasses: this.config.numClasses, maxInputTokens: mod.inputTokens, blockSize: mod.patch, ownPositions: own,
        targetPositions: targets, gridSize: g, noiseInput: !!this.config.contextNoise,
      }));
      // Module 1 makes one token a step, so its head is per-token whatever the setting; a patch head's
      // in-patch positions are those of patch 1 (every later patch is a shifted copy of it).
      const kind = mod.m === 1 ? 'token' : this.config.headKind;
      this.heads.push(createHead(this.params, `m${mod.m}.head`, kind, this.config, {
        tokenDim: this.config.tokenDim, condDim: mod.width, gridSize: g,
        slotPositions: Array.from({ length: mod.patch }, (_, j) => pos(j)),
      }));
      this.trainLayouts.push(mod.m === 1 ? singleSegment(1) : { segments: new Array(this.config.k - 1).fill({ slot: 0, length: mod.patch }) });
    }
  }

  get numTokens(): number { return this.config.gridSize ** 2; }
  get nullClass(): number { return this.config.numClasses; }
  /** n1 + (M-1)(k-1). */
  get sequentialSteps(): number { return sequentialCalls(this.modules); }
  /** Module 1 has no prefix from other modules; module m > 1 is conditioned on modules < m. */
  get lossParts(): LossPart[] {
    return this.modules.map((m) => ({ name: `module ${m.m}`, tokens: m.end - m.start, hasPrefix: m.m > 1 }));
  }

  /** Class labels (-1 = the null class) as one-hot rows of numClasses + 1 columns. */
  oneHot(labels: Int32Array | number[]): tf.Tensor2D {
    return classOneHot(labels, this.config.numClasses);
  }

  /**
   * Backbone conditions for the targets of module i: z [B·targets, C] and x [B·targets, D]. The input is
   * ground truth (teacher forcing) unless coordination swaps in generated prefixes or noises it.
   */
  private moduleConditions(i: number, tokens_BnD: tf.Tensor3D, onehot: tf.Tensor2D, generated: tf.Tensor3D | null,
    rng: Rng, coord?: CoordStep): { z: tf.Tensor2D; x: tf.Tensor2D } {
    const mod = this.modules[i]!;
    const [B, , D] = tokens_BnD.shape;
    let input: tf.Tensor3D | null = null, s: Float32Array | null = null;
    if (mod.inputTokens > 0) {
      const gt = tf.slice(tokens_BnD, [0, 0, 0], [B, mod.inputTokens, D]);
      // The prefix made by modules < i (tokens [0, P)); the module's own earlier patches stay ground truth.
      const gen = generated && mod.m > 1
        ? tf.concat([generated, tf.slice(tokens_BnD, [0, mod.patch, 0], [B, mod.inputTokens - mod.patch, D])], 1) as tf.Tensor3D
        : null;
      ({ x: input, s } = coordinatedInput(i, gt, gen, coord, rng));
    }
    const h = this.backbones[i]!.forward(input, onehot, s);
    const C = mod.width, count = mod.end - mod.start;
    const rows = mod.m === 1 ? h : tf.slice(h, [0, 1, 0], [B, mod.inputTokens, C]);
    const targets = tf.slice(tokens_BnD, [0, mod.m === 1 ? 0 : mod.patch, 0], [B, mod.m === 1 ? count : mod.inputTokens, D]);
    return { z: tf.reshape(rows, [-1, C]), x: tf.reshape(targets, [-1, D]) };
  }

  /**
   * Flow-matching loss: sum over modules of lambda_m · mean per-token loss. With a generated-prefix
   * coordination step, module m's prefix comes from the estimates of modules < m (each made from that
   * module's own forward pass, detached), so the whole loss still takes one pass per module.
   */
  loss(tokens: tf.Tensor3D, labels: Int32Array, rng: Rng, opts: LossOptions = {}): { total: tf.Scalar; perModule: tf.Scalar[] } {
    const onehot = this.oneHot(labels);
    // Into sequence order (data carries no gradient, so a gather is fine here).
    const tokens_BnD = isIdentity(this.seqToMorton) ? tokens : tf.gather(tokens, tf.tensor1d(this.seqToMorton, 'int32'), 1) as tf.Tensor3D;
    const B = tokens_BnD.shape[0], D = this.config.tokenDim;
    const coord = opts.coord, estimates: tf.Tensor3D[] = [];
    const perModule = this.modules.map((mod, i) => {
      const generated = prefixActive(coord) && i > 0 ? tf.concat(estimates, 1) as tf.Tensor3D : null;
      const { z, x } = this.moduleConditions(i, tokens_BnD, onehot, generated, rng, coord);
      const layout = this.trainLayouts[i]!;
      const record = opts.recordDraws ? (t: Float32Array, eps: tf.Tensor2D) => opts.recordDraws!(i, t, eps) : undefined;
      const l = flowMatchingLoss(this.heads[i]!, x, z, rng, { repeats: opts.headRepeats, time: opts.time, layout, record });
      if (prefixActive(coord) && i < this.modules.length - 1) {
        const est = prefixEstimate(this.heads[i]!, z, D, coord!.prefixSource ?? { kind: 'one-step' }, (coord!.prefixRng ?? rng).seed(), layout);
        estimates.push(tf.reshape(est, [B, mod.end - mod.start, D]));
      }
      return l;
    });
    const total = tf.addN(perModule.map((l, i) => tf.mul(l, this.modules[i]!.lossWeight))) as tf.Scalar;
    return { total, perModule };
  }

  /** Raw backbone outputs for a prefix (used by tests of the block-causal property). */
  backboneOutputs(moduleIndex: number, prefix_BTD: tf.Tensor3D | null, labels: Int32Array): tf.Tensor3D {
    return this.backbones[moduleIndex]!.forward(prefix_BTD, this.oneHot(labels));
  }

  /** Samples with a KV cache per module: each step feeds the backbone only the block made last. */
  async sample(opts: SampleOptions): Promise<SampleResult> {
    const D = this.config.tokenDim, n = this.numTokens;
    const { labels, useCfg, B, onehot, rng } = beginSampling(opts, this.config.numClasses);
    const canvas = new Float32Array(B * n * D);
    const total = this.sequentialSteps;
    let calls = 0, headEvals = 0;
    for (let i = 0; i < this.modules.length; i++) {
      const mod = this.modules[i]!, backbone = this.backbones[i]!;
      const cache = backbone.newCache();
      for (let s = 0; s < mod.steps; s++) {
        // New input this step: module 1 the token made last (none at first); module m the block made last
        // (the whole first patch at first). The last `made` output rows condition the new tokens.
        const made = mod.m === 1 ? 1 : mod.patch;
        const start = mod.m === 1 ? s : (s + 1) * mod.patch;
        const [from, to] = mod.m === 1 ? [Math.max(0, s - 1), s] : [s * mod.patch, (s + 1) * mod.patch];
        const w = guidanceAt(opts, start / n);
        const out = tf.tidy(() => {
          const x = to > from ? canvasGather(canvas, B, n, D, this.seqToMorton.subarray(from, to), useCfg) : null;
          const h = backbone.extend(cache, x, onehot);
          const rows = h.shape[1];
          const z = tf.reshape(tf.slice(h, [0, rows - made, 0], [labels.length, made, mod.width]), [-1, mod.width]) as tf.Tensor2D;
          const r = sampleHead(this.heads[i]!, z, D, useCfg, w, opts, rng.seed(), singleSegment(made));
          headEvals += r.evals;
          return r.y;
        });
        calls++;
        const vals = out.dataSync() as Float32Array;
        out.dispose();
        writeTokens(canvas, vals, B, n, D, this.seqToMorton.subarray(start, start + made));
        if (opts.onStep) await opts.onStep({ module: mod.m, patch: s + 1, tokensSoFar: start + made, calls, totalCalls: total, canvas });
      }
      disposeCache(cache);
    }
    onehot.dispose();
    return { tokens: canvas, backboneCalls: calls, headEvals };
  }

  /** Frees every variable of the model. */
  dispose(): void {
    for (const b of this.backbones) b.dispose();
    this.params.dispose();
  }
}
