// What NestAR and the baselines share: one interface (build from a typed config, loss, sample with the
// same options, parameter count, counted sequential calls) and the sampling pieces every method uses —
// class/guidance handling and the guided ODE solve of the per-token flow head.
import * as tf from '@tensorflow/tfjs-core';
import { flowMatchingErrors, integrateFlow, timeGrid, type OdeSolver, type TimeSampling } from '../flow/flowMatching.js';
import type { HeadLayout, PreparedVelocity, VelocityHead } from '../flow/head.js';
import type { ParamStore } from './params.js';
import type { CoordStep } from './coord.js';
import { Rng as RngClass, type Rng } from '../util/rng.js';
import { fusedGuidance } from '../engine/fusedOps.js';

/** Which generator a checkpoint or run holds. */
export type Method = 'nestar' | 'raster' | 'nextscale';
/** The generators nestar implements: NestAR and the raster and next-scale AR baselines. */
export const METHODS: readonly Method[] = ['nestar', 'raster', 'nextscale'];

/** Training-time options of a loss: head repeats, t sampling, coordination step. */
export interface LossOptions {
  headRepeats?: number; time?: TimeSampling; coord?: CoordStep;
  /** Sees each loss part's (t, eps) draws (part = module or scale index): golden fixtures for the PyTorch twin. */
  recordDraws?: (part: number, t: Float32Array, eps: tf.Tensor2D) => void;
}

/** How to sample: count, classes, guidance, ODE solver and steps, seed, and a per-step callback. */
export interface SampleOptions {
  count: number;
  /** Class per sample (length count) or one class for all; -1 or null/undefined = unconditional (null class). */
  classes?: number | number[] | null;
  cfg?: number;
  cfgSchedule?: 'constant' | 'linear';
  /** Sees the starting noise of every head integration, in order (golden fixtures for the PyTorch twin). */
  recordStartNoise?: (y0: tf.Tensor2D) => void;
  temperature?: number;
  odeSteps?: number;
  solver?: OdeSolver;
  /**
   * Guidance interval [lo, hi] in flow time (0 = noise, 1 = data): guidance is applied only while the ODE
   * time lies in it, the conditional velocity elsewhere (FlowAR / Kynkäänniemi et al.). Default [0, 1].
   */
  cfgInterval?: [number, number];
  /** Time-grid shift of the ODE (1 = uniform; see timeGrid). */
  timeShift?: number;
  /** Noise scale of the 'sde' solver. */
  sdeNoise?: number;
  seed?: number;
  /** Called after every sequential step with the canvas so far (Morton-order tokens, [count, n, D]). */
  onStep?: (p: SampleProgress) => void | Promise<void>;
}

/** One entry of a loss split: its name, its target tokens, and whether earlier steps made its input. */
export interface LossPart { name: string; tokens: number; hasPrefix: boolean }

/** The state after one sequential call: module and patch, tokens made, calls so far and the canvas. */
export interface SampleProgress { module: number; patch: number; tokensSoFar: number; calls: number; totalCalls: number; canvas: Float32Array }

/** Sampled tokens with the counted sequential calls and head evaluations. */
export interface SampleResult { tokens: Float32Array; backboneCalls: number; headEvals: number }

/** What NestAR and both baselines implement: a training loss over token grids and a sampler. */
export interface Generator {
  readonly method: Method;
  readonly params: ParamStore;
  /** Tokens per image (grid side squared). */
  readonly numTokens: number;
  /** Sequential backbone calls one sample() makes (the sampler counts them too). */
  readonly sequentialSteps: number;
  /** The parts loss().perModule reports, in order: NestAR's modules, next-scale's scales, raster's one. */
  readonly lossParts: LossPart[];
  /** Flow-matching loss of a batch of token grids (Morton order) given their labels; per-module parts for logging. */
  loss(tokens_BnD: tf.Tensor3D, labels: Int32Array, rng: Rng, opts?: LossOptions): { total: tf.Scalar; perModule: tf.Scalar[] };
  /** Samples `opts.count` token grids, one sequential network call per step. */
  sample(opts: SampleOptions): Promise<SampleResult>;
  /** Frees every variable of the model. */
  dispose(): void;
}

