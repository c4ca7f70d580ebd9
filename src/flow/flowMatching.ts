// Flow matching on the linear path y_t = (1-t)·eps + t·x, target velocity v* = x - eps (method.md §4),
// and the ODE samplers that integrate t from 0 (noise) to 1 (data).
import * as tf from '@tensorflow/tfjs-core';
import type { FlowHead } from './flowHead.js';
import { repeatRows } from '../model/layers.js';
import type { Rng } from '../util/rng.js';

export type TimeSampling = 'uniform' | 'logit-normal';

/**
 * Squared velocity errors [N·repeats, D] of `head` on targets x_ND given conditions z_NC, rows ordered
 * repeat-major. Each token is repeated `repeats` times with independent (t, eps), a cheap way to give the
 * small head more signal per backbone pass (MAR's diffusion_batch_mul).
 */
export function flowMatchingErrors(head: FlowHead, x_ND: tf.Tensor2D, z_NC: tf.Tensor2D, rng: Rng,
  opts: { repeats?: number; time?: TimeSampling } = {}): tf.Tensor2D {
  const r = opts.repeats ?? 1;
  const x = repeatRows(x_ND, r);
  const z = repeatRows(z_NC, r);
  const N = x.shape[0];
  const t = new Float32Array(N);
  for (let i = 0; i < N; i++) t[i] = opts.time === 'logit-normal' ? 1 / (1 + Math.exp(-rng.normal())) : rng.next();
  const eps = tf.randomNormal(x.shape, 0, 1, 'float32', rng.seed());
  const tc = tf.tensor2d(t, [N, 1]);
  const y = tf.add(tf.mul(tf.sub(1, tc), eps), tf.mul(tc, x)) as tf.Tensor2D;
  const v = head.forward(y, t, z);
  return tf.square(tf.sub(v, tf.sub(x, eps))) as tf.Tensor2D;
}

/** Mean squared velocity error (the flow-matching loss) over all tokens and repeats. */
export function flowMatchingLoss(head: FlowHead, x_ND: tf.Tensor2D, z_NC: tf.Tensor2D, rng: Rng,
  opts: { repeats?: number; time?: TimeSampling } = {}): tf.Scalar {
  return tf.mean(flowMatchingErrors(head, x_ND, z_NC, rng, opts));
}

export type OdeSolver = 'euler' | 'heun';

/** Velocity field at (y, t): the caller folds guidance into it. */
export type VelocityFn = (y_ND: tf.Tensor2D, t: number) => tf.Tensor2D;

/**
 * Integrates dy/dt = v(y, t) from t=0 to 1 in `steps` steps, starting at temperature·N(0, I).
 * Returns the final y and the number of velocity evaluations made.
 */
export function integrateFlow(v: VelocityFn, shape: [number, number], opts: { steps: number; solver: OdeSolver; temperature: number; seed: number }): { y: tf.Tensor2D; evals: number } {
  let y = tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', opts.seed), opts.temperature)) as tf.Tensor2D;
  const dt = 1 / opts.steps;
  let evals = 0;
  for (let i = 0; i < opts.steps; i++) {
    const t0 = i * dt;
    // Each step in its own scope: only y survives, so memory stays flat in the number of steps.
    const next = tf.tidy(() => {
      const v0 = v(y, t0);
      if (opts.solver === 'euler') return tf.add(y, tf.mul(v0, dt)) as tf.Tensor2D;
      const yPred = tf.add(y, tf.mul(v0, dt)) as tf.Tensor2D;
      return tf.add(y, tf.mul(tf.add(v0, v(yPred, t0 + dt)), dt / 2)) as tf.Tensor2D;
    });
    evals += opts.solver === 'euler' ? 1 : 2;
    y.dispose();
    y = next;
  }
  return { y, evals };
}
