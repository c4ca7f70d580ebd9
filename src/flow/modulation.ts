// A flow head's AdaLN modulations of its condition c (shift, scale, gate of every block): in training each is
// its own linear layer of c; in a head bound to its conditions for an ODE solve, all of them are one matmul of
// the layers' weights side by side, each read by its columns (one [N, W]x[W, 14W] product per step instead of
// fourteen small ones, and no slices where the engine has column-reading kernels).
import * as tf from '@tensorflow/tfjs-core';
import { adaLnModulate, applyLinear, gatedResidual, LN_EPS, stackLinears, type Linear } from '../model/layers.js';
import { fusedGatedAddCols, fusedNormCols } from '../engine/fusedOps.js';

export interface Modulator {
  /** AdaLN x̂·(1 + scale(c)) + shift(c). */
  modulate(x: tf.Tensor, scale: Linear, shift: Linear): tf.Tensor2D;
  /** The gated residual h + gate(c)·a. */
  gate(h: tf.Tensor, gate: Linear, a: tf.Tensor): tf.Tensor;
}

/** Each modulation its own linear layer of c (the training path). */
export const directModulator = (c: tf.Tensor): Modulator => ({
  modulate: (x, scale, shift) => adaLnModulate(x as tf.Tensor2D, applyLinear(scale, c), applyLinear(shift, c)),
  gate: (h, g, a) => gatedResidual(h, applyLinear(g, c), a),
});

/** The modulation layers of a head side by side (weights concatenated once, kept until dispose). */
export class StackedModulations {
  private readonly stacked: Linear;
  private readonly offsets = new Map<Linear, number>();

  constructor(layers: Linear[]) {
    let off = 0;
    for (const l of layers) {
      this.offsets.set(l, off);
      off += l.w.shape[1]!;
    }
    this.stacked = stackLinears(layers);
  }

  /** The stacked layer itself and where a layer's columns start in it (for a kernel that reads them itself). */
  get layer(): Linear { return this.stacked; }
  column(l: Linear): number {
    const o = this.offsets.get(l);
    if (o === undefined) throw new Error('StackedModulations: a layer that was not stacked');
    return o;
  }

  /** The modulator of one step's condition c: one matmul, then each layer's columns. */
  of(c: tf.Tensor): Modulator {
    const M = applyLinear(this.stacked, c) as tf.Tensor2D;
    const col = (l: Linear) => this.column(l);
    const cols = (l: Linear) => tf.slice(M, [0, col(l)], [-1, l.w.shape[1]!]);
    return {
      modulate: (x, scale, shift) => fusedNormCols(x as tf.Tensor2D, M, col(scale), col(shift), LN_EPS) ?? adaLnModulate(x as tf.Tensor2D, cols(scale), cols(shift)),
      gate: (h, g, a) => fusedGatedAddCols(h as tf.Tensor2D, M, col(g), a as tf.Tensor2D) ?? gatedResidual(h, cols(g), a),
    };
  }

  dispose(): void {
    tf.dispose([this.stacked.w, this.stacked.b!]);
  }
}
