// Registers the native kernel pack's kernels with the tfjs WASM backend (or the JS-buffer backend, see
// kernelHost.ts). The kernels read and write tensors in place (no copies); model code stays plain tfjs and is
// unaware of them.
import * as tf from '@tensorflow/tfjs-core';
import { floatBits, kernelHost, NO_MASK } from './kernelHost.js';
import type { NativeAddon } from './nativeAddon.js';
import { makeConv2dFilterGrad, makeConv2dInputGrad } from './convKernels.js';
import { makeExpandRuns, makeSumRuns } from './runKernels.js';
import { makeLinear, makeLinearResidualNorm, makeNormResidualGrad } from './residualKernels.js';
import { LINEAR_RESIDUAL_NORM_KERNEL, NORM_RESIDUAL_GRAD_KERNEL } from './residualOps.js';
import { makeAttention, makeAttentionGrad, makeAttentionQkv, makeSelfAttention, makeSelfAttentionGrad } from './attentionKernels.js';
import { EXPAND_RUNS_KERNEL, SUM_RUNS_KERNEL, ADAMW_KERNEL, ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, ATTENTION_QKV_KERNEL, SELF_ATTENTION_GRAD_KERNEL, SELF_ATTENTION_KERNEL, EMA_KERNEL, GATED_ADD_GRAD_KERNEL, GATED_ADD_KERNEL, GELU_GRAD_KERNEL, GELU_KERNEL, GUIDANCE_KERNEL,
  GATED_ADD_COLS_KERNEL, LINEAR_KERNEL, PATCH_HEAD_STEP_KERNEL, TOKEN_HEAD_STEP_KERNEL, NORM_COLS_KERNEL, NORM_GRAD_KERNEL, NORM_KERNEL, SILU_GRAD_KERNEL, SILU_KERNEL, SUM_ROWS_KERNEL, SUM_SQUARES_KERNEL } from './fusedOps.js';

export { loadNativeAddon, nativeAddonPath, type NativeAddon } from './nativeAddon.js';

/** The BatchMatMul kernel on OpenBLAS, with batch broadcasting and both transposes. */
export function makeBatchMatMul(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('nestar native BatchMatMul: float32 only');
    const be = kernelHost(backend);
    const ra = a.shape.length, rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const kA = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const kB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (kA !== kB) throw new Error(`matMul: inner dimensions ${kA} and ${kB} differ (shapes ${a.shape} and ${b.shape})`);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    const batch = tf.util.sizeFromShape(outer);
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) {
      throw new Error(`nestar native BatchMatMul: batch broadcast ${a.shape} x ${b.shape} is not supported`);
    }
    const out = be.makeOutput([...outer, m, n], 'float32');
    // Views are taken after makeOutput: allocating may grow (and move) the heap.
    const av = be.view(a), bv = be.view(b), cv = be.view(out);
    if (m === 0 || n === 0) return out;
    if (kA === 0) { cv.fill(0); return out; }
    if (batchB === 1 && batchA === batch && !transposeA) {
      // Fold the batch into rows: one big GEMM is much faster than many small ones.
      addon.sgemm(av, bv, cv, 1, batch * m, n, kA, false, transposeB, 0, 0, 0);
    } else {
      addon.sgemm(av, bv, cv, batch, m, n, kA, transposeA, transposeB,
        batchA === 1 ? 0 : m * kA, batchB === 1 ? 0 : kA * n, m * n);
    }
    return out;
  };
}

/** A float32 elementwise kernel: out = f(x), computed by the addon into a fresh output. */
function unaryKernel(name: string, f: (x: Float32Array, y: Float32Array) => void): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') throw new Error(`nestar native ${name}: float32 only`);
    const be = kernelHost(backend);
    const out = be.makeOutput([...x.shape], 'float32');
    f(be.view(x), be.view(out));
    return out;
  };
}

