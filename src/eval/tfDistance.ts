// Distance rows on the tfjs backend: |a|² + |b|² − 2·a·bᵀ in chunks of query rows, so the 10k x 10k
// evaluations run as BLAS matmuls (float32; fine for neighbour comparisons at these feature scales).
import * as tf from '@tensorflow/tfjs-core';
import type { DistanceRows, FeatureSet } from './metrics.js';

export function tfDistanceRows(chunk = 512): DistanceRows {
  return (a: FeatureSet, b: FeatureSet, cb) => {
    const bt = tf.tensor2d(Float32Array.from(b.data), [b.count, b.dim]);
    const nb = tf.tidy(() => tf.reshape(tf.sum(tf.mul(bt, bt), 1), [1, b.count]));
    for (let i = 0; i < a.count; i += chunk) {
      const m = Math.min(chunk, a.count - i);
      const d = tf.tidy(() => {
        const at = tf.tensor2d(Float32Array.from(a.data.subarray(i * a.dim, (i + m) * a.dim)), [m, a.dim]);
        const na = tf.sum(tf.mul(at, at), 1, true);
        return tf.relu(tf.sub(tf.add(na, nb), tf.mul(tf.matMul(at, bt, false, true), 2)));
      });
      const vals = d.dataSync() as Float32Array;
      d.dispose();
      for (let r = 0; r < m; r++) cb(i + r, vals.subarray(r * b.count, (r + 1) * b.count));
    }
    tf.dispose([bt, nb]);
  };
}