/** Labels for one sampling batch: [classes] or, with guidance, [classes; null classes]. */
export function samplingLabels(opts: SampleOptions, numClasses: number): { labels: Int32Array; useCfg: boolean; B: number } {
  const B = opts.count;
  if (!Number.isInteger(B) || B < 1) throw new Error(`sample: count must be a positive integer, got ${B}`);
  const given: number[] = opts.classes == null ? new Array(B).fill(-1)
    : typeof opts.classes === 'number' ? new Array(B).fill(opts.classes) : opts.classes;
  if (given.length !== B) throw new Error(`sample: ${given.length} classes given for ${B} samples`);
  for (const c of given) {
    if (!Number.isInteger(c) || c < -1 || c >= numClasses) throw new Error(`sample: class ${c} is out of range 0..${numClasses - 1} (-1 = unconditional)`);
  }
  const classes = given.map((c) => (c === -1 ? numClasses : c));
  const useCfg = (opts.cfg ?? 1) !== 1 && classes.some((c) => c !== numClasses);
  return { labels: Int32Array.from(useCfg ? [...classes, ...new Array(B).fill(numClasses)] : classes), useCfg, B };
}

/** One-hot class rows [B, numClasses + 1] (the extra column is the null class); no gather, so WASM can differentiate it. */
export function classOneHot(labels: Int32Array | number[], numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), numClasses + 1), 'float32') as tf.Tensor2D);
}

/** What every sampler sets up first: the labels (doubled for guidance), their one-hot rows, the RNG. Dispose onehot when done. */
export function beginSampling(opts: SampleOptions, numClasses: number): { labels: Int32Array; useCfg: boolean; B: number; onehot: tf.Tensor2D; rng: Rng } {
  checkSampleOptions(opts);
  const l = samplingLabels(opts, numClasses);
  return { ...l, onehot: classOneHot(l.labels, numClasses), rng: new RngClass(opts.seed ?? 0) };
}

/**
 * The baselines' loss: one head over every output row (targets [B, L, D], conditions [B, L, C]), split
 * into consecutive groups of rows (raster: one; next-scale: one per scale) that are reported apart and
 * weighted by `weights` in the total.
 */
export function groupedHeadLoss(head: VelocityHead, targets: tf.Tensor3D, h: tf.Tensor3D, rng: Rng, opts: LossOptions,
  groups: number[], weights: number[], layout: HeadLayout): { total: tf.Scalar; perModule: tf.Scalar[] } {
  const [, L, D] = targets.shape, C = h.shape[2];
  const record = opts.recordDraws ? (t: Float32Array, eps: tf.Tensor2D) => opts.recordDraws!(0, t, eps) : undefined;
  const err = flowMatchingErrors(head, tf.reshape(targets, [-1, D]) as tf.Tensor2D, tf.reshape(h, [-1, C]) as tf.Tensor2D, rng, { repeats: opts.headRepeats, time: opts.time, layout, record });
  if (groups.length === 1) {
    const l = tf.mean(err) as tf.Scalar;
    return { total: tf.mul(l, weights[0]!), perModule: [l] };
  }
  const rows = tf.reshape(err, [-1, L, D]);
  let off = 0;
  const perModule = groups.map((g) => {
    const l = tf.mean(tf.slice(rows, [0, off, 0], [-1, g, D])) as tf.Scalar;
    off += g;
    return l;
  });
  return { total: tf.addN(perModule.map((l, i) => tf.mul(l, weights[i]!))) as tf.Scalar, perModule };
}

/** Guidance scale at a point of the generation (progress = fraction of tokens already made). */
export function guidanceAt(opts: SampleOptions, progress: number): number {
  const cfg = opts.cfg ?? 1;
  return opts.cfgSchedule === 'linear' ? 1 + (cfg - 1) * progress : cfg;
}

