// Fused ops that a backend may provide as kernels. Model code calls these helpers; they return undefined
// when the current backend has no such kernel, and the caller falls back to plain tfjs ops (so the same
// model runs in the browser). The gradient is registered once, here, in terms of a second kernel.
import * as tf from '@tensorflow/tfjs-core';

export const GELU_KERNEL = 'NestarGeluTanh';
export const GELU_GRAD_KERNEL = 'NestarGeluTanhGrad';

let gradientRegistered = false;

function ensureGradient(): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: GELU_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: saved[0]! }) as tf.Tensor }),
  });
  gradientRegistered = true;
}

/** tanh-GELU as one kernel, or undefined when the backend has none. */
export function fusedGelu(x: tf.Tensor): tf.Tensor | undefined {
  if (x.dtype !== 'float32' || !tf.getKernel(GELU_KERNEL, tf.getBackend())) return undefined;
  ensureGradient();
  return tf.engine().runKernel(GELU_KERNEL, { x }) as tf.Tensor;
}
