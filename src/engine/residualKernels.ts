// The native pack's residual-stream kernels (src/engine/residualOps.ts), registered by nativeKernels.ts.
import * as tf from '@tensorflow/tfjs-core';
import { kernelHost } from './kernelHost.js';
import type { NativeAddon } from './nativeAddon.js';

/** [M, K, N] of x [M, K] · w [K, N], or an error naming both inner sizes. */
function linearDims(x: tf.TensorInfo, w: tf.TensorInfo): [number, number, number] {
  const [M, K] = x.shape as [number, number];
  if (w.shape[0] !== K) throw new Error(`linear: inner dimensions ${K} and ${w.shape[0]} differ`);
  return [M, K, w.shape[1]!];
}

/** NestarLinear: x [M, K] · w [K, N] + b [N], plus r [M, N] when given (r + x·w + b). */
export function makeLinear(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { x, w, b, r } = inputs as Record<'x' | 'w' | 'b', tf.TensorInfo> & { r?: tf.TensorInfo };
    const [M, K, N] = linearDims(x, w);
    const be = kernelHost(backend);
    const out = be.makeOutput([M, N], 'float32');
    if (r) addon.linearResidual(be.view(x), be.view(w), be.view(b), be.view(r), be.view(out), M, K, N);
    else addon.linear(be.view(x), be.view(w), be.view(b), be.view(out), M, K, N);
    return out;
  };
}

/** NestarLinearResidualNorm: [h, n], h = r + x·w + b, n = LayerNorm(h)·g + β. */
export function makeLinearResidualNorm(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, w, b, r, g, beta } = inputs as Record<'x' | 'w' | 'b' | 'r' | 'g' | 'beta', tf.TensorInfo>;
    const [M, K, N] = linearDims(x, w);
    const be = kernelHost(backend);
    const h = be.makeOutput([M, N], 'float32'), n = be.makeOutput([M, N], 'float32');
    const hv = be.view(h);
    addon.linearResidual(be.view(x), be.view(w), be.view(b), be.view(r), hv, M, K, N);
    addon.normScaleShift(hv, be.view(g), be.view(beta), be.view(n), M, N, 0, (attrs as { eps: number }).eps);
    return [h, n];
  };
}

/** NestarNormResidualGrad: [s, dg, dβ, Σ rows of s], s = dh + LayerNorm's input gradient for dy (x its input, g its gain). */
export function makeNormResidualGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, x, g, dh } = inputs as Record<'dy' | 'x' | 'g' | 'dh', tf.TensorInfo>;
    const [N, C] = x.shape as [number, number];
    const be = kernelHost(backend);
    const outs = [x.shape, [C], [C], [C]].map((s) => be.makeOutput([...s], 'float32'));
    const [s, dg, db, dS] = outs.map((o) => be.view(o));
    addon.normResidualGrad(be.view(dy), be.view(x), be.view(g), be.view(dh), s!, dg!, db!, dS!, N, C, 0, (attrs as { eps: number }).eps);
    return outs;
  };
}
