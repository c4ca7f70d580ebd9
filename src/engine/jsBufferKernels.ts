// Kernels for the JS-buffer backend (kernelHost.ts) where tfjs's CPU kernels are slow for nestar's shapes:
// its broadcasting binary ops compute a multi-index per element, its non-contiguous Slice and PadV2 go element
// by element through a TensorBuffer, and its Sum over leading axes transposes first. Here each is one strided
// walk over dimensions merged as far as the operands' layouts allow, so the innermost loop is long: binary ops
// and copies in the native pack (native/strided.c; scalar JS loops ran ~10x slower than WASM's SIMD), sums in
// JS with double accumulators. Anything outside float32 goes to the CPU backend's own kernel.
import * as tf from '@tensorflow/tfjs-core';
import { kernelHost, type KernelHost } from './kernelHost.js';

/** The part of the native addon these kernels use (native/strided.c). */
export interface StridedAddon {
  binary(op: number, y: Float32Array, a: Float32Array, b: Float32Array, meta: Float64Array): void;
  copy(src: Float32Array, dst: Float32Array, meta: Float64Array): void;
}

/** Strides of `shape` broadcast against `out` (aligned right; 0 where the operand is broadcast). */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const s = new Array<number>(out.length).fill(0);
  let st = 1;
  for (let i = shape.length - 1, d = out.length - 1; i >= 0; i--, d--) {
    if (shape[i] !== 1) s[d] = st;
    st *= shape[i]!;
  }
  return s;
}

/** Row-major strides of a contiguous array of `shape`, the last one included. */
const contiguousStrides = (shape: readonly number[]) => [...tf.util.computeStrides([...shape]), 1];

/** Merges adjacent dimensions that every operand walks contiguously (stride[d-1] = stride[d]·dim[d]). */
function mergeDims(dims: number[], strides: number[][]): void {
  for (let d = dims.length - 1; d > 0; d--) {
    if (strides.every((s) => s[d - 1] === s[d]! * dims[d]!)) {
      dims[d - 1]! *= dims[d]!;
      dims.splice(d, 1);
      for (const s of strides) s.splice(d - 1, 1);
    }
  }
}

const OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;
type BinaryName = keyof typeof OPS;

function binaryKernel(addon: StridedAddon, name: BinaryName, fallback: tf.KernelFunc): tf.KernelFunc {
  const op = OPS[name];
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const shape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const be = kernelHost(args.backend);
    const out = be.makeOutput(shape, 'float32');
    const y = be.view(out);
    if (y.length === 0) return out;
    const dims = shape.length ? [...shape] : [1];
    const sy = contiguousStrides(dims), sa = broadcastStrides(a.shape, dims), sb = broadcastStrides(b.shape, dims);
    mergeDims(dims, [sy, sa, sb]);
    addon.binary(op, y, be.view(a), be.view(b), Float64Array.from([dims.length, ...dims, ...sy, ...sa, ...sb]));
    return out;
  };
}

/** Copies the box [begin, begin + size) of x into a fresh output. */
function sliceCopy(addon: StridedAddon, be: KernelHost, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = be.makeOutput([...size], 'float32');
  const y = be.view(out);
  if (y.length === 0) return out;
  const full = contiguousStrides(x.shape);
  const dims = size.length ? [...size] : [1], sx = size.length ? full : [1], sy = contiguousStrides(dims);
  let base = 0;
  for (let d = 0; d < begin.length; d++) base += begin[d]! * full[d]!;
  mergeDims(dims, [sy, sx]);
  addon.copy(be.view(x), y, Float64Array.from([dims.length, 0, base, ...dims, ...sy, ...sx]));
  return out;
}

/** PadV2: the constant everywhere, then x copied into the interior. */
function padKernel(addon: StridedAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { paddings, constantValue } = args.attrs as unknown as { paddings: Array<[number, number]>; constantValue: number };
    if (x.dtype !== 'float32' || x.shape.length === 0) return fallback(args);
    const shape = x.shape.map((s, d) => s + paddings[d]![0] + paddings[d]![1]);
    const be = kernelHost(args.backend);
    const out = be.makeOutput(shape, 'float32');
    const y = be.view(out).fill(constantValue);
    if (tf.util.sizeFromShape(x.shape) === 0) return out;
    const sy = contiguousStrides(shape), dims = [...x.shape], sx = contiguousStrides(dims);
    let base = 0;
    for (let d = 0; d < dims.length; d++) base += paddings[d]![0] * sy[d]!;
    mergeDims(dims, [sy, sx]);
    addon.copy(be.view(x), y, Float64Array.from([dims.length, base, 0, ...dims, ...sy, ...sx]));
    return out;
  };
}

