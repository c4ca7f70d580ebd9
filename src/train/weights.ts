// Moving weights between tf.Variables and named arrays (safetensors), with shape checks that turn a
// mismatched checkpoint into one clear error instead of a tfjs stack trace.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedArray } from '../util/safetensors.js';

export function exportVariables(vars: Map<string, tf.Tensor>): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const [name, v] of vars) out[name] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
  return out;
}

/** Checks that `arrays` has exactly the variables' names and shapes; throws naming the first difference. */
export function checkCompatible(vars: Map<string, tf.Tensor>, arrays: Record<string, NamedArray>, source: string): void {
  for (const [name, v] of vars) {
    const a = arrays[name];
    if (!a) throw new Error(`${source} does not match this model: it has no tensor '${name}' (another architecture?)`);
    if (a.shape.length !== v.shape.length || a.shape.some((d, i) => d !== v.shape[i])) {
      throw new Error(`${source} does not match this model: '${name}' has shape [${a.shape}], the model expects [${v.shape}]`);
    }
  }
  for (const name of Object.keys(arrays)) {
    if (!vars.has(name)) throw new Error(`${source} does not match this model: unexpected tensor '${name}' (another architecture?)`);
  }
}

/** Throws naming the first tensor with a NaN or infinite value (a checkpoint like that samples black images). */
export function checkFinite(arrays: Record<string, NamedArray>, source: string): void {
  for (const [name, a] of Object.entries(arrays)) {
    for (let i = 0; i < a.data.length; i++) {
      if (!Number.isFinite(a.data[i]!)) throw new Error(`${source}: tensor '${name}' holds a non-finite value (${a.data[i]} at element ${i}); the checkpoint is corrupt or its run diverged`);
    }
  }
}

export function assignVariables(vars: Map<string, tf.Variable>, arrays: Record<string, NamedArray>, source: string): void {
  checkCompatible(vars, arrays, source);
  checkFinite(arrays, source);
  for (const [name, v] of vars) {
    const a = arrays[name]!;
    tf.tidy(() => v.assign(tf.tensor(a.data, a.shape, 'float32')));
  }
}

/** Prefixes names: optimizer moments are stored as 'm.<param>' and 'v.<param>'. */
export function prefixed(prefix: string, arrays: Record<string, NamedArray>): Record<string, NamedArray> {
  return Object.fromEntries(Object.entries(arrays).map(([k, v]) => [prefix + k, v]));
}

export function unprefixed(prefix: string, arrays: Record<string, NamedArray>): Record<string, NamedArray> {
  return Object.fromEntries(Object.entries(arrays).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}
