import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';

/** Every test file runs on the default backend (native when built, else WASM). */
export async function setup(): Promise<string> {
  const info = await initBackend();
  return info.name;
}

export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-12);
}

export { tf };