/** Elementwise tanh (the hot op of tanh-GELU); its gradient stays tfjs's (dy·(1-y²)). */
export const makeTanh = (addon: NativeAddon) => unaryKernel('Tanh', (x, y) => addon.tanh(x, y));

/** Fused tanh-GELU (kernel GELU_KERNEL, see src/engine/fusedOps.ts) and its gradient. */
const makeGelu = (addon: NativeAddon) => unaryKernel('GELU', (x, y) => addon.geluFwd(x, y));

/** A float32 kernel dx = f'(x)·dy (the gradients of GELU and SiLU). */
function unaryGradKernel(f: (x: Float32Array, dy: Float32Array, dx: Float32Array) => void): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const be = kernelHost(backend);
    const out = be.makeOutput([...x.shape], 'float32');
    f(be.view(x), be.view(dy), be.view(out));
    return out;
  };
}

const makeGeluGrad = (addon: NativeAddon) => unaryGradKernel((x, dy, dx) => addon.geluBwd(x, dy, dx));
const makeSilu = (addon: NativeAddon) => unaryKernel('SiLU', (x, y) => addon.siluFwd(x, y));
const makeSiluGrad = (addon: NativeAddon) => unaryGradKernel((x, dy, dx) => addon.siluBwd(x, dy, dx));

/** NestarGatedAdd: h + g·a; NestarGatedAddGrad: [dg, da]. */
function makeGatedAdd(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { h, g, a } = inputs as Record<'h' | 'g' | 'a', tf.TensorInfo>;
    const be = kernelHost(backend);
    const out = be.makeOutput([...h.shape], 'float32');
    addon.gatedAdd(be.view(h), be.view(g), be.view(a), be.view(out));
    return out;
  };
}

function makeGatedAddGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { dy, g, a } = inputs as Record<'dy' | 'g' | 'a', tf.TensorInfo>;
    const be = kernelHost(backend);
    const outs = [g, a].map((t) => be.makeOutput([...t.shape], 'float32'));
    addon.gatedAddGrad(be.view(dy), be.view(g), be.view(a), be.view(outs[0]!), be.view(outs[1]!));
    return outs;
  };
}

/** NestarGuidance: v [2N, D] = [v_c; v_u] → v_u + (v_c − v_u)·w. */
function makeGuidance(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { v } = inputs as { v: tf.TensorInfo };
    const be = kernelHost(backend);
    const out = be.makeOutput([v.shape[0]! / 2, ...v.shape.slice(1)], 'float32');
    addon.guidance(be.view(v), be.view(out), floatBits((attrs as { w: number }).w));
    return out;
  };
}

/** NestarAdamW (src/engine/fusedOps.ts): one parameter's AdamW step in one pass, fresh outputs [p', m', v']. */
function makeAdamW(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { p, m, v, g } = inputs as Record<'p' | 'm' | 'v' | 'g', tf.TensorInfo>;
    const be = kernelHost(backend);
    const outs = [p, m, v].map((x) => be.makeOutput([...x.shape], 'float32'));
    const [po, mo, vo] = outs.map((o) => be.view(o));
    addon.adamw(be.view(p), be.view(m), be.view(v), be.view(g), po!, mo!, vo!,
      Float32Array.from((attrs as { scalars: number[] }).scalars));
    return outs;
  };
}

/** NestarEma: s·d + p·(1−d) in one pass. */
function makeEma(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { s, p } = inputs as Record<'s' | 'p', tf.TensorInfo>;
    const be = kernelHost(backend);
    const out = be.makeOutput([...s.shape], 'float32');
    addon.ema(be.view(s), be.view(p), be.view(out), Float32Array.from((attrs as { scalars: number[] }).scalars));
    return out;
  };
}

