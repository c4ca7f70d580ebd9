// Module coordination (method.md §4, issue #11): at sampling time every module is conditioned on what
// earlier modules *generated*, while teacher forcing only ever shows it ground truth. Two training-time
// remedies, usable alone or together, and the pieces the exposure-gap diagnostic shares with them:
//  - noisy context: the module's input tokens become (1−s)·x + s·ε with s drawn per sample; s is also
//    given to the backbone, so sampling can say s = 0 (xAR's noisy-context learning);
//  - generated prefix: with probability p per sample, the prefix made by earlier modules is replaced by
//    the model's own estimate of it (a one-step flow estimate, detached: no gradient flows into it).
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../util/configError.js';
import type { HeadLayout, VelocityHead } from '../flow/head.js';
import { integrateFlow } from '../flow/flowMatching.js';
import type { Rng } from '../util/rng.js';

/** One of COORD_MODES. */
export type CoordMode = 'none' | 'noisy-context' | 'generated-prefix' | 'both';
/** The coordination modes between NestAR modules. */
export const COORD_MODES: readonly CoordMode[] = ['none', 'noisy-context', 'generated-prefix', 'both'];

/** How modules are trained to tolerate their own generated context (noise on it, generated prefixes). */
export interface CoordConfig {
  mode: CoordMode;
  /** Noisy context: s = 0 with probability noiseZeroProb, otherwise s ~ U(0, noiseMax). */
  noiseMax: number;
  noiseZeroProb: number;
  /** Generated prefix: probability per sample (after the ramp). */
  prefixProb: number;
  /** The probability ramps linearly from 0 to prefixProb over this many steps (0 = no ramp). */
  prefixRampSteps: number;
}

/** Coordination settings a config file may leave out. */
export const defaultCoordConfig: CoordConfig = { mode: 'none', noiseMax: 0.3, noiseZeroProb: 0.1, prefixProb: 0.5, prefixRampSteps: 0 };

export const usesNoise = (m: CoordMode): boolean => m === 'noisy-context' || m === 'both';
export const usesPrefix = (m: CoordMode): boolean => m === 'generated-prefix' || m === 'both';

/** A coordination section with defaults filled and every field checked. */
export function resolveCoordConfig(input: Partial<CoordConfig> = {}): CoordConfig {
  for (const k of Object.keys(input)) {
    if (!(k in defaultCoordConfig)) throw new ConfigError(`coord.${k} is not a known setting; known: ${Object.keys(defaultCoordConfig).join(', ')}`);
  }
  const c: CoordConfig = { ...defaultCoordConfig, ...input };
  if (!COORD_MODES.includes(c.mode)) throw new ConfigError(`coord.mode must be one of ${COORD_MODES.join(', ')}, got ${JSON.stringify(c.mode)}`);
  const unit = (f: 'noiseMax' | 'noiseZeroProb' | 'prefixProb') => {
    if (typeof c[f] !== 'number' || !(c[f] >= 0 && c[f] <= 1)) throw new ConfigError(`coord.${f} must be in [0, 1], got ${JSON.stringify(c[f])}`);
  };
  unit('noiseMax'); unit('noiseZeroProb'); unit('prefixProb');
  if (!Number.isInteger(c.prefixRampSteps) || c.prefixRampSteps < 0) throw new ConfigError(`coord.prefixRampSteps must be a non-negative integer, got ${JSON.stringify(c.prefixRampSteps)}`);
  return c;
}

/** How the replacement prefix is made: one Euler step from noise (training), or a full ODE solve (diagnostic). */
export type PrefixSource = { kind: 'one-step' } | { kind: 'ode'; steps: number };

/** What one loss evaluation does about coordination. Absent fields mean "off". */
export interface CoordStep {
  noise?: { max: number; zeroProb: number };
  /** Probability that a sample's prefix is the model's own (0 = off, 1 = always). */
  prefixProb?: number;
  prefixSource?: PrefixSource;
  /** Draws for the prefix (default: the loss's own RNG); the diagnostic keeps them apart so t and ε match. */
  prefixRng?: Rng;
  /** Sees every module's input as the backbone gets it (tests). */
  probe?: (moduleIndex: number, input_BTD: tf.Tensor3D, s: Float32Array | null) => void;
}

