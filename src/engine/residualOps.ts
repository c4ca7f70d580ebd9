// Fused ops of a pre-LN transformer's residual stream h: a branch's output layer added to the stream (h + x·w + b)
// and, where the stream then goes into the next LayerNorm, that norm too. Fused, the stream's adds lose their own
// passes over h, and its gradient needs no add either: tfjs sums the gradients of a tensor used twice (by the norm
// and by the next residual add) with an Add kernel a block, while here the norm's gradient kernel adds the stream's.
// Model code calls these through src/model/layers.ts (residualLinear, residualLinearNorm), which falls back to plain
// ops where the backend has no kernels (the browser).
import * as tf from '@tensorflow/tfjs-core';
import { engineFlags } from './flags.js';
import { hasKernel, LINEAR_KERNEL, registerGradientOnce } from './fusedOps.js';

/** [h, n] = (r + x·w + b, LayerNorm(h)·g + β) in one kernel (fusedLinearResidualNorm). */
export const LINEAR_RESIDUAL_NORM_KERNEL = 'NestarLinearResidualNorm';
/** Its gradient's norm part: [dh + LayerNorm's input gradient, dg, dβ, the column sums of the first]. */
export const NORM_RESIDUAL_GRAD_KERNEL = 'NestarNormResidualGrad';

/** Whether r + x·w + b runs as one kernel here (NestarLinear with a residual input r). */
export function hasFusedLinearResidual(x: tf.Tensor, r: tf.Tensor): boolean {
  return engineFlags.fusedLinear && hasKernel(LINEAR_KERNEL, x, r);
}

/** r + x·w + b for x [M, K], w [K, N], b [N], r [M, N] as one kernel (forward only: the caller owns the gradient). */
export function fusedLinearResidual(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, r: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(LINEAR_KERNEL, { x, w, b, r }) as tf.Tensor2D;
}

// The gradient of [h, n] = (r + x·w + b, LayerNorm(h)·g + β) from dh and dn: s = dh + the norm's gradient (one
// kernel, which also sums s's columns: b's gradient), then x's and w's gradients from s, and r's is s.
const LINEAR_RESIDUAL_NORM_GRADIENT: tf.GradConfig = {
  kernelName: LINEAR_RESIDUAL_NORM_KERNEL,
  inputsToSave: ['x', 'w', 'g'],
  outputsToSave: [true, false],
  gradFunc: (dys, saved, attrs) => {
    const [dh, dn] = dys as tf.Tensor[];
    const [x, w, g, h] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
    const [s, dg, dbeta, db] = tf.engine().runKernel(NORM_RESIDUAL_GRAD_KERNEL, { dy: dn!, x: h, g, dh: dh! }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    const dx = tf.matMul(s as tf.Tensor2D, w, false, true), dw = tf.matMul(x, s as tf.Tensor2D, true, false);
    return { x: () => dx, w: () => dw, b: () => db!, r: () => s!, g: () => dg!, beta: () => dbeta! };
  },
};

/**
 * [h, n]: h = r + x·w + b (x [M, K], w [K, N], b [N], r [M, N]) and n = LayerNorm(h)·g + β (g, β [N]), as one kernel
 * with its gradient, or undefined when the backend has none.
 */
export function fusedLinearResidualNorm(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, r: tf.Tensor2D, g: tf.Tensor1D, beta: tf.Tensor1D,
  eps: number): [tf.Tensor2D, tf.Tensor2D] | undefined {
  if (!engineFlags.fusedLinear || !engineFlags.fusedNorm || !hasKernel(LINEAR_RESIDUAL_NORM_KERNEL, x, w, b, r, g, beta)) return undefined;
  registerGradientOnce(LINEAR_RESIDUAL_NORM_GRADIENT);
  return tf.engine().runKernel(LINEAR_RESIDUAL_NORM_KERNEL, { x, w, b, r, g, beta }, { eps }) as unknown as [tf.Tensor2D, tf.Tensor2D];
}
