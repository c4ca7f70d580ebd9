// `nestar eval`: generate N samples from a checkpoint (or read a folder of PNGs), embed them with the
// feature net, and score them against the real test images — FD, IS, precision/recall, density/coverage,
// per-class recall/coverage, class histogram, memorisation, sampling time. Reports list every setting
// and both hashes (checkpoint, feature net); a "real data" row (test vs train images) gives the scale.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../data/dataset.js';
import type { ImageBatch } from '../tokenizer/patchTokenizer.js';
import { FEATURE_DIM, FeatureNet } from './featureNet.js';
import {
  densityCoverage, frechetDistance, gaussianOf, inceptionScore, memorisationRate, nearestDistances, precisionRecall,
  type DistanceRows, type FeatureSet,
} from './metrics.js';

export interface Embedded { features: FeatureSet; probs: Float32Array; labels: Int32Array; classes: number }

export interface MetricRow {
  label: string; n: number; cfg?: number;
  fd: number; is: number; precision: number; recall: number; density: number; coverage: number;
  perClassRecall: number | null; perClassCoverage: number | null; classHistogram: number[];
  memorisation: number | null; samplingSeconds?: number;
}

export function embed(net: FeatureNet, images: ImageBatch, labels: Int32Array): Embedded {
  const { features, probs } = net.embed(images);
  return { features: { data: features, count: images.count, dim: FEATURE_DIM }, probs, labels, classes: net.config.numClasses };
}

function subsetRows(e: Embedded, keep: (i: number) => boolean): FeatureSet {
  const idx: number[] = [];
  for (let i = 0; i < e.features.count; i++) if (keep(i)) idx.push(i);
  const F = e.features.dim, data = new Float32Array(idx.length * F);
  idx.forEach((j, r) => data.set(e.features.data.subarray(j * F, (j + 1) * F), r * F));
  return { data, count: idx.length, dim: F };
}

