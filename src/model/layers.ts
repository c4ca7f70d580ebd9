// The few building blocks every network here uses, as plain tfjs ops (so they run on every backend
// and in the browser). Shapes are in the names: x_NC is [N, C].
import * as tf from '@tensorflow/tfjs-core';
import type { ParamStore } from './params.js';
import { engineFlags } from '../engine/flags.js';
import { fusedGatedAdd, fusedGelu, fusedLinear, fusedNormScaleShift, fusedSilu, fusedSumRows } from '../engine/fusedOps.js';
import { fusedLinearResidual, fusedLinearResidualNorm, hasFusedLinearResidual } from '../engine/residualOps.js';

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

export interface Linear { w: tf.Variable; b?: tf.Variable }

export function linear(ps: ParamStore, name: string, inDim: number, outDim: number, opts: { bias?: boolean; zero?: boolean } = {}): Linear {
  const w = ps.create(`${name}.w`, [inDim, outDim], opts.zero ? { kind: 'zeros' } : { kind: 'xavier' });
  const b = opts.bias === false ? undefined : ps.create(`${name}.b`, [outDim], { kind: 'zeros' });
  return { w, b };
}

/** Sum over rows of a [N, C] tensor: the native pack's column-sum kernel where loaded, else a [1,N]x[N,C] matmul (far
 * faster than a Sum kernel over axis 0 on WASM). */
export function sumRows(x_NC: tf.Tensor2D): tf.Tensor1D {
  return fusedSumRows(x_NC) ?? tf.reshape(tf.matMul(tf.ones([1, x_NC.shape[0]]), x_NC), [x_NC.shape[1]]);
}

/**
 * x_NI · w_IO (+ b) with a hand-written gradient: dx = dy·wᵀ, dw = xᵀ·dy, db = 1ᵀ·dy. Written out so the
 * bias gradient is a matmul (not a slow axis-0 Sum) and, on backends whose transposed matmul is slow
 * (stock WASM), the transposes are explicit.
 */
/** A linear layer's weight and bias gradients: dw = xᵀ·dy, db = 1ᵀ·dy. */
function weightGrads(x: tf.Tensor2D, dy: tf.Tensor2D): [tf.Tensor, tf.Tensor] {
  const dw = engineFlags.explicitTranspose ? tf.matMul(tf.transpose(x), dy) : tf.matMul(x, dy, true, false);
  return [dw, sumRows(dy)];
}

/** A linear layer's [dx, dw, db] from its saved x, w and dy. */
function linearGrads(dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] {
  const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
  const dy2 = dy as tf.Tensor2D;
  const dx = engineFlags.explicitTranspose ? tf.matMul(dy2, tf.transpose(ws)) : tf.matMul(dy2, ws, false, true);
  return [dx, ...weightGrads(xs, dy2)];
}

const linear2d = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return { value: fusedLinear(x, w, b) ?? tf.add(tf.matMul(x, w), b), gradFunc: linearGrads };
}) as unknown as CustomGradFn) as unknown as (...args: tf.Tensor[]) => tf.Tensor;

// r + x·w + b as one kernel (hasFusedLinearResidual): r's gradient is dy itself.
const linearResidual2d = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, r: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return { value: fusedLinearResidual(x, w, b, r), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [...linearGrads(dy, saved), dy] };
}) as unknown as CustomGradFn) as unknown as (...args: tf.Tensor[]) => tf.Tensor2D;

/** A residual stream's h + x·w + b (a branch's output layer added to the stream; x [N, K], h [N, C]): one kernel where
 * the engine has it (no pass of its own for the add), else the plain add. */
export function residualLinear(l: Linear, x: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  if (l.b && hasFusedLinearResidual(x, h)) return linearResidual2d(x, l.w, l.b, h);
  return tf.add(h, applyLinear(l, x)) as tf.Tensor2D;
}

/** [h', LayerNorm(h')] with h' = residualLinear(l, x, h): where the stream goes on into the next pre-LN sublayer. One
 * kernel with its gradient where the engine has it: the stream's gradient then needs no add of its own. */
