// NestAR (arXiv 2510.23028): M modules, each its own block-causal transformer and flow head.
// Module 1 makes n1 tokens one at a time; module m>1 makes k-1 patches of k^(m-1)·n1/k tokens each,
// so sampling takes n1 + (M-1)(k-1) sequential backbone calls (counted by the sampler below).
import * as tf from '@tensorflow/tfjs-core';
import { resolveNestARConfig, type NestARConfig, type ResolvedModule } from './config.js';
import { ParamStore } from './params.js';
import { BlockCausalTransformer } from './transformer.js';
import { FlowHead } from '../flow/flowHead.js';
import { flowMatchingLoss, integrateFlow, type OdeSolver, type TimeSampling } from '../flow/flowMatching.js';
import { mortonToRowCol, sequentialCalls } from './zorder.js';
import { Rng } from '../util/rng.js';

export interface LossOptions { headRepeats?: number; time?: TimeSampling }

export interface SampleOptions {
  count: number;
  /** Class per sample (length count) or one class for all; -1 or null/undefined = unconditional (null class). */
  classes?: number | number[] | null;
  cfg?: number;
  cfgSchedule?: 'constant' | 'linear';
  temperature?: number;
  odeSteps?: number;
  solver?: OdeSolver;
  seed?: number;
  /** Called after every sequential step with the canvas so far (Morton-order tokens, [count, n, D]). */
  onStep?: (p: SampleProgress) => void | Promise<void>;
}

export interface SampleProgress { module: number; patch: number; tokensSoFar: number; calls: number; totalCalls: number; canvas: Float32Array }

export interface SampleResult { tokens: Float32Array; backboneCalls: number; headEvals: number }

export class NestAR {
  readonly config: NestARConfig;
  readonly modules: ResolvedModule[];
  readonly params: ParamStore;
  readonly backbones: BlockCausalTransformer[] = [];
  readonly heads: FlowHead[] = [];

  constructor(config: Partial<NestARConfig>, seed = 0) {
    const r = resolveNestARConfig(config);
    this.config = r.config;
    this.modules = r.modules;
    this.params = new ParamStore(seed);
    const g = this.config.gridSize;
    for (const mod of this.modules) {
      const own = Array.from({ length: mod.inputTokens }, (_, i) => mortonToRowCol(i));
      // Slot 0 is the condition; in module 1 it predicts token 0, and slot j predicts token j.
      // In module m > 1 slot j (input token j-1) predicts token j-1+P; the condition slot predicts nothing.
      const targets = Array.from({ length: mod.inputTokens + 1 }, (_, j) =>
        mod.m === 1 ? mortonToRowCol(j) : j === 0 ? null : mortonToRowCol(j - 1 + mod.patch));
      this.backbones.push(new BlockCausalTransformer(this.params, `m${mod.m}`, {
        width: mod.width, depth: mod.depth, heads: mod.heads, mlpRatio: this.config.mlpRatio, tokenDim: this.config.tokenDim,
        numClasses: this.config.numClasses, maxInputTokens: mod.inputTokens, blockSize: mod.patch, ownPositions: own,
        targetPositions: targets, gridSize: g,
      }));
      this.heads.push(new FlowHead(this.params, `m${mod.m}.head`, {
        tokenDim: this.config.tokenDim, condDim: mod.width, width: this.config.headWidth, depth: this.config.headDepth,
      }));
    }
  }

  get numTokens(): number { return this.config.gridSize ** 2; }
  get nullClass(): number { return this.config.numClasses; }
  /** n1 + (M-1)(k-1). */
  get sequentialSteps(): number { return sequentialCalls(this.modules); }

