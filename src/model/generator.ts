// What NestAR and the baselines share: one interface (build from a typed config, loss, sample with the
// same options, parameter count, counted sequential calls) and the sampling pieces every method uses —
// class/guidance handling and the guided ODE solve of the per-token flow head.
import * as tf from '@tensorflow/tfjs-core';
import type { FlowHead } from '../flow/flowHead.js';
import { flowMatchingErrors, integrateFlow, type OdeSolver, type TimeSampling } from '../flow/flowMatching.js';
import type { ParamStore } from './params.js';
import type { CoordStep } from './coord.js';
import { Rng as RngClass, type Rng } from '../util/rng.js';

export type Method = 'nestar' | 'raster' | 'nextscale';
export const METHODS: readonly Method[] = ['nestar', 'raster', 'nextscale'];

export interface LossOptions { headRepeats?: number; time?: TimeSampling; coord?: CoordStep }

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

/** One entry of a loss split: its name, its target tokens, and whether earlier steps made its input. */
export interface LossPart { name: string; tokens: number; hasPrefix: boolean }

export interface SampleProgress { module: number; patch: number; tokensSoFar: number; calls: number; totalCalls: number; canvas: Float32Array }

export interface SampleResult { tokens: Float32Array; backboneCalls: number; headEvals: number }

export interface Generator {
  readonly method: Method;
  readonly params: ParamStore;
  /** Tokens per image (grid side squared). */
  readonly numTokens: number;
  /** Sequential backbone calls one sample() makes (the sampler counts them too). */
  readonly sequentialSteps: number;
  /** The parts loss().perModule reports, in order: NestAR's modules, next-scale's scales, raster's one. */
  readonly lossParts: LossPart[];
  loss(tokens_BnD: tf.Tensor3D, labels: Int32Array, rng: Rng, opts?: LossOptions): { total: tf.Scalar; perModule: tf.Scalar[] };
  sample(opts: SampleOptions): Promise<SampleResult>;
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
  const l = samplingLabels(opts, numClasses);
  return { ...l, onehot: classOneHot(l.labels, numClasses), rng: new RngClass(opts.seed ?? 0) };
}

/**
 * The baselines' loss: one head over every output row (targets [B, L, D], conditions [B, L, C]), split
 * into consecutive groups of rows (raster: one; next-scale: one per scale) that are reported apart and
 * weighted by `weights` in the total.
 */
export function groupedHeadLoss(head: FlowHead, targets: tf.Tensor3D, h: tf.Tensor3D, rng: Rng, opts: LossOptions,
  groups: number[], weights: number[]): { total: tf.Scalar; perModule: tf.Scalar[] } {
  const [, L, D] = targets.shape, C = h.shape[2];
  const err = flowMatchingErrors(head, tf.reshape(targets, [-1, D]) as tf.Tensor2D, tf.reshape(h, [-1, C]) as tf.Tensor2D, rng, { repeats: opts.headRepeats, time: opts.time });
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

/**
 * Solves the head's ODE for N = rows(z)/(useCfg ? 2 : 1) tokens at once; with guidance z holds the
 * conditional rows then the unconditional ones, and v = v_u + w·(v_c − v_u).
 */
export function sampleHead(head: FlowHead, z_NC: tf.Tensor2D, tokenDim: number, useCfg: boolean, w: number, opts: SampleOptions, seed: number): { y: tf.Tensor2D; evals: number } {
  const N = useCfg ? z_NC.shape[0] / 2 : z_NC.shape[0];
  return integrateFlow((y_ND, t) => {
    if (!useCfg) return head.forward(y_ND, t, z_NC);
    const v = head.forward(tf.concat([y_ND, y_ND], 0) as tf.Tensor2D, t, z_NC);
    const [vc, vu] = tf.split(v, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
    return tf.add(vu, tf.mul(tf.sub(vc, vu), w)) as tf.Tensor2D;
  }, [N, tokenDim], { steps: opts.odeSteps ?? 32, solver: opts.solver ?? 'euler', temperature: opts.temperature ?? 1, seed });
}

/** Tokens [from, to) of every sample of a [B, n, D] canvas as a tensor, duplicated for guidance. */
export function canvasSlice(canvas: Float32Array, B: number, n: number, D: number, from: number, to: number, dup: boolean): tf.Tensor3D {
  const t = to - from;
  const p = new Float32Array(B * t * D);
  for (let b = 0; b < B; b++) p.set(canvas.subarray((b * n + from) * D, (b * n + to) * D), b * t * D);
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