export function residualLinearNorm(l: Linear, x: tf.Tensor2D, h: tf.Tensor2D, ln: LayerNorm): [tf.Tensor2D, tf.Tensor2D] {
  const fused = l.b && ln.g && ln.b ? fusedLinearResidualNorm(x, l.w as tf.Tensor2D, l.b as tf.Tensor1D, h, ln.g as tf.Tensor1D, ln.b as tf.Tensor1D, LN_EPS) : undefined;
  if (fused) return fused;
  const next = residualLinear(l, x, h);
  return [next, applyLayerNorm(ln, next) as tf.Tensor2D];
}

/**
 * applyLinear for a 2-D input that carries no gradient (a flow head's time features): the gradient is w's and b's
 * only, so the dy·wᵀ matmul that linear2d would make for x, and drop, is never run. Same values and the same
 * weight gradients as applyLinear.
 */
export function applyLinearNoInputGrad(l: Linear, x: tf.Tensor2D): tf.Tensor2D {
  if (!l.b) return tf.matMul(x, l.w as tf.Tensor2D);
  const f = tf.customGrad(((w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: fusedLinear(x, w, b) ?? tf.add(tf.matMul(x, w), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => weightGrads(saved[0] as tf.Tensor2D, dy as tf.Tensor2D),
    };
  }) as unknown as CustomGradFn) as unknown as (...args: tf.Tensor[]) => tf.Tensor2D;
  return f(l.w, l.b);
}

/** Linear layers of one input side by side: one layer whose output is theirs concatenated (weights copied now and
 * kept: the caller disposes w and b). For a bound flow head, where several projections of one tensor are made each step. */
export function stackLinears(layers: Linear[]): Linear {
  return {
    w: tf.keep(tf.concat(layers.map((l) => l.w), 1)) as tf.Variable,
    b: tf.keep(tf.concat(layers.map((l) => l.b ?? tf.zeros([l.w.shape[1]!])), 0)) as tf.Variable,
  };
}

/** Applies a linear layer to [..., C]; folds leading dims into rows so matmuls (and gradients) stay 2-D. */
export function applyLinear(l: Linear, x: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const inDim = shape[shape.length - 1]!;
  const x2 = (shape.length === 2 ? x : tf.reshape(x, [-1, inDim])) as tf.Tensor2D;
  const y = l.b ? linear2d(x2, l.w, l.b) : tf.matMul(x2, l.w as tf.Tensor2D);
  return shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), l.w.shape[1]!]);
}

export interface LayerNorm { g?: tf.Variable; b?: tf.Variable }

export function layerNorm(ps: ParamStore, name: string, dim: number, affine = true): LayerNorm {
  if (!affine) return {};
  return { g: ps.create(`${name}.g`, [dim], { kind: 'ones' }), b: ps.create(`${name}.b`, [dim], { kind: 'zeros' }) };
}

export const LN_EPS = 1e-6;

/** Normalise over the last axis (no affine): returns xhat and 1/sigma. */
function normalize(x: tf.Tensor): { xhat: tf.Tensor; rstd: tf.Tensor } {
  const axis = x.shape.length - 1;
  const xc = tf.sub(x, tf.mean(x, axis, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), axis, true), LN_EPS));
  return { xhat: tf.mul(xc, rstd), rstd };
}

/**
 * LayerNorm on [N, C] with the closed-form gradient: dx = rstd·(dxh - mean(dxh) - xhat·mean(dxh·xhat)),
 * with dxh = dy·g; dg, db are row sums done as matmuls.
 */
const layerNorm2d = tf.customGrad(((x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const { xhat, rstd } = normalize(x);
  save([xhat, rstd, g]);
  return {
    value: tf.add(tf.mul(xhat, g), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xh, rs, gs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      const dxh = tf.mul(dy, gs);
      const dx = tf.mul(rs, tf.sub(tf.sub(dxh, tf.mean(dxh, 1, true)), tf.mul(xh, tf.mean(tf.mul(dxh, xh), 1, true))));
      return [dx, sumRows(tf.mul(dy, xh) as tf.Tensor2D), sumRows(dy as tf.Tensor2D)];
    },
  };
}) as unknown as CustomGradFn) as unknown as (...args: tf.Tensor[]) => tf.Tensor;

