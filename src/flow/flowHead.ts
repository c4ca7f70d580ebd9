// Per-token flow head (MAR/xAR style "SimpleMLPAdaLN"): maps (noisy token y_t, time t, condition z)
// to a velocity. Residual MLP blocks modulated by AdaLN on c = emb(t) + proj(z); the modulation and
// output layers start at zero so the head starts as the zero velocity field.
import * as tf from '@tensorflow/tfjs-core';
import { applyLinear, applyLinearNoInputGrad, linear, LN_EPS, silu, type Linear } from '../model/layers.js';
import { EXPAND_RUNS_KERNEL, fusedExpandRuns, fusedSumRuns, fusedTokenHeadStep, SUM_RUNS_KERNEL } from '../engine/fusedOps.js';
import { directModulator, StackedModulations } from './modulation.js';
import type { ParamStore } from '../model/params.js';
import type { HeadLayout, PreparedVelocity, VelocityHead } from './head.js';

export interface FlowHeadSpec { tokenDim: number; condDim: number; width: number; depth: number }

export const T_FREQ = 256;
/** t in [0,1] is scaled to [0, 1000] before the sinusoidal embedding (DiT's timestep range). */
const T_SCALE = 1000;

/** The per-token flow head (MAR-style MLP with AdaLN): velocities of each token given its condition and t. */
export class FlowHead implements VelocityHead {
  readonly kind = 'token' as const;
  private readonly tEmb1: Linear; private readonly tEmb2: Linear;
  private readonly zProj: Linear; private readonly inProj: Linear;
  // Separate shift/scale/gate layers rather than one split: SplitV and its gradient are slow on WASM.
  private readonly blocks: Array<{ shift: Linear; scale: Linear; gate: Linear; fc1: Linear; fc2: Linear }> = [];
  private readonly finalShift: Linear; private readonly finalScale: Linear; private readonly out: Linear;

  constructor(ps: ParamStore, readonly name: string, readonly spec: FlowHeadSpec) {
    const { tokenDim: D, condDim, width: W, depth } = spec;
    this.tEmb1 = linear(ps, `${name}.t_emb.fc1`, T_FREQ, W);
    this.tEmb2 = linear(ps, `${name}.t_emb.fc2`, W, W);
    this.zProj = linear(ps, `${name}.z_proj`, condDim, W);
    this.inProj = linear(ps, `${name}.in`, D, W);
    for (let i = 0; i < depth; i++) {
      this.blocks.push({
        shift: linear(ps, `${name}.blocks.${i}.ada_shift`, W, W, { zero: true }),
        scale: linear(ps, `${name}.blocks.${i}.ada_scale`, W, W, { zero: true }),
        gate: linear(ps, `${name}.blocks.${i}.ada_gate`, W, W, { zero: true }),
        fc1: linear(ps, `${name}.blocks.${i}.fc1`, W, W),
        fc2: linear(ps, `${name}.blocks.${i}.fc2`, W, W),
      });
    }
    this.finalShift = linear(ps, `${name}.final.ada_shift`, W, W, { zero: true });
    this.finalScale = linear(ps, `${name}.final.ada_scale`, W, W, { zero: true });
    this.out = linear(ps, `${name}.final.out`, W, D, { zero: true });
  }

  /** y_ND, t (one time for all rows, or one per row) in [0,1], z_NC -> velocity v_ND; every row on its own (the layout is not needed). */
  forward(y_ND: tf.Tensor2D, t: number | Float32Array, z_NC: tf.Tensor2D, _layout?: HeadLayout): tf.Tensor2D {
    return this.velocityFrom(y_ND, timeEmbedding(this.tEmb1, this.tEmb2, t, y_ND.shape[0]), applyLinear(this.zProj, z_NC));
  }

  prepare(z_NC: tf.Tensor2D, _layout: HeadLayout, times: ArrayLike<number>): PreparedVelocity {
    const zp = tf.keep(applyLinear(this.zProj, z_NC));
    const table = new TimeTable(this.tEmb1, this.tEmb2, times);
    const stack = new StackedModulations([...this.blocks.flatMap((b) => [b.scale, b.shift, b.gate]), this.finalScale, this.finalShift]);
    // Where the engine has it, a whole evaluation is one kernel (the same operations in the same order: the same bits).
    // What the kernel reads besides (y, t) is fixed for the solve: gathered once here, not every step.
    const fixed = { zp, inW: this.inProj.w, inB: this.inProj.b!, modW: stack.layer.w, modB: stack.layer.b!, outW: this.out.w, outB: this.out.b!, eps: LN_EPS,
      blocks: this.blocks.map((b) => [b.fc1.w, b.fc1.b!, b.fc2.w, b.fc2.b!]),
      offsets: [...this.blocks.flatMap((b) => [b.scale, b.shift, b.gate]), this.finalScale, this.finalShift].map((l) => stack.column(l)) };
    const step = (y: tf.Tensor2D, te: tf.Tensor) => fusedTokenHeadStep({ ...fixed, y, te });
    return {
      velocity: (y, t) => { const te = table.row(t); return step(y, te) ?? this.velocityFrom(y, te, zp, stack); },
      dispose: () => { zp.dispose(); table.dispose(); stack.dispose(); },
    };
  }

