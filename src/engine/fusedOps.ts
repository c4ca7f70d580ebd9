// Fused ops that a backend may provide as kernels. Model code calls these helpers; they return undefined
// when the current backend has no such kernel, and the caller falls back to plain tfjs ops (so the same
// model runs in the browser). The gradient is registered once, here, in terms of a second kernel.
import * as tf from '@tensorflow/tfjs-core';
import { engineFlags } from './flags.js';

export const GELU_KERNEL = 'NestarGeluTanh';
export const GELU_GRAD_KERNEL = 'NestarGeluTanhGrad';

const registered = new Set<string>();
/** Registers a fused kernel's gradient the first time an op of it runs (not at import: the browser build imports
 * the op files without any of the kernels). */
export function registerGradientOnce(config: tf.GradConfig): void {
  if (registered.has(config.kernelName)) return;
  tf.registerGradient(config);
  registered.add(config.kernelName);
}

/** Whether the current backend has kernel `name` and every input is float32 (the fused kernels' one dtype). */
export const hasKernel = (name: string, ...xs: tf.Tensor[]) => xs.every((x) => x.dtype === 'float32') && !!tf.getKernel(name, tf.getBackend());

/** An element-wise op y = f(x) as one kernel whose gradient is a second kernel of (dy, x); the op returns undefined
 * when the backend has no such kernel. */
function unaryWithGradient(kernel: string, gradKernel: string): (x: tf.Tensor) => tf.Tensor | undefined {
  const gradient: tf.GradConfig = {
    kernelName: kernel,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(gradKernel, { dy: dy as tf.Tensor, x: saved[0]! }) as tf.Tensor }),
  };
  return (x) => {
    if (!hasKernel(kernel, x)) return undefined;
    registerGradientOnce(gradient);
    return tf.engine().runKernel(kernel, { x }) as tf.Tensor;
  };
}

/** tanh-GELU as one kernel, or undefined when the backend has none. */
export const fusedGelu = unaryWithGradient(GELU_KERNEL, GELU_GRAD_KERNEL);

export const ADAMW_KERNEL = 'NestarAdamW';
export const EMA_KERNEL = 'NestarEma';
export const SUM_SQUARES_KERNEL = 'NestarSumSquares';

/** The float32 scalars of one AdamW step, as the op-by-op path rounds them (src/train/optimizer.ts). */
export interface AdamWScalars { gradScale: number; beta1: number; beta2: number; c1: number; c2: number; eps: number; decay: number; lr: number }

/** One AdamW step of one parameter as one kernel: [p', m', v'], or undefined when the backend has none. A
 * gradScale or decay of exactly 1 is skipped, as the op-by-op path skips those multiplies. */