/** NestarSumSquares: [Σ x0², Σ x1², …] over inputs x0, x1, … in one call. */
function makeSumSquares(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const xs = Object.keys(inputs).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))).map((k) => (inputs as Record<string, tf.TensorInfo>)[k]!);
    const be = kernelHost(backend);
    const out = be.makeOutput([xs.length], 'float32');
    addon.sumSquares(be.view(out), xs.map((x) => be.view(x)));
    return out;
  };
}

interface NormAttrs { eps: number; perRow: boolean; onePlus?: boolean }
const normFlags = (a: NormAttrs) => (a.perRow ? 1 : 0) | (a.onePlus ? 2 : 0);

/** NestarNormScaleShift (src/engine/fusedOps.ts): row-wise LayerNorm then ·g + b, x [N, C]. */
function makeNormScaleShift(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, g, b } = inputs as Record<'x' | 'g' | 'b', tf.TensorInfo>;
    const a = attrs as unknown as NormAttrs;
    const be = kernelHost(backend);
    const out = be.makeOutput([...x.shape], 'float32');
    addon.normScaleShift(be.view(x), be.view(g), be.view(b), be.view(out), x.shape[0]!, x.shape[1]!, normFlags(a), a.eps);
    return out;
  };
}

/** NestarNormScaleShiftGrad: [dx, dg, db] of the kernel above. */
function makeNormScaleShiftGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, x, g } = inputs as Record<'dy' | 'x' | 'g', tf.TensorInfo>;
    const a = attrs as unknown as NormAttrs;
    const be = kernelHost(backend);
    const outs = [x, g, g].map((t) => be.makeOutput([...t.shape], 'float32'));
    const [dx, dg, db] = outs.map((o) => be.view(o));
    addon.normScaleShiftGrad(be.view(dy), be.view(x), be.view(g), dx!, dg!, db!, x.shape[0]!, x.shape[1]!, normFlags(a), a.eps);
    return outs;
  };
}

/** NestarSumRows: x [N, C] → its column sums [C]. */
function makeSumRows(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const [N, C] = x.shape as [number, number];
    const be = kernelHost(backend);
    const out = be.makeOutput([C], 'float32');
    addon.sumRows(be.view(x), be.view(out), N, C);
    return out;
  };
}

/** Sum over leading axes with at least one axis kept (a broadcast add's gradient: tfjs WASM transposes first) as the
 * native column sums of x viewed as [rows, cols]; every other Sum goes to the backend's own kernel. */
export function leadingSumKernel(addon: NativeAddon, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    if (x.dtype !== 'float32' || axes.length === 0 || axes.length >= x.shape.length || !axes.every((a, i) => a === i)) return fallback(args);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length)), kept = x.shape.slice(axes.length);
    if (rows === 0) return fallback(args);
    const be = kernelHost(args.backend);
    const out = be.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    addon.sumRows(be.view(x), be.view(out), rows, tf.util.sizeFromShape(kept));
    return out;
  };
}

/** NestarNormCols and NestarGatedAddCols: AdaLN and its gate reading the modulations from column blocks of M [N, ld]. */
function makeNormCols(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, M } = inputs as Record<'x' | 'M', tf.TensorInfo>;
    const a = attrs as unknown as { gOff: number; bOff: number; eps: number };
    const be = kernelHost(backend);
    const out = be.makeOutput([...x.shape], 'float32');
    addon.normCols(be.view(x), be.view(M), be.view(out), x.shape[0]!, x.shape[1]!, M.shape[1]!, a.gOff, a.bOff, floatBits(a.eps));
    return out;
  };
}

function makeGatedAddCols(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { h, M, a } = inputs as Record<'h' | 'M' | 'a', tf.TensorInfo>;
    const be = kernelHost(backend);
    const out = be.makeOutput([...h.shape], 'float32');
    addon.gatedAddCols(be.view(h), be.view(M), be.view(a), be.view(out), h.shape[0]!, h.shape[1]!, M.shape[1]!,
      (attrs as { off: number }).off);
    return out;
  };
}

