// The exposure gap (issue #11): each module's flow-matching loss on held-out images when its prefix is
// ground truth (teacher forcing, as in training) vs when the prefix is what the model itself generates
// from the ground truth before it (each earlier step's tokens sampled with the full ODE from its
// teacher-forced condition). Both passes share every draw of t and ε, so the difference is the prefix
// alone. It is the number the coordination objectives are meant to shrink.
import * as tf from '@tensorflow/tfjs-core';
import type { Generator } from '../model/generator.js';
import { Rng } from '../util/rng.js';

export interface ExposureGapOptions {
  /** ODE steps used to sample the prefixes. */
  odeSteps: number;
  batchSize: number;
  /** (t, ε) draws per token, as in training. */
  headRepeats: number;
  seed: number;
}

/** One module's (or scale's) loss with ground-truth and with model-sampled prefixes. */
export interface PartGap {
  name: string;
  tokens: number;
  /** False where nothing generated earlier conditions this part (its gap is then zero by construction). */
  hasPrefix: boolean;
  gtLoss: number;
  sampledLoss: number;
  /** sampledLoss − gtLoss, and the standard error of that mean over batches. */
  gap: number;
  gapStderr: number;
  /** gap / gtLoss. */
  relativeGap: number;
}

/** Exposure gap of a model: loss per part with ground-truth vs sampled prefixes. */
export interface ExposureGapResult { images: number; batches: number; parts: PartGap[]; totalGt: number; totalSampled: number }

/** tokens: [count, n, D] Morton-ordered held-out tokens with their labels. */
export function measureExposureGap(model: Generator, tokens: Float32Array, labels: Int32Array, count: number, opts: ExposureGapOptions): ExposureGapResult {
  const n = model.numTokens, D = tokens.length / (count * n);
  if (!Number.isInteger(D) || count < 1) throw new Error(`exposure gap: ${tokens.length} token values do not make ${count} images of ${n} tokens`);
  const P = model.lossParts.length;
  const gtSum = new Float64Array(P), sampledSum = new Float64Array(P);
  const gapPerBatch: number[][] = model.lossParts.map(() => []);
  let batches = 0, seen = 0;
  for (let start = 0; start < count; start += opts.batchSize) {
    const B = Math.min(opts.batchSize, count - start);
    const lossSeed = opts.seed * 1000003 + batches;
    const [gt, sampled] = tf.tidy(() => {
      const x = tf.tensor3d(tokens.subarray(start * n * D, (start + B) * n * D), [B, n, D]);
      const lab = labels.subarray(start, start + B);
      const base = { headRepeats: opts.headRepeats };
      const a = model.loss(x, lab, new Rng(lossSeed), base).perModule;
      const b = model.loss(x, lab, new Rng(lossSeed), { ...base, coord: { prefixProb: 1, prefixSource: { kind: 'ode', steps: opts.odeSteps }, prefixRng: new Rng(lossSeed + 7) } }).perModule;
      return [tf.stack(a), tf.stack(b)];
    });
    const g = gt.dataSync(), s = sampled.dataSync();
    tf.dispose([gt, sampled]);
    for (let p = 0; p < P; p++) {
      gtSum[p] = gtSum[p]! + g[p]! * B;
      sampledSum[p] = sampledSum[p]! + s[p]! * B;
      gapPerBatch[p]!.push(s[p]! - g[p]!);
    }
    batches++;
    seen += B;
  }
  const parts = model.lossParts.map((part, p) => {
    const gtLoss = gtSum[p]! / seen, sampledLoss = sampledSum[p]! / seen;
    const gaps = gapPerBatch[p]!, mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const variance = gaps.length > 1 ? gaps.reduce((a, v) => a + (v - mean) ** 2, 0) / (gaps.length - 1) : 0;
    const gap = sampledLoss - gtLoss;
    return { ...part, gtLoss, sampledLoss, gap, gapStderr: Math.sqrt(variance / gaps.length), relativeGap: gap / gtLoss };
  });
  const n_ = model.lossParts.reduce((a, q) => a + q.tokens, 0);
  const weighted = (key: 'gtLoss' | 'sampledLoss') => parts.reduce((a, q) => a + q[key] * q.tokens, 0) / n_;
  return { images: seen, batches, parts, totalGt: weighted('gtLoss'), totalSampled: weighted('sampledLoss') };
}

/** The table `nestar diagnose` prints (and writes as Markdown); numbers as in the JSON, rounded to 4 significant digits. */
export function exposureGapTable(r: ExposureGapResult): string {
  const f = (x: number) => x.toPrecision(4);
  const lines = ['| part | tokens | prefix | loss (ground-truth prefix) | loss (sampled prefix) | gap | ± s.e. | gap % |', '|---|---:|---|---:|---:|---:|---:|---:|'];
  for (const p of r.parts) {
    lines.push(`| ${p.name} | ${p.tokens} | ${p.hasPrefix ? 'yes' : 'none'} | ${f(p.gtLoss)} | ${f(p.sampledLoss)} | ${f(p.gap)} | ${f(p.gapStderr)} | ${(100 * p.relativeGap).toFixed(2)} |`);
  }
  lines.push(`| all (per token) | ${r.parts.reduce((a, p) => a + p.tokens, 0)} | | ${f(r.totalGt)} | ${f(r.totalSampled)} | ${f(r.totalSampled - r.totalGt)} | | ${(100 * (r.totalSampled - r.totalGt) / r.totalGt).toFixed(2)} |`);
  return lines.join('\n');
}