/** The coordination of one training step (the generated-prefix probability follows its ramp). */
export function coordStepAt(c: CoordConfig, step: number): CoordStep {
  const out: CoordStep = {};
  if (usesNoise(c.mode)) out.noise = { max: c.noiseMax, zeroProb: c.noiseZeroProb };
  if (usesPrefix(c.mode)) out.prefixProb = c.prefixRampSteps > 0 ? c.prefixProb * Math.min(1, step / c.prefixRampSteps) : c.prefixProb;
  return out;
}

export const prefixActive = (c: CoordStep | undefined): boolean => (c?.prefixProb ?? 0) > 0;

/** A copy with no link to the gradient tape: nothing computed from it sends gradients back. */
export function detach<T extends tf.Tensor>(t: T): T {
  return tf.tensor(t.dataSync() as Float32Array, t.shape, 'float32') as T;
}

/** The head's estimate of the tokens for conditions z_NC, detached from the tape. */
export function prefixEstimate(head: VelocityHead, z_NC: tf.Tensor2D, tokenDim: number, source: PrefixSource, seed: number, layout: HeadLayout): tf.Tensor2D {
  return tf.tidy(() => {
    const N = z_NC.shape[0];
    if (source.kind === 'one-step') {
      // One Euler step over the whole path from ε at t = 0: x̂ = ε + v(ε, 0, z), the head's guess of E[x | z].
      const eps = tf.randomNormal([N, tokenDim], 0, 1, 'float32', seed) as tf.Tensor2D;
      return detach(tf.add(eps, head.forward(eps, 0, z_NC, layout)) as tf.Tensor2D);
    }
    const { y } = integrateFlow((y_ND, t) => head.forward(y_ND, t, z_NC, layout), [N, tokenDim],
      { steps: source.steps, solver: 'euler', temperature: 1, seed });
    return detach(y);
  });
}

/**
 * The input a module sees: ground truth, with each sample's prefix swapped for the generated one with
 * probability prefixProb (gen_BTD has the input's shape: generated where a prefix exists, else ground
 * truth), then noised per sample when noisy context is on. Returns the noise levels s (null when off).
 */
export function coordinatedInput(moduleIndex: number, gt_BTD: tf.Tensor3D, gen_BTD: tf.Tensor3D | null, coord: CoordStep | undefined, rng: Rng): { x: tf.Tensor3D; s: Float32Array | null } {
  let x = gt_BTD;
  const [B, T, D] = gt_BTD.shape;
  if (gen_BTD && prefixActive(coord)) {
    const r = coord!.prefixRng ?? rng;
    const use = new Float32Array(B);
    for (let b = 0; b < B; b++) use[b] = r.next() < coord!.prefixProb! ? 1 : 0;
    const u = tf.tensor3d(use, [B, 1, 1]);
    x = tf.add(tf.mul(gen_BTD, u), tf.mul(gt_BTD, tf.sub(1, u))) as tf.Tensor3D;
  }
  let s: Float32Array | null = null;
  if (coord?.noise && T > 0) {
    s = new Float32Array(B);
    for (let b = 0; b < B; b++) s[b] = rng.next() < coord.noise.zeroProb ? 0 : rng.next() * coord.noise.max;
    const sT = tf.tensor3d(s, [B, 1, 1]);
    const eps = tf.randomNormal([B, T, D], 0, 1, 'float32', rng.seed());
    x = tf.add(tf.mul(x, tf.sub(1, sT)), tf.mul(eps, sT)) as tf.Tensor3D;
  }
  coord?.probe?.(moduleIndex, x, s);
  return { x, s };
}

/** Per-module loss weights: 'tokens' = proportional to each module's token count (the per-token mean), 'modules' = 1 each. */
export type ModuleWeights = 'tokens' | 'modules' | number[];

export function moduleWeightValues(w: ModuleWeights | undefined, tokensPerModule: number[], what = 'modules'): number[] {
  const M = tokensPerModule.length, n = tokensPerModule.reduce((a, b) => a + b, 0);
  if (w === undefined || w === 'tokens') return tokensPerModule.map((t) => t / n);
  if (w === 'modules') return new Array(M).fill(1);
  if (!Array.isArray(w) || w.length !== M || w.some((x) => typeof x !== 'number' || !(x >= 0) || !Number.isFinite(x))) {
    throw new ConfigError(`model.lossWeights must be 'tokens', 'modules' or ${M} non-negative numbers (one per ${what.replace(/s$/, '')}), got ${JSON.stringify(w)}`);
  }
  return w;
}
