// The native pack's convolution-gradient kernels (the KL tokenizer's training), registered by nativeKernels.ts.
import * as tf from '@tensorflow/tfjs-core';
import { kernelHost } from './kernelHost.js';
import type { NativeAddon } from './nativeAddon.js';

interface ConvAttrs { strides: number | [number, number]; pad: 'same' | 'valid' | number; dataFormat: string; dilations?: number | [number, number] }

/** Checks the convolution is one the native kernels handle and returns its padding (top = left). */
function convPad(a: ConvAttrs, k: number, k2: number, what: string): number {
  const strides = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
  const dil = a.dilations === undefined ? [1, 1] : typeof a.dilations === 'number' ? [a.dilations, a.dilations] : a.dilations;
  if (strides[0] !== 1 || strides[1] !== 1 || dil[0] !== 1 || dil[1] !== 1 || a.dataFormat === 'NCHW' || k !== k2 || (k % 2 === 0 && a.pad === 'same')
    || (typeof a.pad !== 'number' && a.pad !== 'same' && a.pad !== 'valid')) {
    throw new Error(`nestar native ${what} supports stride 1, dilation 1, NHWC, square (odd for 'same') filters and same/valid/numeric padding only`);
  }
  return a.pad === 'valid' ? 0 : a.pad === 'same' ? (k - 1) / 2 : a.pad;
}

/** Conv2DBackpropFilter (missing from tfjs WASM). */
export function makeConv2dFilterGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
    const [k, k2, C, O] = a.filterShape;
    const padTop = convPad(a, k, k2, 'Conv2DBackpropFilter');
    const [N, H, W] = x.shape as [number, number, number, number];
    const [, OH, OW] = dy.shape as [number, number, number, number];
    const be = kernelHost(backend);
    const out = be.makeOutput([k, k, C, O], 'float32');
    addon.conv2dFilterGrad(be.view(x), be.view(dy), be.view(out), N, H, W, C, OH, OW, O, k, padTop, padTop);
    return out;
  };
}

/** Conv2DBackpropInput (tfjs WASM's own is a naive loop). */
export function makeConv2dInputGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    const [k, k2, C, O] = filter.shape as [number, number, number, number];
    const padTop = convPad(a, k, k2, 'Conv2DBackpropInput');
    const [N, H, W] = a.inputShape;
    const [, OH, OW] = dy.shape as [number, number, number, number];
    const be = kernelHost(backend);
    const out = be.makeOutput([N, H, W, C], 'float32');
    addon.conv2dInputGrad(be.view(dy), be.view(filter), be.view(out), N, H, W, C, OH, OW, O, k, padTop, padTop);
    return out;
  };
}