  oneHot(labels: Int32Array | number[]): tf.Tensor2D {
    return tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), this.config.numClasses + 1).toFloat() as tf.Tensor2D;
  }

  /** Backbone conditions for the targets of module i, teacher-forced: z [B·targets, C] and x [B·targets, D]. */
  private moduleConditions(i: number, tokens_BnD: tf.Tensor3D, onehot: tf.Tensor2D): { z: tf.Tensor2D; x: tf.Tensor2D } {
    const mod = this.modules[i]!;
    const [B, , D] = tokens_BnD.shape;
    const input = mod.inputTokens > 0 ? tf.slice(tokens_BnD, [0, 0, 0], [B, mod.inputTokens, D]) : null;
    const h = this.backbones[i]!.forward(input, onehot);
    const C = mod.width, count = mod.end - mod.start;
    const rows = mod.m === 1 ? h : tf.slice(h, [0, 1, 0], [B, mod.inputTokens, C]);
    const targets = tf.slice(tokens_BnD, [0, mod.m === 1 ? 0 : mod.patch, 0], [B, mod.m === 1 ? count : mod.inputTokens, D]);
    return { z: tf.reshape(rows, [-1, C]), x: tf.reshape(targets, [-1, D]) };
  }

  /** Teacher-forced flow-matching loss: sum over modules of lambda_m · mean per-token loss. */
  loss(tokens_BnD: tf.Tensor3D, labels: Int32Array, rng: Rng, opts: LossOptions = {}): { total: tf.Scalar; perModule: tf.Scalar[] } {
    const onehot = this.oneHot(labels);
    const perModule = this.modules.map((mod, i) => {
      const { z, x } = this.moduleConditions(i, tokens_BnD, onehot);
      return flowMatchingLoss(this.heads[i]!, x, z, rng, { repeats: opts.headRepeats, time: opts.time });
    });
    const total = tf.addN(perModule.map((l, i) => tf.mul(l, this.modules[i]!.lossWeight))) as tf.Scalar;
    return { total, perModule };
  }

  /** Raw backbone outputs for a prefix (used by tests of the block-causal property). */
  backboneOutputs(moduleIndex: number, prefix_BTD: tf.Tensor3D | null, labels: Int32Array): tf.Tensor3D {
    return this.backbones[moduleIndex]!.forward(prefix_BTD, this.oneHot(labels));
  }

  async sample(opts: SampleOptions): Promise<SampleResult> {
    const B = opts.count, D = this.config.tokenDim, n = this.numTokens;
    const given: number[] = opts.classes == null ? new Array(B).fill(-1)
      : typeof opts.classes === 'number' ? new Array(B).fill(opts.classes) : opts.classes;
    if (given.length !== B) throw new Error(`sample: ${given.length} classes given for ${B} samples`);
    for (const c of given) {
      if (!Number.isInteger(c) || c < -1 || c >= this.nullClass) throw new Error(`sample: class ${c} is out of range 0..${this.nullClass - 1} (-1 = unconditional)`);
    }
    const classes = given.map((c) => (c === -1 ? this.nullClass : c));
    const cfg = opts.cfg ?? 1, useCfg = cfg !== 1 && classes.some((c) => c !== this.nullClass);
    const rng = new Rng(opts.seed ?? 0);
    const labels = Int32Array.from(useCfg ? [...classes, ...new Array(B).fill(this.nullClass)] : classes);
    const onehot = tf.tidy(() => this.oneHot(labels));
    const canvas = new Float32Array(B * n * D);
    const total = this.sequentialSteps;
    let calls = 0, headEvals = 0;
    for (let i = 0; i < this.modules.length; i++) {
      const mod = this.modules[i]!;
      for (let s = 0; s < mod.steps; s++) {
        // Tokens available before this step, and the slots whose outputs condition the new tokens.
        const have = mod.m === 1 ? s : (s + 1) * mod.patch;
        const made = mod.m === 1 ? 1 : mod.patch;
        const firstRow = mod.m === 1 ? s : 1 + s * mod.patch;
        const progress = have / n;
        const w = opts.cfgSchedule === 'linear' ? 1 + (cfg - 1) * progress : cfg;
        const out = tf.tidy(() => {
          let prefix: tf.Tensor3D | null = null;
          if (have > 0) {
            const p = new Float32Array(B * have * D);
            for (let b = 0; b < B; b++) p.set(canvas.subarray(b * n * D, (b * n + have) * D), b * have * D);
            const pt = tf.tensor3d(p, [B, have, D]);
            prefix = useCfg ? tf.concat([pt, pt], 0) : pt;
          }
          const h = this.backbones[i]!.forward(prefix, onehot);
          const C = mod.width, rowsB = labels.length;
          const z = tf.reshape(tf.slice(h, [0, firstRow, 0], [rowsB, made, C]), [-1, C]) as tf.Tensor2D;
          const N = B * made;
          const head = this.heads[i]!;
          const { y, evals } = integrateFlow((y_ND, t) => {
            if (!useCfg) return head.forward(y_ND, t, z);
            const v = head.forward(tf.concat([y_ND, y_ND], 0) as tf.Tensor2D, t, z);
            const [vc, vu] = tf.split(v, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
            return tf.add(vu, tf.mul(tf.sub(vc, vu), w)) as tf.Tensor2D;
          }, [N, D], { steps: opts.odeSteps ?? 32, solver: opts.solver ?? 'euler', temperature: opts.temperature ?? 1, seed: rng.seed() });
          headEvals += evals;
          return y;
        });
        calls++;
        const vals = out.dataSync();
        out.dispose();
        const start = mod.m === 1 ? s : (s + 1) * mod.patch;
        for (let b = 0; b < B; b++) canvas.set(vals.subarray(b * made * D, (b + 1) * made * D), (b * n + start) * D);
        if (opts.onStep) await opts.onStep({ module: mod.m, patch: s + 1, tokensSoFar: start + made, calls, totalCalls: total, canvas });
      }
    }
    onehot.dispose();
    return { tokens: canvas, backboneCalls: calls, headEvals };
  }

  dispose(): void {
    for (const b of this.backbones) b.dispose();
    this.params.dispose();
  }
}
