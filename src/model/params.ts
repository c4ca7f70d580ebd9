// Named trainable parameters. Names are stable paths ("m1.blocks.0.attn.qkv.w") and become the
// safetensors keys, so checkpoints can be read by name from Python too.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';

export type Init = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' } | { kind: 'xavier' } | { kind: 'values'; values: Float32Array };

let storeCounter = 0;

/**
 * A variable that owns its initial value. tf.variable shares the value's buffer and leaves the value itself
 * registered, so without the dispose every created variable kept a second reference to its first buffer
 * and disposing a model freed none of its initial weights (171 tensors per tiny NestAR).
 */
export function ownedVariable(initial: tf.Tensor, trainable: boolean, name?: string): tf.Variable {
  const v = tf.variable(initial, trainable, name);
  initial.dispose();
  return v;
}

export class ParamStore {
  readonly vars = new Map<string, tf.Variable>();
  private readonly rng: Rng;
  /** tfjs variable names are global to the process, so each store prefixes its own. */
  readonly prefix = `s${storeCounter++}/`;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  create(name: string, shape: number[], init: Init): tf.Variable {
    if (this.vars.has(name)) throw new Error(`parameter '${name}' defined twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (init.kind === 'ones') data.fill(1);
    else if (init.kind === 'values') data.set(init.values);
    else if (init.kind === 'normal' || init.kind === 'xavier') {
      // xavier-uniform over the last two dims, as PyTorch/MAR initialise linear layers.
      const fanIn = shape.length >= 2 ? shape[shape.length - 2]! : shape[0]!;
      const fanOut = shape[shape.length - 1]!;
      const a = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) data[i] = init.kind === 'normal' ? init.std * this.rng.normal() : a * (2 * this.rng.next() - 1);
    }
    const v = ownedVariable(tf.tensor(data, shape, 'float32'), true, this.prefix + name);
    this.vars.set(name, v);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`unknown parameter '${name}'`);
    return v;
  }

  /** Gradients of a scalar loss with respect to every parameter, keyed by parameter name. */
  grads(f: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const { value, grads } = tf.variableGrads(f, this.list());
    const out = new Map<string, tf.Tensor>();
    for (const [name, v] of this.vars) {
      const g = grads[v.name];
      if (g) out.set(name, g);
    }
    return { value, grads: out };
  }

  list(): tf.Variable[] {
    return [...this.vars.values()];
  }

  count(): number {
    return this.list().reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