  /** The head given emb(t) ([N, W], or [1, W] for every row), the projected conditions zp [N, W] and, in a bound
   * head, the stacked modulation layers. */
  private velocityFrom(y_ND: tf.Tensor2D, te: tf.Tensor, zp: tf.Tensor, stack?: StackedModulations): tf.Tensor2D {
    const c = silu(tf.add(te, zp));
    const mod = stack ? stack.of(c) : directModulator(c);
    let h = applyLinear(this.inProj, y_ND);
    for (const b of this.blocks) {
      const hn = mod.modulate(h, b.scale, b.shift);
      h = mod.gate(h, b.gate, applyLinear(b.fc2, silu(applyLinear(b.fc1, hn))));
    }
    return applyLinear(this.out, mod.modulate(h, this.finalScale, this.finalShift)) as tf.Tensor2D;
  }
}

/** emb(t) = fc2(silu(fc1(features(t)))) for N rows (t one value or one per row); t carries no gradient, so its
 * sinusoidal features are computed in JS (no sin/cos kernels) and fc1 skips the gradient of its input. */
export function timeEmbedding(fc1: Linear, fc2: Linear, t: number | ArrayLike<number>, N: number): tf.Tensor {
  const mlp = (tt: number | ArrayLike<number>, n: number) => applyLinear(fc2, silu(applyLinearNoInputGrad(fc1, timeFeatures(tt, n))));
  const runs = typeof t === 'number' ? null : timeRuns(t, N);
  // Rows in runs of one t (a patch head's training rows: one t per patch): the MLP runs once a run, and the
  // rows take their run's embedding (its gradient summed back over the run).
  if (runs && runs.values.length <= N / 2 && canExpandRuns()) return expandRuns(mlp(runs.values, runs.values.length), runs.lengths);
  return mlp(t, N);
}

/** The runs of equal consecutive values of t[0..N): each run's value and length. */
export function timeRuns(t: ArrayLike<number>, N: number): { values: Float32Array; lengths: number[] } {
  const values: number[] = [], lengths: number[] = [];
  for (let r = 0; r < N; r++) {
    if (r > 0 && t[r] === t[r - 1]) lengths[lengths.length - 1]! += 1;
    else { values.push(t[r]!); lengths.push(1); }
  }
  return { values: Float32Array.from(values), lengths };
}

const canExpandRuns = () => [[EXPAND_RUNS_KERNEL, SUM_RUNS_KERNEL], ['GatherV2', 'SparseSegmentSum']].some((ks) => ks.every((k) => tf.getKernel(k, tf.getBackend())));

/** Row g of x_GW repeated lengths[g] times; the gradient sums each run's rows. With the engine's run kernels, plain
 * row copies and sums; else Gather and SparseSegmentSum over each row's run index. */
export function expandRuns(x_GW: tf.Tensor, lengths: number[]): tf.Tensor2D {
  const f = tf.customGrad(((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const direct = fusedExpandRuns(x, lengths);
    if (direct) return { value: direct, gradFunc: (dy: tf.Tensor) => fusedSumRuns(dy as tf.Tensor2D, lengths)! };
    const idx = tf.tensor1d(Int32Array.from(lengths.flatMap((len, g) => new Array<number>(len).fill(g))), 'int32');
    save([idx]);
    return {
      value: tf.gather(x, idx),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.sparse.sparseSegmentSum(dy, tf.range(0, idx.shape[0], 1, 'int32'), saved[0] as tf.Tensor1D),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor2D;
  return f(x_GW);
}

/** The time embeddings of an ODE grid, made in one batch; row(t) is one [1, W] row (computed afresh for a t off the grid). */
export class TimeTable {
  // One kept [1, W] tensor per time, so a step takes its row without a slice kernel.
  private readonly rows = new Map<number, tf.Tensor>();
  constructor(private readonly fc1: Linear, private readonly fc2: Linear, times: ArrayLike<number>) {
    const all = tf.tidy(() => tf.split(timeEmbedding(fc1, fc2, times, times.length), times.length, 0));
    for (let i = 0; i < times.length; i++) {
      if (this.rows.has(times[i]!)) all[i]!.dispose();
      else this.rows.set(times[i]!, tf.keep(all[i]!));
    }
  }
  row(t: number): tf.Tensor {
    return this.rows.get(t) ?? timeEmbedding(this.fc1, this.fc2, t, 1);
  }
  dispose(): void { tf.dispose([...this.rows.values()]); }
}

/** The features' frequencies, exp(−ln(1e4)·i/half) for i < half: the same doubles the formula gives inline. */
const T_FREQS = Float64Array.from({ length: T_FREQ / 2 }, (_, i) => Math.exp((-Math.log(10000) * i) / (T_FREQ / 2)));

/** DiT/MAR sinusoidal features of t·1000: cos for the first half, sin for the second, max period 1e4. A row whose
 * t equals the previous row's is copied (the patch head's rows share one t per patch; a training step's head call
 * has ~12k rows, and the sin/cos of every row took ~0.1 s of it). */
export function timeFeatures(t: number | ArrayLike<number>, N: number): tf.Tensor2D {
  const half = T_FREQ / 2;
  const out = new Float32Array(N * T_FREQ);
  let prev = Number.NaN;
  for (let r = 0; r < N; r++) {
    const tv = (typeof t === 'number' ? t : t[r]!) * T_SCALE;
    if (tv === prev) {
      out.copyWithin(r * T_FREQ, (r - 1) * T_FREQ, r * T_FREQ);
      continue;
    }
    for (let i = 0; i < half; i++) {
      const a = tv * T_FREQS[i]!;
      out[r * T_FREQ + i] = Math.cos(a);
      out[r * T_FREQ + half + i] = Math.sin(a);
    }
    prev = tv;
  }
  return tf.tensor2d(out, [N, T_FREQ]);
}