export function applyLayerNorm(ln: LayerNorm, x: tf.Tensor): tf.Tensor {
  if (!ln.g || !ln.b) return normalize(x).xhat;
  const C = x.shape[x.shape.length - 1]!;
  const x2 = (x.shape.length === 2 ? x : tf.reshape(x, [-1, C])) as tf.Tensor2D;
  const y = fusedNormScaleShift(x2, ln.g, ln.b, LN_EPS) ?? layerNorm2d(x2, ln.g, ln.b);
  return x.shape.length === 2 ? y : tf.reshape(y, x.shape);
}

/** AdaLN: LayerNorm without affine, modulated per row, x̂·(1 + scale) + shift (DiT, FlowAR); x, scale, shift [N, C].
 * One kernel with its gradient where the engine has it (one pass instead of ~10 ops forward and ~15 back). */
export function adaLnModulate(x: tf.Tensor2D, scale: tf.Tensor, shift: tf.Tensor): tf.Tensor2D {
  return fusedNormScaleShift(x, scale, shift, LN_EPS, true) ?? tf.add(tf.mul(normalize(x).xhat, tf.add(1, scale)), shift) as tf.Tensor2D;
}

/** The layers of a pre-LN transformer block after its attention (preLnBlockTail). */
export interface PreLnTail { proj: Linear; ln2: LayerNorm; fc1: Linear; fc2: Linear }

/**
 * The rest of a pre-LN block after its attention output att [N, C], on the residual stream h [N, C]: h += proj(att),
 * then h += fc2(gelu(fc1(ln2(h)))). Returns [h, next(h)], `next` the following block's first norm or, for the last
 * block, the final norm. The adds and norms are fused where the engine has it (residualLinearNorm), except the last
 * block's final norm: its stream goes on into nothing else, and one op for both would leave the stream output
 * without a gradient, which tfjs fills with zeros.
 */
export function preLnBlockTail(b: PreLnTail, att: tf.Tensor2D, h: tf.Tensor2D, next: LayerNorm, last: boolean): [tf.Tensor2D, tf.Tensor2D] {
  const [h2, hn2] = residualLinearNorm(b.proj, att, h, b.ln2);
  const mlp = gelu(applyLinear(b.fc1, hn2)) as tf.Tensor2D;
  if (!last) return residualLinearNorm(b.fc2, mlp, h2, next);
  const out = residualLinear(b.fc2, mlp, h2);
  return [out, applyLayerNorm(next, out) as tf.Tensor2D];
}

/** tanh-approximated GELU: one fused kernel where the engine has one, else the composite below. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return fusedGelu(x) ?? geluComposite(x);
}

/** x*x*x instead of pow (7x faster on WASM). */
export function geluComposite(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x)))), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** x·σ(x): one fused kernel where the engine has one. */
export function silu(x: tf.Tensor): tf.Tensor {
  return fusedSilu(x) ?? tf.mul(x, tf.sigmoid(x));
}

/** AdaLN-Zero's gated residual h + g·a: one fused kernel where the engine has one. */
export function gatedResidual(h: tf.Tensor, g: tf.Tensor, a: tf.Tensor): tf.Tensor {
  return fusedGatedAdd(h, g, a) ?? tf.add(h, tf.mul(g, a));
}

/**
 * Stacks r copies of x_NC along rows ([r·N, C]). The gradient sums the copies with one [1,r]x[r,N·C]
 * matmul instead of tile's slice-and-add.
 */
export const repeatRows = (x_NC: tf.Tensor2D, r: number): tf.Tensor2D => {
  if (r === 1) return x_NC;
  const [N, C] = x_NC.shape;
  const f = tf.customGrad(((x: tf.Tensor2D) => ({
    value: tf.concat(new Array<tf.Tensor2D>(r).fill(x), 0), // a row concat is a memcpy; WASM Tile is per-element
    gradFunc: (dy: tf.Tensor) => tf.reshape(tf.matMul(tf.ones([1, r]), tf.reshape(dy, [r, N * C])), [N, C]),
  })) as unknown as CustomGradFn) as unknown as (x: tf.Tensor) => tf.Tensor;
  return f(x_NC) as tf.Tensor2D;
};
