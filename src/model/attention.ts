// Multi-head attention on row layouts, shared by the backbone transformer and the patch flow head:
// q [B, Lq, C], k and v [B, Lk, C] with head h in columns h·dh.. (dh = C / heads), an optional additive mask
// [Lq, Lk]. One fused kernel (forward and gradient) where the engine has one; otherwise the plain ops below,
// which split the heads with transposes (the browser and WASM paths).
import * as tf from '@tensorflow/tfjs-core';
import { fusedAttention } from '../engine/fusedOps.js';

/** softmax(q·kᵀ/√dh + mask)·v per head, [B, Lq, C]. */
export function multiHeadAttention(q_BLC: tf.Tensor3D, k_BSC: tf.Tensor3D, v_BSC: tf.Tensor3D, mask_LS: tf.Tensor2D | null, heads: number): tf.Tensor3D {
  const [B, Lq, C] = q_BLC.shape, Lk = k_BSC.shape[1], dh = C / heads, scale = 1 / Math.sqrt(dh);
  const fused = fusedAttention(q_BLC, k_BSC, v_BSC, mask_LS, heads, scale);
  if (fused) return fused;
  const split = (t: tf.Tensor3D, L: number) => tf.transpose(tf.reshape(t, [B, L, heads, dh]), [0, 2, 1, 3]);
  let scores = tf.mul(tf.matMul(split(q_BLC, Lq), split(k_BSC, Lk), false, true), scale);
  if (mask_LS) scores = tf.add(scores, mask_LS);
  const att = tf.matMul(tf.softmax(scores), split(v_BSC, Lk));
  return tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B, Lq, C]);
}
