// Exponential moving average of the weights, used for sampling (as MAR/DiT do).
import * as tf from '@tensorflow/tfjs-core';
import { fusedEma } from '../engine/fusedOps.js';
import { ownedVariable } from '../model/params.js';

export class Ema {
  readonly shadow = new Map<string, tf.Variable>();
  constructor(private readonly vars: Map<string, tf.Variable>, readonly decay: number) {
    for (const [name, p] of vars) this.shadow.set(name, ownedVariable(tf.clone(p), false));
  }

  /** Warm-started decay: early on the average follows the weights closely (short runs benefit). */
  effectiveDecay(step: number): number {
    return Math.min(this.decay, (1 + step) / (10 + step));
  }

  update(step: number): void {
    const d = this.effectiveDecay(step);
    tf.tidy(() => {
      for (const [name, p] of this.vars) {
        const s = this.shadow.get(name)!;
        s.assign(fusedEma(s, p, d) ?? tf.add(tf.mul(s, d), tf.mul(p, 1 - d)));
      }
    });
  }

  dispose(): void {
    for (const s of this.shadow.values()) s.dispose();
  }
}

/** Runs fn with the model's variables temporarily holding `weights`, then restores them. */
export async function withWeights<T>(vars: Map<string, tf.Variable>, weights: Map<string, tf.Tensor>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, tf.Tensor>();
  for (const [name, v] of vars) {
    const w = weights.get(name);
    if (!w) continue;
    saved.set(name, tf.clone(v));
    v.assign(w);
  }
  try {
    return await fn();
  } finally {
    for (const [name, t] of saved) {
      vars.get(name)!.assign(t);
      t.dispose();
    }
  }
}
