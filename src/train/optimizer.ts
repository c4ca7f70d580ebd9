// AdamW (decoupled weight decay, Loshchilov & Hutter) over named tf.Variables, with its moments kept as
// named tensors so they go into the checkpoint and a resumed run continues bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import { assignVariables, exportVariables, prefixed, unprefixed } from './weights.js';
import type { NamedArray } from '../util/safetensors.js';

export interface AdamWConfig { beta1: number; beta2: number; eps: number; weightDecay: number }

export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Number of updates applied so far (bias correction uses it). */
  t = 0;

  constructor(private readonly vars: Map<string, tf.Variable>, readonly cfg: AdamWConfig) {
    for (const [name, p] of vars) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
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

  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.cfg;
    const c1 = 1 - Math.pow(b1, this.t), c2 = 1 - Math.pow(b2, this.t);
    tf.tidy(() => {
      for (const [name, p] of this.vars) {
        const g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!, v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.mul(g, g), 1 - b2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decayed = wd > 0 && AdamW.decays(name) ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/** Scales gradients in place so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const normT = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.mul(g, g))))));
  const norm = normT.dataSync()[0]!;
  normT.dispose();
  if (maxNorm > 0 && norm > maxNorm && Number.isFinite(norm)) {
    const s = maxNorm / (norm + 1e-6);
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