/** NestarPatchHeadStep / NestarTokenHeadStep (src/engine/fusedOps.ts): a bound flow head's velocity in one call. Inputs
 * x0..x9 (x0..x8 for the token head), the patch head's optional mask, and k0, k1, … its blocks' weights; the output goes
 * after them (the addon's argument order). */
function makeHeadStep(step: (arrays: Float32Array[], meta: Float64Array) => void, patch: boolean): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, tf.TensorInfo>, be = kernelHost(backend), meta = (attrs as { meta: number[] }).meta;
    const out = be.makeOutput([meta[0]!, meta[1]!], 'float32');
    const blocks = Object.keys(ins).filter((k) => k.startsWith('k')).sort((p, q) => Number(p.slice(1)) - Number(q.slice(1)));
    const head = Array.from({ length: patch ? 10 : 9 }, (_, i) => be.view(ins[`x${i}`]!));
    step([...head, ...(patch ? [ins.mask ? be.view(ins.mask) : NO_MASK] : []), be.view(out), ...blocks.map((k) => be.view(ins[k]!))], Float64Array.from(meta));
    return out;
  };
}

/** The kernels the pack provides, by tfjs kernel name. */
export const NATIVE_KERNELS: Record<string, (addon: NativeAddon) => tf.KernelFunc> = {
  BatchMatMul: makeBatchMatMul,
  Tanh: makeTanh,
  [GELU_KERNEL]: makeGelu,
  [GELU_GRAD_KERNEL]: makeGeluGrad,
  Conv2DBackpropFilter: makeConv2dFilterGrad,
  Conv2DBackpropInput: makeConv2dInputGrad,
  [ADAMW_KERNEL]: makeAdamW,
  [EMA_KERNEL]: makeEma,
  [SUM_SQUARES_KERNEL]: makeSumSquares,
  [NORM_KERNEL]: makeNormScaleShift,
  [NORM_GRAD_KERNEL]: makeNormScaleShiftGrad,
  [LINEAR_KERNEL]: makeLinear,
  [LINEAR_RESIDUAL_NORM_KERNEL]: makeLinearResidualNorm,
  [NORM_RESIDUAL_GRAD_KERNEL]: makeNormResidualGrad,
  [SUM_ROWS_KERNEL]: makeSumRows,
  [ATTENTION_KERNEL]: makeAttention,
  [ATTENTION_GRAD_KERNEL]: makeAttentionGrad,
  [ATTENTION_QKV_KERNEL]: makeAttentionQkv,
  [SELF_ATTENTION_KERNEL]: makeSelfAttention,
  [SELF_ATTENTION_GRAD_KERNEL]: makeSelfAttentionGrad,
  [GATED_ADD_KERNEL]: makeGatedAdd,
  [GATED_ADD_GRAD_KERNEL]: makeGatedAddGrad,
  [SILU_KERNEL]: makeSilu,
  [SILU_GRAD_KERNEL]: makeSiluGrad,
  [GUIDANCE_KERNEL]: makeGuidance,
  [NORM_COLS_KERNEL]: makeNormCols,
  [GATED_ADD_COLS_KERNEL]: makeGatedAddCols,
  [PATCH_HEAD_STEP_KERNEL]: (addon) => makeHeadStep((a, m) => addon.patchHeadStep(a, m), true),
  [TOKEN_HEAD_STEP_KERNEL]: (addon) => makeHeadStep((a, m) => addon.tokenHeadStep(a, m), false),
  [EXPAND_RUNS_KERNEL]: makeExpandRuns,
  [SUM_RUNS_KERNEL]: makeSumRuns,
};

/** Replaces a backend's kernels (tfjs WASM's, or the JS-buffer backend's) with the native ones. */
export function registerNativeKernels(addon: NativeAddon, backendName = 'wasm'): void {
  for (const [kernelName, make] of Object.entries(NATIVE_KERNELS)) {
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: make(addon) });
  }
}
