// 'same' 2-D convolution as im2col + one matmul. tfjs's WASM backend has no Conv2DBackpropFilter kernel
// (a conv2d filter gradient fails there), and the matmul form runs on the native BLAS kernel anyway.
// Gradients flow through pad/slice/concat/matMul, which every backend has.
import * as tf from '@tensorflow/tfjs-core';

/** x [N, H, W, C] * w [k, k, C, O] (odd k, stride 1, zero 'same' padding) -> [N, H, W, O]. */
export function conv2dSame(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const [N, H, W, C] = x.shape;
  const [k, k2, C2, O] = w.shape;
  if (k !== k2 || k % 2 !== 1 || C2 !== C) throw new Error(`conv2dSame: filter [${w.shape}] does not fit input [${x.shape}] (odd square kernel, ${C} input channels)`);
  const p = (k - 1) / 2;
  const xp = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]);
  const cols: tf.Tensor[] = [];
  for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) cols.push(tf.slice(xp, [0, dy, dx, 0], [N, H, W, C]));
  // Column order (dy, dx, c) matches w's [k, k, C] flattening.
  const patches = tf.reshape(tf.concat(cols, 3), [N * H * W, k * k * C]);
  return tf.reshape(tf.matMul(patches as tf.Tensor2D, tf.reshape(w, [k * k * C, O]) as tf.Tensor2D), [N, H, W, O]) as tf.Tensor4D;
}

/** tfjs conv2d where the backend can differentiate it (native pack, CPU), else the im2col form (slow on WASM). */
export function conv2dAuto(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  return tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) ? tf.conv2d(x, w, 1, 'same') : conv2dSame(x, w);
}