/** All metrics of one generated (or real) set against the real reference set. */
export function scoreSet(label: string, real: Embedded, gen: Embedded, rows: DistanceRows,
  memo?: { train: FeatureSet; testToTrain: Float64Array }): MetricRow {
  const K = gen.classes;
  const { precision, recall } = precisionRecall(real.features, gen.features, 3, rows);
  const { density, coverage } = densityCoverage(real.features, gen.features, 5, rows);
  // Per class: real images of class c vs samples conditioned on (or labelled) c.
  let recallSum = 0, coverageSum = 0, classesScored = 0;
  if (gen.labels.some((l) => l >= 0)) {
    for (let c = 0; c < K; c++) {
      const r = subsetRows(real, (i) => real.labels[i] === c), g = subsetRows(gen, (i) => gen.labels[i] === c);
      if (r.count <= 5 || g.count <= 5) continue;
      recallSum += precisionRecall(r, g, 3, rows).recall;
      coverageSum += densityCoverage(r, g, 5, rows).coverage;
      classesScored++;
    }
  }
  const hist = new Array<number>(K).fill(0);
  for (let i = 0; i < gen.features.count; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (gen.probs[i * K + k]! > gen.probs[i * K + best]!) best = k;
    hist[best]!++;
  }
  return {
    label, n: gen.features.count,
    fd: frechetDistance(gaussianOf(real.features), gaussianOf(gen.features)),
    is: inceptionScore(gen.probs, gen.features.count, K),
    precision, recall, density, coverage,
    perClassRecall: classesScored ? recallSum / classesScored : null, perClassCoverage: classesScored ? coverageSum / classesScored : null,
    classHistogram: hist,
    memorisation: memo ? memorisationRate(nearestDistances(gen.features, memo.train, rows), memo.testToTrain).rate : null,
  };
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Hash of a checkpoint's weights file used for sampling (the EMA file when present). */
export function checkpointHash(dir: string, weights: 'ema' | 'raw'): string {
  const p = join(dir, weights === 'ema' ? 'ema.safetensors' : 'model.safetensors');
  return existsSync(p) ? fileSha256(p) : 'none';
}

export interface Report {
  format: 'nestar-eval-v1';
  command: string;
  dataset: string; split: string; referenceN: number;
  featureNet: { sha256: string; testAccuracy?: number; layer: string; dataset?: string };
  source: { checkpoint?: string; checkpointSha256?: string; method?: string; step?: number; params?: number; sequentialCalls?: number; samplesDir?: string };
  settings: { n: number; seed: number; solver?: string; odeSteps?: number; cfg?: number[]; cfgSchedule?: string; temperature?: number; batch?: number;
    cfgInterval?: [number, number]; timeShift?: number; sdeNoise?: number };
  rows: MetricRow[];
  realData: MetricRow;
  date: string;
}

export function reportMarkdown(r: Report, others: Report[] = []): string {
  const all = [r, ...others];
  const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const lines = [`# nestar evaluation`, '',
    `- dataset: ${r.dataset} (${r.split} split, reference N = ${r.referenceN})`,
    `- feature net: sha256 ${r.featureNet.sha256} (${r.featureNet.layer}${r.featureNet.testAccuracy !== undefined ? `, test accuracy ${(100 * r.featureNet.testAccuracy).toFixed(2)} %` : ''})`,
    `- source: ${r.source.checkpoint ? `checkpoint ${r.source.checkpoint} (${r.source.method}, step ${r.source.step}, sha256 ${r.source.checkpointSha256})` : `samples ${r.source.samplesDir}`}`,
    `- settings: N = ${r.settings.n}, seed ${r.settings.seed}` + (r.settings.solver ? `, ${r.settings.solver} with ${r.settings.odeSteps} ODE steps, CFG ${r.settings.cfg?.join(', ')} (${r.settings.cfgSchedule}), temperature ${r.settings.temperature}`
      + (r.settings.cfgInterval ? `, guidance interval [${r.settings.cfgInterval.join(', ')}]` : '') + (r.settings.timeShift !== undefined ? `, time shift ${r.settings.timeShift}` : '')
      + (r.settings.sdeNoise !== undefined ? `, SDE noise ${r.settings.sdeNoise}` : '') : ''),
    `- command: \`${r.command}\``, '',
    '| set | N | CFG | FD ↓ | IS ↑ | precision | recall | density | coverage | per-class recall | per-class coverage | memorised | sampling s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  const row = (m: MetricRow, tag = '') => `| ${m.label}${tag} | ${m.n} | ${m.cfg ?? '–'} | ${fmt(m.fd, 2)} | ${fmt(m.is, 2)} | ${fmt(m.precision)} | ${fmt(m.recall)} | ${fmt(m.density)} | ${fmt(m.coverage)} | ` +
    `${fmt(m.perClassRecall)} | ${fmt(m.perClassCoverage)} | ${m.memorisation === null ? '–' : (100 * m.memorisation).toFixed(2) + ' %'} | ${m.samplingSeconds === undefined ? '–' : m.samplingSeconds.toFixed(1)} |`;
  for (const rep of all) for (const m of rep.rows) lines.push(row(m, rep === r ? '' : ` (${rep.source.method ?? rep.source.samplesDir})`));
  lines.push(row(r.realData));
  lines.push('', 'Class histogram of samples (feature-net predictions):', '');
  for (const rep of all) for (const m of rep.rows) lines.push(`- ${m.label}${m.cfg !== undefined ? ` (CFG ${m.cfg})` : ''}: ${m.classHistogram.join(', ')}`);
  return lines.join('\n') + '\n';
}

/** Refuses to put reports side by side unless they used the same feature net. */
export function checkComparable(a: Report, b: Report, bPath: string): void {
  if (a.featureNet.sha256 !== b.featureNet.sha256) {
    throw new Error(`${bPath} was made with feature net ${b.featureNet.sha256.slice(0, 12)}…, this report with ${a.featureNet.sha256.slice(0, 12)}…; numbers from different feature nets are not comparable`);
  }
}

export type { ImageDataset };
