// Multi-head attention on row layouts, shared by the backbone transformer and the patch flow head:
// q [B, Lq, C], k and v [B, Lk, C] with head h in columns h·dh.. (dh = C / heads), an optional additive mask
// [Lq, Lk]. One fused kernel (forward and gradient) where the engine has one; otherwise the plain ops below,
// which split the heads with transposes (the browser and WASM paths).
import * as tf from '@tensorflow/tfjs-core';
import { fusedAttention, fusedSelfAttention, hasFusedSelfAttention } from '../engine/fusedOps.js';
import { applyLinear, type Linear } from './layers.js';

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

/** The same on rows [B·L, C] of `groups` = B equal groups (self-attention within each group), [B·L, C]. */
export function groupedSelfAttention(q_NC: tf.Tensor2D, k_NC: tf.Tensor2D, v_NC: tf.Tensor2D, mask_LL: tf.Tensor2D | null, heads: number, groups: number): tf.Tensor2D {
  const [N, C] = q_NC.shape;
  const fused = fusedAttention(q_NC, k_NC, v_NC, mask_LL, heads, 1 / Math.sqrt(C / heads), groups);
  if (fused) return fused;
  const g = (x: tf.Tensor2D) => tf.reshape(x, [groups, N / groups, C]) as tf.Tensor3D;
  return tf.reshape(multiHeadAttention(g(q_NC), g(k_NC), g(v_NC), mask_LL, heads), [N, C]);
}

/**
 * Self-attention within `groups` equal groups of x's rows [B·L, C] with its q, k, v projections, [B·L, C]. Where the
 * engine has the fused kernel, the three projections are one matmul of their weights side by side ([B·L, 3C]: one
 * wider product and one input gradient instead of three, and no gradient sums) and attention reads their column
 * blocks; elsewhere three linears and groupedSelfAttention. The parameters stay three layers either way.
 */
export function projectedSelfAttention(x_NC: tf.Tensor2D, q: Linear, k: Linear, v: Linear, mask_LL: tf.Tensor2D | null, heads: number, groups: number): tf.Tensor2D {
  if (q.b && k.b && v.b && hasFusedSelfAttention(x_NC, mask_LL)) {
    const qkv = applyLinear({ w: tf.concat([q.w, k.w, v.w], 1) as tf.Variable, b: tf.concat([q.b, k.b, v.b]) as tf.Variable }, x_NC) as tf.Tensor2D;
    return fusedSelfAttention(qkv, mask_LL, heads, groups)!;
  }
  const p = (l: Linear) => applyLinear(l, x_NC) as tf.Tensor2D;
  return groupedSelfAttention(p(q), p(k), p(v), mask_LL, heads, groups);
}
