// Flow matching on the linear path y_t = (1-t)·eps + t·x, target velocity v* = x - eps (method.md §4),
// and the ODE samplers that integrate t from 0 (noise) to 1 (data).
import * as tf from '@tensorflow/tfjs-core';
import { singleSegment, timeGroups, type HeadLayout, type VelocityHead } from './head.js';
import { repeatRows } from '../model/layers.js';
import type { Rng } from '../util/rng.js';

export type TimeSampling = 'uniform' | 'logit-normal';

export interface FlowLossOptions {
  repeats?: number;
  time?: TimeSampling;
  /** How each sample's rows split into patches (default: one row per sample); a patch head needs it. */
  layout?: HeadLayout;
  /** Sees the (t, eps) drawn for the rows (repeat-major), e.g. to replay them in another implementation. */
  record?: (t: Float32Array, eps: tf.Tensor2D) => void;
}

/**
 * Squared velocity errors [N·repeats, D] of `head` on targets x_ND given conditions z_NC, rows ordered
 * repeat-major. Each token is repeated `repeats` times with independent (t, eps), a cheap way to give the
 * small head more signal per backbone pass (MAR's diffusion_batch_mul); a repeat copies whole samples, so
 * patches stay whole. t is drawn once per token for a per-token head and once per patch for a patch head.
 */
export function flowMatchingErrors(head: VelocityHead, x_ND: tf.Tensor2D, z_NC: tf.Tensor2D, rng: Rng, opts: FlowLossOptions = {}): tf.Tensor2D {
  const r = opts.repeats ?? 1, layout = opts.layout ?? singleSegment(1);
  const x = repeatRows(x_ND, r);
  const z = repeatRows(z_NC, r);
  const N = x.shape[0];
  const t = new Float32Array(N);
  let row = 0;
  for (const g of timeGroups(head, layout, N)) {
    const tv = opts.time === 'logit-normal' ? 1 / (1 + Math.exp(-rng.normal())) : rng.next();
    t.fill(tv, row, row + g);
    row += g;
  }
  const eps = tf.randomNormal(x.shape, 0, 1, 'float32', rng.seed());
  opts.record?.(t, eps as tf.Tensor2D);
  const tc = tf.tensor2d(t, [N, 1]);
  const y = tf.add(tf.mul(tf.sub(1, tc), eps), tf.mul(tc, x)) as tf.Tensor2D;
  const v = head.forward(y, t, z, layout);
  return tf.square(tf.sub(v, tf.sub(x, eps))) as tf.Tensor2D;
}

/** Mean squared velocity error (the flow-matching loss) over all tokens and repeats. */
export function flowMatchingLoss(head: VelocityHead, x_ND: tf.Tensor2D, z_NC: tf.Tensor2D, rng: Rng, opts: FlowLossOptions = {}): tf.Scalar {
  return tf.mean(flowMatchingErrors(head, x_ND, z_NC, rng, opts));
}

/** How a flow head's ODE is integrated: Euler, Heun, or Euler–Maruyama (sde). */
export type OdeSolver = 'euler' | 'heun' | 'sde';
/** Every OdeSolver. */
export const ODE_SOLVERS: readonly OdeSolver[] = ['euler', 'heun', 'sde'];

/** Velocity field at (y, t): the caller folds guidance into it. */
export type VelocityFn = (y_ND: tf.Tensor2D, t: number) => tf.Tensor2D;

/** Steps, solver, time grid and noise of one ODE integration. */
export interface IntegrateOptions {
  steps: number;
  solver: OdeSolver;
  temperature: number;
  seed: number;
  /**
   * Time-grid shift s (SD3's, on the noise level 1−t): t_i = 1 − s·σ/(1 + (s−1)·σ) with σ = 1 − i/steps.
   * 1 (default) is the uniform grid; s > 1 spends more steps near the noise end, s < 1 near the data end.
   */
  timeShift?: number;
  /** Euler–Maruyama noise scale λ of the 'sde' solver (default 1): diffusion g(t)² = λ·(1−t). */
  sdeNoise?: number;
  /** Sees the starting point y_0 (after temperature). */
  onStart?: (y0: tf.Tensor2D) => void;
}

/** The n+1 times of the integration grid, from 0 (noise) to 1 (data). */
export function timeGrid(steps: number, shift = 1): Float64Array {
  if (!(shift > 0) || !Number.isFinite(shift)) throw new Error(`time shift must be a positive number, got ${shift}`);
  const g = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) {
    const sigma = 1 - i / steps;
    g[i] = 1 - (shift * sigma) / (1 + (shift - 1) * sigma);
  }
  return g;
}

/**
 * Integrates dy/dt = v(y, t) from t=0 to 1 in `steps` steps, starting at temperature·N(0, I).
 * 'sde' is the Euler–Maruyama scheme of the SDE with the same marginals on the linear path: with
 * E[ε | y] = y − t·v, the score is −(y − t·v)/(1−t), so drift v − (λ/2)(y − t·v) and diffusion √(λ(1−t));
 * its last step is deterministic. Returns the final y and the number of velocity evaluations made.
 */
export function integrateFlow(v: VelocityFn, shape: [number, number], opts: IntegrateOptions): { y: tf.Tensor2D; evals: number } {
  let y = tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', opts.seed), opts.temperature)) as tf.Tensor2D;
  opts.onStart?.(y);
  const grid = timeGrid(opts.steps, opts.timeShift ?? 1);
  const lambda = opts.sdeNoise ?? 1;
  let evals = 0;
  for (let i = 0; i < opts.steps; i++) {
    const t0 = grid[i]!, dt = grid[i + 1]! - t0;
    // Each step in its own scope: only y survives, so memory stays flat in the number of steps.
    const next = tf.tidy(() => {
      const v0 = v(y, t0);
      if (opts.solver === 'euler') return tf.add(y, tf.mul(v0, dt)) as tf.Tensor2D;
      if (opts.solver === 'sde') {
        const drift = tf.sub(v0, tf.mul(tf.sub(y, tf.mul(v0, t0)), lambda / 2));
        const stepped = tf.add(y, tf.mul(drift, dt));
        if (i === opts.steps - 1) return stepped as tf.Tensor2D;
        const noise = tf.randomNormal(shape, 0, 1, 'float32', (opts.seed * 7919 + i + 1) >>> 0);
        return tf.add(stepped, tf.mul(noise, Math.sqrt(lambda * (1 - t0) * dt))) as tf.Tensor2D;
      }
      const yPred = tf.add(y, tf.mul(v0, dt)) as tf.Tensor2D;
      return tf.add(y, tf.mul(tf.add(v0, v(yPred, t0 + dt)), dt / 2)) as tf.Tensor2D;
    });
    evals += opts.solver === 'heun' ? 2 : 1;
    y.dispose();
    y = next;
  }
  return { y, evals };
}