export function fusedAdamW(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, k: AdamWScalars): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined {
  if (!engineFlags.fusedOptimizer || !hasKernel(ADAMW_KERNEL, p, m, v, g)) return undefined;
  const scalars = [k.gradScale, k.beta1, 1 - k.beta1, k.beta2, 1 - k.beta2, k.c1, k.c2, k.eps, k.decay, k.lr, k.gradScale !== 1 ? 1 : 0, k.decay !== 1 ? 1 : 0];
  return tf.engine().runKernel(ADAMW_KERNEL, { p, m, v, g }, { scalars }) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** The EMA update s·d + p·(1−d) as one kernel, or undefined when the backend has none. */
export function fusedEma(s: tf.Tensor, p: tf.Tensor, decay: number): tf.Tensor | undefined {
  if (!engineFlags.fusedOptimizer || !hasKernel(EMA_KERNEL, s, p)) return undefined;
  return tf.engine().runKernel(EMA_KERNEL, { s, p }, { scalars: [decay, 1 - decay] }) as tf.Tensor;
}

/** Σx² of each tensor as one kernel ([n] float32: each square and each partial sum rounded to float32 in the
 * order of tf.sum(tf.mul(x, x))), or undefined when the backend has none. */
export function fusedSumSquares(xs: tf.Tensor[]): tf.Tensor1D | undefined {
  if (!engineFlags.fusedOptimizer || !xs.length || !hasKernel(SUM_SQUARES_KERNEL, ...xs)) return undefined;
  return tf.engine().runKernel(SUM_SQUARES_KERNEL, Object.fromEntries(xs.map((x, i) => [`x${i}`, x]))) as tf.Tensor1D;
}

export const NORM_KERNEL = 'NestarNormScaleShift';
export const NORM_GRAD_KERNEL = 'NestarNormScaleShiftGrad';

const NORM_GRADIENT: tf.GradConfig = {
  kernelName: NORM_KERNEL,
  inputsToSave: ['x', 'g'],
  gradFunc: (dy, saved, attrs) => {
    const [dx, dg, db] = tf.engine().runKernel(NORM_GRAD_KERNEL, { dy: dy as tf.Tensor, x: saved[0]!, g: saved[1]! }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
    return { x: () => dx!, g: () => dg!, b: () => db! };
  },
};

/**
 * Layer normalisation of each row of x [N, C] followed by y = x̂·g + b, as one kernel with its gradient: g, b
 * are [C] (LayerNorm's gain and bias) or [N, C] (AdaLN's 1 + scale and shift; with onePlus g is the scale and the
 * kernel adds the 1, as tf.add(1, scale) would round it). Undefined when the backend has
 * no such kernel or the shapes are neither, and the caller composes it from plain ops.
 */
export function fusedNormScaleShift(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor, eps: number, onePlus = false): tf.Tensor2D | undefined {
  const [N, C] = x.shape;
  const perRow = g.rank === 2 && g.shape[0] === N && g.shape[1] === C;
  const ok = (t: tf.Tensor) => (perRow ? t.rank === 2 && t.shape[0] === N && t.shape[1] === C : t.rank === 1 && t.shape[0] === C);
  if (!engineFlags.fusedNorm || !ok(g) || !ok(b) || !hasKernel(NORM_KERNEL, x, g, b)) return undefined;
  registerGradientOnce(NORM_GRADIENT);
  return tf.engine().runKernel(NORM_KERNEL, { x, g, b }, { eps, perRow, onePlus }) as tf.Tensor2D;
}

export const LINEAR_KERNEL = 'NestarLinear';

/** x [M, K] · w [K, N] + b [N] as one kernel (forward only: `linear2d` in src/model/layers.ts owns the gradient),
 * or undefined when the backend has none. */
export function fusedLinear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D | undefined {
  if (!engineFlags.fusedLinear || b.rank !== 1 || !hasKernel(LINEAR_KERNEL, x, w, b)) return undefined;
  return tf.engine().runKernel(LINEAR_KERNEL, { x, w, b }) as tf.Tensor2D;
}

export const SUM_ROWS_KERNEL = 'NestarSumRows';

/** Column sums of x [N, C] (a bias gradient 1ᵀ·dy) in one native pass, or undefined when the backend has no kernel. */
export function fusedSumRows(x: tf.Tensor2D): tf.Tensor1D | undefined {
  if (x.shape[0] < 1 || !hasKernel(SUM_ROWS_KERNEL, x)) return undefined;
  return tf.engine().runKernel(SUM_ROWS_KERNEL, { x }) as tf.Tensor1D;
}

export const ATTENTION_KERNEL = 'NestarAttention';
export const ATTENTION_GRAD_KERNEL = 'NestarAttentionGrad';

// The attention kernels return [out, P]. A registered gradient would make tfjs fill a zero dy for P (4 MB a block of
// the reference transformer, written into the heap from JS, ~14 ms a step), so the ops below are tf.customGrad ops
// with the one output, and P is saved for the gradient kernel.
type CustomGradFn = (...args: Array<tf.Tensor | tf.GradSaveFunc>) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };
const customGrad = (f: CustomGradFn) => tf.customGrad(f as never) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;

/**
 * Multi-head attention softmax(q·kᵀ·scale + mask)·v on row layouts, q [B, Lq, H·dh], k and v [B, Lk, H·dh],
 * head h in columns h·dh.. (no head transposes), additive mask [Lq, Lk] or null, as one kernel with its gradient
 * (the mask gets none). q, k, v may also be given as rows [B·L, H·dh] with `groups` = B (no reshapes either).
 * Undefined when the backend has no such kernel, and the caller composes it from plain ops.
 */
export function fusedAttention<T extends tf.Tensor2D | tf.Tensor3D>(q: T, k: T, v: T, mask: tf.Tensor2D | null, heads: number, scale: number, groups?: number): T | undefined {
  const ins = mask ? [q, k, v, mask] : [q, k, v];
  if (!engineFlags.fusedAttention || !hasKernel(ATTENTION_KERNEL, ...ins)) return undefined;
  const attrs = { heads, scale: Math.fround(scale), groups: q.rank === 3 ? q.shape[0] : groups! };
  const op = customGrad((qq, kk, vv, save) => {
    const inputs: tf.NamedTensorMap = { q: qq as tf.Tensor, k: kk as tf.Tensor, v: vv as tf.Tensor };
    if (mask) inputs.mask = mask;
    const [out, P] = tf.engine().runKernel(ATTENTION_KERNEL, inputs, attrs) as unknown as tf.Tensor[];
    (save as tf.GradSaveFunc)([qq as tf.Tensor, kk as tf.Tensor, vv as tf.Tensor, P!]);
    return {
      value: out!,
      gradFunc: (dO, [sq, sk, sv, sP]) => tf.engine().runKernel(ATTENTION_GRAD_KERNEL, { dO, q: sq!, k: sk!, v: sv!, P: sP! }, attrs) as unknown as tf.Tensor[],
    };
  });
  return op(q, k, v) as T;
}

export const SELF_ATTENTION_KERNEL = 'NestarSelfAttention';
export const SELF_ATTENTION_GRAD_KERNEL = 'NestarSelfAttentionGrad';

/** Whether fusedSelfAttention would run for tensors on x's backend (so a caller can make qkv in one matmul first). */
export function hasFusedSelfAttention(x: tf.Tensor, mask: tf.Tensor | null): boolean {
  return engineFlags.fusedAttention && hasKernel(SELF_ATTENTION_KERNEL, ...(mask ? [x, mask] : [x]));
}

/**
 * Self-attention within `groups` equal groups of rows, q, k, v the column blocks of qkv [N, 3C] (one matmul of the
 * three projections' weights side by side made them), [N, C], as one kernel with its gradient (training's form of
 * fusedAttentionQkv), or undefined when the backend has none.
 */
export function fusedSelfAttention(qkv: tf.Tensor2D, mask: tf.Tensor2D | null, heads: number, groups: number): tf.Tensor2D | undefined {
  if (!hasFusedSelfAttention(qkv, mask)) return undefined;
  const attrs = qkvAttrs(qkv, heads, groups);
  const op = customGrad((x, save) => {
    const inputs: tf.NamedTensorMap = { qkv: x as tf.Tensor };
    if (mask) inputs.mask = mask;
    const [out, P] = tf.engine().runKernel(SELF_ATTENTION_KERNEL, inputs, attrs) as unknown as tf.Tensor[];
    (save as tf.GradSaveFunc)([x as tf.Tensor, P!]);
    // The gradient is one [N, 3C] matrix, the layout of the input.
    return { value: out!, gradFunc: (dO, [sx, sP]) => tf.engine().runKernel(SELF_ATTENTION_GRAD_KERNEL, { dO, qkv: sx!, P: sP! }, attrs) as tf.Tensor };
  });
  return op(qkv) as tf.Tensor2D;
}

export const GATED_ADD_KERNEL = 'NestarGatedAdd';
export const GATED_ADD_GRAD_KERNEL = 'NestarGatedAddGrad';

const GATED_ADD_GRADIENT: tf.GradConfig = {
  kernelName: GATED_ADD_KERNEL,
  inputsToSave: ['g', 'a'],
  gradFunc: (dy, saved) => {
    const [dg, da] = tf.engine().runKernel(GATED_ADD_GRAD_KERNEL, { dy: dy as tf.Tensor, g: saved[0]!, a: saved[1]! }) as unknown as tf.Tensor[];
    return { h: () => dy as tf.Tensor, g: () => dg!, a: () => da! };
  },
};

/** The gated residual h + g·a (inputs of one shape) as one kernel with its gradient, or undefined when the backend
 * has none or the shapes differ. */
export function fusedGatedAdd(h: tf.Tensor, g: tf.Tensor, a: tf.Tensor): tf.Tensor | undefined {
  if (!tf.util.arraysEqual(h.shape, g.shape) || !tf.util.arraysEqual(h.shape, a.shape) || !hasKernel(GATED_ADD_KERNEL, h, g, a)) return undefined;
  registerGradientOnce(GATED_ADD_GRADIENT);
  return tf.engine().runKernel(GATED_ADD_KERNEL, { h, g, a }) as tf.Tensor;
}

export const SILU_KERNEL = 'NestarSilu';
export const SILU_GRAD_KERNEL = 'NestarSiluGrad';

/** SiLU x·σ(x) as one kernel with its gradient, or undefined when the backend has none. */
export const fusedSilu = unaryWithGradient(SILU_KERNEL, SILU_GRAD_KERNEL);

export const GUIDANCE_KERNEL = 'NestarGuidance';

/** Classifier-free guidance v_u + (v_c − v_u)·w of v = [v_c; v_u] ([2N, D] → [N, D]) as one kernel (sampling
 * only, no gradient), or undefined when the backend has none. */
export function fusedGuidance(v: tf.Tensor2D, w: number): tf.Tensor2D | undefined {
  if (v.shape[0] % 2 !== 0 || !hasKernel(GUIDANCE_KERNEL, v)) return undefined;
  return tf.engine().runKernel(GUIDANCE_KERNEL, { v }, { w: Math.fround(w) }) as tf.Tensor2D;
}

export const NORM_COLS_KERNEL = 'NestarNormCols';
export const GATED_ADD_COLS_KERNEL = 'NestarGatedAddCols';

/** x̂·(1 + M[:, gOff..gOff+C]) + M[:, bOff..bOff+C] for x [N, C] and modulations M [N, ld], as one kernel (forward
 * only: a bound head's ODE step), or undefined when the backend has none. */
export function fusedNormCols(x: tf.Tensor2D, M: tf.Tensor2D, gOff: number, bOff: number, eps: number): tf.Tensor2D | undefined {
  if (!engineFlags.fusedNorm || !hasKernel(NORM_COLS_KERNEL, x, M)) return undefined;
  return tf.engine().runKernel(NORM_COLS_KERNEL, { x, M }, { gOff, bOff, eps: Math.fround(eps) }) as tf.Tensor2D;
}

/** h + M[:, off..off+C]·a for h, a [N, C], as one kernel (forward only), or undefined when the backend has none. */
export function fusedGatedAddCols(h: tf.Tensor2D, M: tf.Tensor2D, off: number, a: tf.Tensor2D): tf.Tensor2D | undefined {
  if (!hasKernel(GATED_ADD_COLS_KERNEL, h, M, a)) return undefined;
  return tf.engine().runKernel(GATED_ADD_COLS_KERNEL, { h, M, a }, { off }) as tf.Tensor2D;
}

export const ATTENTION_QKV_KERNEL = 'NestarAttentionQkv';

/** The attrs of the attention kernels on qkv [N, 3C]: the scale 1/√dh as the float32 the composite path multiplies by. */
const qkvAttrs = (qkv: tf.Tensor2D, heads: number, groups: number) => ({ heads, groups, scale: Math.fround(1 / Math.sqrt(qkv.shape[1] / 3 / heads)) });

/** Self-attention within `groups` equal groups of rows, q, k, v the column blocks of qkv [N, 3C] (one matmul made
 * them), [N, C], as one kernel (forward only: a bound head's ODE step), or undefined when the backend has none. */
export function fusedAttentionQkv(qkv: tf.Tensor2D, mask: tf.Tensor2D | null, heads: number, groups: number): tf.Tensor2D | undefined {
  const ins = mask ? [qkv, mask] : [qkv];
  if (!engineFlags.fusedAttention || !hasKernel(ATTENTION_QKV_KERNEL, ...ins)) return undefined;
  const inputs: tf.NamedTensorMap = { qkv };
  if (mask) inputs.mask = mask;
  return tf.engine().runKernel(ATTENTION_QKV_KERNEL, inputs, qkvAttrs(qkv, heads, groups)) as tf.Tensor2D;
}

export const PATCH_HEAD_STEP_KERNEL = 'NestarPatchHeadStep';

/** What one fused velocity evaluation of a bound patch head reads (src/flow/patchFlowHead.ts). */
export interface PatchHeadStepInputs {
  y: tf.Tensor2D; te: tf.Tensor; zp: tf.Tensor; pos: tf.Tensor; inW: tf.Tensor; inB: tf.Tensor; modW: tf.Tensor; modB: tf.Tensor;
  outW: tf.Tensor; outB: tf.Tensor; mask: tf.Tensor | null;
  /** Per block: qkv w, b, proj w, b, fc1 w, b, fc2 w, b. */
  blocks: tf.Tensor[][];
  heads: number; groups: number; eps: number;
  /** Column offsets in the stacked modulations: per block attn scale, shift, gate, mlp scale, shift, gate; then the final scale, shift. */
  offsets: number[];
}

/** A bound patch head's velocity [N, D] as one kernel (forward only: sampling), or undefined when the backend has none. */
export function fusedPatchHeadStep(a: PatchHeadStepInputs): tf.Tensor2D | undefined {
  if (!engineFlags.fusedHead || !hasKernel(PATCH_HEAD_STEP_KERNEL, a.y)) return undefined;
  const [N, D] = a.y.shape, W = a.zp.shape[1]!, K = a.modW.shape[1]!, hidden = a.blocks[0]?.[4]?.shape[1] ?? W;
  const inputs: tf.NamedTensorMap = {};
  [a.y, a.te, a.zp, a.pos, a.inW, a.inB, a.modW, a.modB, a.outW, a.outB].forEach((x, i) => { inputs[`x${i}`] = x; });
  if (a.mask) inputs.mask = a.mask;
  a.blocks.flat().forEach((x, i) => { inputs[`k${i}`] = x; });
  const meta = [N, D, W, K, hidden, a.blocks.length, a.heads, a.groups, a.mask ? 1 : 0, Math.fround(1 / Math.sqrt(W / a.heads)), a.eps,
    a.te.shape[0]!, ...a.offsets];
  return tf.engine().runKernel(PATCH_HEAD_STEP_KERNEL, inputs, { meta }) as tf.Tensor2D;
}

export const TOKEN_HEAD_STEP_KERNEL = 'NestarTokenHeadStep';

/** What one fused velocity evaluation of a bound per-token head reads (src/flow/flowHead.ts). */
export interface TokenHeadStepInputs {
  y: tf.Tensor2D; te: tf.Tensor; zp: tf.Tensor; inW: tf.Tensor; inB: tf.Tensor; modW: tf.Tensor; modB: tf.Tensor; outW: tf.Tensor; outB: tf.Tensor;
  /** Per block: fc1 w, b, fc2 w, b. */
  blocks: tf.Tensor[][];
  eps: number;
  /** Column offsets in the stacked modulations: per block scale, shift, gate; then the final scale, shift. */
  offsets: number[];
}

/** A bound per-token head's velocity [N, D] as one kernel (forward only), or undefined when the backend has none. */
export function fusedTokenHeadStep(a: TokenHeadStepInputs): tf.Tensor2D | undefined {
  if (!engineFlags.fusedHead || !hasKernel(TOKEN_HEAD_STEP_KERNEL, a.y)) return undefined;
  const [N, D] = a.y.shape, W = a.zp.shape[1]!, K = a.modW.shape[1]!;
  const inputs: tf.NamedTensorMap = {};
  [a.y, a.te, a.zp, a.inW, a.inB, a.modW, a.modB, a.outW, a.outB].forEach((x, i) => { inputs[`x${i}`] = x; });
  a.blocks.flat().forEach((x, i) => { inputs[`k${i}`] = x; });
  return tf.engine().runKernel(TOKEN_HEAD_STEP_KERNEL, inputs, { meta: [N, D, W, K, a.blocks.length, a.eps, a.te.shape[0]!, ...a.offsets] }) as tf.Tensor2D;
}

export const EXPAND_RUNS_KERNEL = 'NestarExpandRuns';
export const SUM_RUNS_KERNEL = 'NestarSumRuns';

/** Rows of x [G, W] repeated by run (row g lengths[g] times) as one kernel, or undefined when the backend has none. */
export function fusedExpandRuns(x: tf.Tensor2D, lengths: number[]): tf.Tensor2D | undefined {
  if (!hasKernel(EXPAND_RUNS_KERNEL, x)) return undefined;
  return tf.engine().runKernel(EXPAND_RUNS_KERNEL, { x }, { lengths } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/** Each run of dy [N, W]'s rows summed into one row [G, W] (the gradient of fusedExpandRuns), or undefined. */
export function fusedSumRuns(dy: tf.Tensor2D, lengths: number[]): tf.Tensor2D | undefined {
  if (!hasKernel(SUM_RUNS_KERNEL, dy)) return undefined;
  return tf.engine().runKernel(SUM_RUNS_KERNEL, { dy }, { lengths } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}