function sliceKernel(addon: StridedAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return fallback(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, b!, s!);
    return sliceCopy(addon, kernelHost(args.backend), x, b!, s!);
  };
}

function splitVKernel(addon: StridedAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return fallback(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const be = kernelHost(args.backend), begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const piece = sliceCopy(addon, be, x, [...begin], size);
      begin[ax]! += s;
      return piece;
    });
  };
}

/** Sum over leading or trailing axes in one pass (double accumulators); other axis sets use the CPU kernel. */
function sumKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const r = x.shape.length, k = axes.length;
    const leading = axes.every((a, i) => a === i), trailing = axes.every((a, i) => a === r - k + i);
    if (x.dtype !== 'float32' || k === 0 || (!leading && !trailing)) return fallback(args);
    const kept = x.shape.filter((_, d) => !axes.includes(d));
    const shape = keepDims ? x.shape.map((s, d) => (axes.includes(d) ? 1 : s)) : kept;
    const be = kernelHost(args.backend);
    const out = be.makeOutput(shape, 'float32');
    const y = be.view(out), xv = be.view(x), cols = tf.util.sizeFromShape(kept);
    const rows = cols === 0 ? 0 : xv.length / cols;
    if (leading) {
      const acc = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0, o = i * cols; j < cols; j++) acc[j]! += xv[o + j]!;
      y.set(acc);
    } else {
      const inner = xv.length === 0 ? 0 : xv.length / cols;
      for (let i = 0; i < cols; i++) {
        let s = 0;
        for (let j = 0, o = i * inner; j < inner; j++) s += xv[o + j]!;
        y[i] = s;
      }
    }
    return out;
  };
}

/** Concat: each input copied into its box of the output along the axis (one strided copy per input). */
function concatKernel(addon: StridedAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const xs = args.inputs as unknown as tf.TensorInfo[];
    if (!xs.length || xs.some((x) => x.dtype !== 'float32' || x.shape.length !== xs[0]!.shape.length)) return fallback(args);
    const ax = tf.util.parseAxisParam((args.attrs as unknown as { axis: number }).axis, xs[0]!.shape)[0]!;
    const shape = tf.backend_util.computeOutShape(xs.map((x) => x.shape), ax);
    const be = kernelHost(args.backend);
    const out = be.makeOutput(shape, 'float32');
    const sy = contiguousStrides(shape);
    let off = 0;
    for (const x of xs) {
      if (tf.util.sizeFromShape(x.shape) > 0) {
        const dims = [...x.shape], sx = contiguousStrides(dims), so = [...sy];
        mergeDims(dims, [so, sx]);
        addon.copy(be.view(x), be.view(out), Float64Array.from([dims.length, off * sy[ax]!, 0, ...dims, ...so, ...sx]));
      }
      off += x.shape[ax]!;
    }
    return out;
  };
}

/** Slice, SplitV and Concat as strided native copies, each over a fallback kernel for other dtypes. The native path
 * registers them over tfjs WASM's own too: its Slice of a non-contiguous box took ~2 ms for 256×256 floats, and
 * splitting a [256, 768] weight gradient in three (the stacked q, k, v) ~7 ms. */
export function stridedCopyKernels(addon: StridedAddon): Record<string, (fallback: tf.KernelFunc) => tf.KernelFunc> {
  return { Slice: (f) => sliceKernel(addon, f), SplitV: (f) => splitVKernel(addon, f), Concat: (f) => concatKernel(addon, f) };
}

/** Registers the kernels above over the CPU ones on `backendName`. */
export function registerJsBufferKernels(backendName: string, addon: StridedAddon): void {
  const wrap: Record<string, (fallback: tf.KernelFunc) => tf.KernelFunc> = {
    ...stridedCopyKernels(addon), PadV2: (f) => padKernel(addon, f), Sum: sumKernel,
  };
  for (const name of Object.keys(OPS) as BinaryName[]) wrap[name] = (f) => binaryKernel(addon, name, f);
  for (const [kernelName, make] of Object.entries(wrap)) {
    const original = tf.getKernel(kernelName, 'cpu');
    if (!original) throw new Error(`the CPU backend has no ${kernelName} kernel to wrap`);
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: make(original.kernelFunc) });
  }
}