/** Checks the sampling options every method shares, before any work starts; the error names the option. */
export function checkSampleOptions(opts: SampleOptions): void {
  const iv = opts.cfgInterval;
  if (iv && !(Array.isArray(iv) && iv.length === 2 && iv[0] >= 0 && iv[1] <= 1 && iv[0] < iv[1])) {
    throw new Error(`sample: cfgInterval must be [lo, hi] with 0 <= lo < hi <= 1, got ${JSON.stringify(iv)}`);
  }
  if (opts.timeShift !== undefined && !(opts.timeShift > 0 && Number.isFinite(opts.timeShift))) throw new Error(`sample: timeShift must be a positive number, got ${opts.timeShift}`);
  if (opts.sdeNoise !== undefined && !(opts.sdeNoise >= 0 && Number.isFinite(opts.sdeNoise))) throw new Error(`sample: sdeNoise must be a non-negative number, got ${opts.sdeNoise}`);
}

/**
 * Solves the head's ODE for the tokens of z_NC (rows = samples × layout rows; with guidance the conditional
 * samples then the unconditional ones) and returns their values for the conditional samples. Guidance:
 * v = v_u + w·(v_c − v_u) while t lies in the guidance interval, v_c outside it.
 */
export function sampleHead(head: VelocityHead, z_NC: tf.Tensor2D, tokenDim: number, useCfg: boolean, w: number, opts: SampleOptions, seed: number,
  layout: HeadLayout): { y: tf.Tensor2D; evals: number } {
  const N = useCfg ? z_NC.shape[0] / 2 : z_NC.shape[0];
  const [lo, hi] = opts.cfgInterval ?? [0, 1];
  const steps = opts.odeSteps ?? 32, times = timeGrid(steps, opts.timeShift ?? 1);
  // The head bound to its conditions once per solve (guided rows, and the conditional rows alone outside the
  // guidance interval), made on first use: each ODE step then runs only what depends on (y, t).
  let guided: PreparedVelocity | undefined, plain: PreparedVelocity | undefined, zc: tf.Tensor2D | undefined;
  const keepScope = <T>(f: () => T): T => { tf.engine().startScope(); try { return f(); } finally { tf.engine().endScope(); } };
  try {
    return integrateFlow((y_ND, t) => {
      if (!useCfg || t < lo || t > hi) {
        plain ??= keepScope(() => head.prepare(useCfg ? (zc = tf.keep(tf.slice(z_NC, [0, 0], [N, -1]))) : z_NC, layout, times));
        return plain.velocity(y_ND, t);
      }
      guided ??= keepScope(() => head.prepare(z_NC, layout, times));
      const v = guided.velocity(tf.concat([y_ND, y_ND], 0) as tf.Tensor2D, t);
      return fusedGuidance(v, w) ?? guide(v, w);
    }, [N, tokenDim], { steps, solver: opts.solver ?? 'euler', temperature: opts.temperature ?? 1, seed, timeShift: opts.timeShift, sdeNoise: opts.sdeNoise, onStart: opts.recordStartNoise });
  } finally {
    guided?.dispose();
    plain?.dispose();
    zc?.dispose();
  }
}

/** Classifier-free guidance v_u + (v_c − v_u)·w of v = [v_c; v_u], as plain ops. */
export function guide(v: tf.Tensor2D, w: number): tf.Tensor2D {
  const [vc, vu] = tf.split(v, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
  return tf.add(vu, tf.mul(tf.sub(vc, vu), w)) as tf.Tensor2D;
}

/** The tokens at the given (Morton) indices of every sample of a [B, n, D] canvas, in that order, duplicated for guidance. */
export function canvasGather(canvas: Float32Array, B: number, n: number, D: number, indices: ArrayLike<number>, dup: boolean): tf.Tensor3D {
  const t = indices.length;
  const p = new Float32Array(B * t * D);
  for (let b = 0; b < B; b++) for (let j = 0; j < t; j++) p.set(canvas.subarray((b * n + indices[j]!) * D, (b * n + indices[j]! + 1) * D), (b * t + j) * D);
  const pt = tf.tensor3d(p, [B, t, D]);
  return dup ? tf.concat([pt, pt], 0) : pt;
}

/** Writes `made` tokens per sample (rows of vals, sample-major) into the canvas at the given token indices. */
export function writeTokens(canvas: Float32Array, vals: Float32Array, B: number, n: number, D: number, indices: ArrayLike<number>): void {
  const made = indices.length;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < made; j++) canvas.set(vals.subarray((b * made + j) * D, (b * made + j + 1) * D), (b * n + indices[j]!) * D);
  }
}
