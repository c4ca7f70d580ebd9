// AdamW (decoupled weight decay, Loshchilov & Hutter) over named tf.Variables, with its moments kept as
// named tensors so they go into the checkpoint and a resumed run continues bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import { assignVariables, exportVariables, prefixed, unprefixed } from './weights.js';
import type { NamedArray } from '../util/safetensors.js';
import { fusedAdamW, fusedSumSquares } from '../engine/fusedOps.js';
import { ownedVariable } from '../model/params.js';

export interface AdamWConfig { beta1: number; beta2: number; eps: number; weightDecay: number }

export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied so far (bias correction uses it). */
  t = 0;

  constructor(private readonly vars: Map<string, tf.Variable>, readonly cfg: AdamWConfig) {
    for (const [name, p] of vars) {
      this.m.set(name, ownedVariable(tf.zerosLike(p), false));
      this.v.set(name, ownedVariable(tf.zerosLike(p), false));
    }
  }

  /** The moments as named arrays for optimizer.safetensors (`m.<param>`, `v.<param>`). */
  exportMoments(): Record<string, NamedArray> {
    return { ...prefixed('m.', exportVariables(this.m)), ...prefixed('v.', exportVariables(this.v)) };
  }

  /** Restores the moments (checked against the parameters by name and shape) and the update count. */
  restore(arrays: Record<string, NamedArray>, t: number, source: string): void {
    assignVariables(this.m, unprefixed('m.', arrays), source);
    assignVariables(this.v, unprefixed('v.', arrays), source);
    this.t = t;
  }

  /** Decay only weight matrices: not biases, norms, embeddings of positions. */
  static decays(name: string): boolean {
    return name.endsWith('.w');
  }

  /**
   * One update from `grads`, each multiplied by `gradScale` first (clipping; 1 leaves them as they are). On a
   * backend with the fused kernel (the native pack) a parameter takes one pass instead of ~15 ops, with the
   * same float32 arithmetic in the same order, so both paths give the same bits (test/fusedOptimizer.test.ts).
   */
  apply(grads: Map<string, tf.Tensor>, lr: number, gradScale = 1): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.cfg;
    const c1 = 1 - Math.pow(b1, this.t), c2 = 1 - Math.pow(b2, this.t);
    tf.tidy(() => {
      for (const [name, p] of this.vars) {
        const raw = grads.get(name);
        if (!raw) continue;
        const m = this.m.get(name)!, v = this.v.get(name)!;
        const decay = wd > 0 && AdamW.decays(name) ? 1 - lr * wd : 1;
        const fused = fusedAdamW(p, m, v, raw, { gradScale, beta1: b1, beta2: b2, c1, c2, eps, decay, lr });
        if (fused) {
          p.assign(fused[0]); m.assign(fused[1]); v.assign(fused[2]);
          continue;
        }
        const g = gradScale !== 1 ? tf.mul(raw, gradScale) : raw;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.mul(g, g), 1 - b2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decayed = decay !== 1 ? tf.mul(p, decay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** The gradients' global L2 norm and the factor that brings it down to maxNorm (1 when it is within, or not finite). */
export function globalNormScale(grads: Map<string, tf.Tensor>, maxNorm: number): { norm: number; scale: number } {
  const sums = fusedSumSquares([...grads.values()]);
  let norm: number;
  if (sums) {
    // The per-tensor sums added one after the other and the root taken in float32, as tf.addN and tf.sqrt do
    // (a float32 operation done in double and rounded once gives the float32 result).
    let total = 0;
    for (const s of sums.dataSync()) total = Math.fround(total + s);
    sums.dispose();
    norm = Math.fround(Math.sqrt(total));
  } else {
    const normT = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.mul(g, g))))));
    norm = normT.dataSync()[0]!;
    normT.dispose();
  }
  return { norm, scale: maxNorm > 0 && norm > maxNorm && Number.isFinite(norm) ? maxNorm / (norm + 1e-6) : 1 };
}

/** Scales gradients in place so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const { norm, scale: s } = globalNormScale(grads, maxNorm);
  if (s !== 1) {
    for (const [k, g] of grads) {
      grads.set(k, tf.mul(g, s));
      g.dispose();
    }
  }
  return norm;
}

/** Linear warm-up then cosine decay to minRatio·lr. */
export function learningRate(step: number, total: number, base: number, warmup: number, minRatio: number): number {
  if (step < warmup) return (base * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return base * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * p)));
}
