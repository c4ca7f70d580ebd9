// Two row kernels for tensors whose rows come in runs (a patch head's training rows share one flow time per patch):
// NestarExpandRuns (EXPAND_RUNS_KERNEL in fusedOps.ts) repeats row g of x [G, W] lengths[g] times; NestarSumRuns adds
// each run of dy [N, W] back into one row, in row order. Plain loops over the backend's own buffers (kernelHost),
// registered with the native pack: tfjs WASM's Gather took ~35 ms a step of the results config for these row copies.
import type * as tf from '@tensorflow/tfjs-core';
import { kernelHost } from './kernelHost.js';

export function makeExpandRuns(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const lengths = (attrs as unknown as { lengths: number[] }).lengths, W = x.shape[1]!;
    const be = kernelHost(backend);
    const out = be.makeOutput([lengths.reduce((s, l) => s + l, 0), W], 'float32');
    const xv = be.view(x), yv = be.view(out); // views after makeOutput: allocating may move the heap
    let r = 0;
    lengths.forEach((len, g) => {
      const row = xv.subarray(g * W, (g + 1) * W);
      for (let i = 0; i < len; i++, r++) yv.set(row, r * W);
    });
    return out;
  };
}

export function makeSumRuns(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy } = inputs as { dy: tf.TensorInfo };
    const lengths = (attrs as unknown as { lengths: number[] }).lengths, W = dy.shape[1]!;
    const be = kernelHost(backend);
    const out = be.makeOutput([lengths.length, W], 'float32');
    const dv = be.view(dy), yv = be.view(out);
    let r = 0;
    lengths.forEach((len, g) => {
      const acc = yv.subarray(g * W, (g + 1) * W);
      acc.set(dv.subarray(r * W, (r + 1) * W));
      for (let i = 1; i < len; i++) {
        const o = (r + i) * W;
        for (let j = 0; j < W; j++) acc[j]! += dv[o + j]!;
      }
      r += len;
    });
    return out;
  };
}
