import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { loadSplit } from '../src/data/load.js';
import { FEATURE_DIM, type FeatureNet } from '../src/eval/featureNet.js';
import { frechetDistance, gaussianOf } from '../src/eval/metrics.js';
import type { DataConfig } from '../src/train/config.js';
import type { Rng } from '../src/util/rng.js';

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

/** Largest absolute elementwise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A tensor of scale·N(0, 1) draws from rng (float32), in row-major order. */
export function randnTensor(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()), shape);
}

/**
 * Every parameter set to scale·N(0, 1) draws from rng, in creation order: zero-initialised outputs and
 * modulations would otherwise hide most of a model's wiring.
 */
export function randomiseParams(params: { list(): tf.Variable[] }, rng: Rng, scale = 0.3): void {
  for (const v of params.list()) tf.tidy(() => v.assign(randnTensor(rng, v.shape, scale)));
}

/** A tensor's values in float64, for references computed in double precision. */
export const float64Of = (t: tf.Tensor): Float64Array => Float64Array.from(t.dataSync());

export { tf };

/** FD between held-out images and the same images noised or blurred, for increasing strength. */
export function degradationFds(net: FeatureNet, data: DataConfig, most: number): { noise: number[]; blur: number[] } {
  const held = loadSplit(data, 'heldout', { limit: 2 * most });
  const n = Math.floor(held.count / 2);
  const S = held.height, C = held.channels, per = S * S * C;
  const first = { ...held, count: n, data: held.data.slice(0, n * per) }, second = { ...held, count: n, data: held.data.slice(n * per, 2 * n * per) };
  const ref = gaussianOf({ data: net.embed(first).features, count: n, dim: FEATURE_DIM });
  const fdOf = (d: Float32Array) => frechetDistance(ref, gaussianOf({ data: net.embed({ ...second, data: d }).features, count: n, dim: FEATURE_DIM }));
  let seed = 1;
  const noise = (s: number) => second.data.map((v) => Math.max(-1, Math.min(1, v + s * Math.sin(seed++ * 12.9898) * 1.7)));
  const blur = (r: number) => {
    const out = new Float32Array(second.data.length);
    for (let i = 0; i < n; i++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < C; c++) {
      let s = 0, k = 0;
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < S && xx >= 0 && xx < S) { s += second.data[i * per + (yy * S + xx) * C + c]!; k++; }
      }
      out[i * per + (y * S + x) * C + c] = s / k;
    }
    return out;
  };
  return { noise: [0, 0.3, 0.6, 1.2].map((s) => fdOf(noise(s))), blur: [0, 1, 2, 3].map((r) => fdOf(blur(r))) };
}


/** The reference transformer's training losses over `steps` AdamW steps on fixed random data (seeded), on the
 * backend and kernels in use: compared between engine paths (test/engine.test.ts, test/jsBuffers.test.ts). */
export async function referenceLossCurve(steps = 20): Promise<number[]> {
  const { ReferenceModel } = await import('../src/bench/referenceModel.js');
  const { AdamW } = await import('../src/train/optimizer.js');
  const dims = { batch: 8, seq: 16, width: 64, depth: 2, heads: 4, inDim: 12 };
  const model = new ReferenceModel(0, dims);
  const opt = new AdamW(model.ps.vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const x = tf.randomNormal([dims.batch, dims.seq, dims.inDim], 0, 1, 'float32', 1) as tf.Tensor3D;
  const y = tf.randomNormal([dims.batch, dims.seq, dims.inDim], 0, 1, 'float32', 2) as tf.Tensor3D;
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { value, grads } = model.ps.grads(() => model.loss(x, y));
    opt.apply(grads, 3e-3);
    losses.push(value.dataSync()[0]!);
    tf.dispose([value, ...grads.values()]);
  }
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return losses;
}
