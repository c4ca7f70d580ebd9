// `nestar eval`: generate N samples from a checkpoint (or read a folder of PNGs), embed them with the
// feature net, and score them against the real test images — FD, IS, precision/recall, density/coverage,
// per-class recall/coverage, class histogram, memorisation, sampling time. Reports list every setting
// and both hashes (checkpoint, feature net); a "real data" row (test vs train images) gives the scale.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evenlySpaced, type ImageDataset } from '../data/dataset.js';
import type { ImageBatch } from '../util/imageBatch.js';
import { FEATURE_DIM, FeatureNet } from './featureNet.js';
import {
  densityCoverage, frechetDistance, gaussianOf, inceptionScore, medianPairDistance, memorisationRate, NEAR_DUPLICATE_FRACTION,
  nearDuplicateRate, nearestDistances, precisionRecall, type DistanceRows, type FeatureSet,
} from './metrics.js';

export interface Embedded { features: FeatureSet; probs: Float32Array; labels: Int32Array; classes: number }

export interface MetricRow {
  label: string; n: number; cfg?: number;
  fd: number; is: number; precision: number; recall: number; density: number; coverage: number;
  perClassRecall: number | null; perClassCoverage: number | null; classHistogram: number[];
  memorisation: number | null; samplingSeconds?: number;
  /** Per-class fraction of near-duplicate pairs (nearDuplicateThreshold); absent in reports made before it. */
  nearDuplicates?: number | null;
}

const thresholds = new WeakMap<FeatureSet, number[]>();
/**
 * The near-duplicate distance of each class of a report: a fixed fraction of the median pairwise distance among the
 * reference set's images of that class (classes are far apart, so one global scale would call every pair of a class
 * close), indexed by class, with the whole reference set's value last for unlabelled samples and classes with fewer
 * than two reference images.
 */
export function nearDuplicateThresholds(real: Embedded, rows: DistanceRows): number[] {
  let t = thresholds.get(real.features);
  if (t === undefined) {
    const all = NEAR_DUPLICATE_FRACTION * medianPairDistance(real.features, 1000, rows);
    t = Array.from({ length: real.classes }, (_, c) => {
      const of = subsetRows(real, (i) => real.labels[i] === c);
      return of.count >= 2 ? NEAR_DUPLICATE_FRACTION * medianPairDistance(of, 1000, rows) : all;
    });
    t.push(all);
    thresholds.set(real.features, t);
  }
  return t;
}

export function embed(net: FeatureNet, images: ImageBatch, labels: Int32Array): Embedded {
  const { features, probs } = net.embed(images);
  return { features: { data: features, count: images.count, dim: FEATURE_DIM }, probs, labels, classes: net.config.numClasses };
}

/**
 * The real-data row's images: m of the training split's, evenly spaced over it (every (count/m)-th). Emoji and
 * folder splits are sorted by class, so the first m would hold the first classes only (the first 500 emoji
 * training images are 2 of the 9 categories), which inflated that row's FD; evenly spaced rows keep each class
 * in proportion, and on an unsorted set (MNIST) they are as good as any other m.
 */
export function spreadSubset(e: Embedded, m: number): Embedded {
  const n = e.features.count, F = e.features.dim, K = e.classes;
  if (!Number.isInteger(m) || m < 1 || m > n) throw new Error(`spreadSubset: m must be an integer in 1..${n}, got ${m}`);
  const features = new Float32Array(m * F), probs = new Float32Array(m * K), labels = new Int32Array(m);
  const idx = evenlySpaced(n, m);
  for (let i = 0; i < m; i++) {
    const j = idx[i]!;
    features.set(e.features.data.subarray(j * F, (j + 1) * F), i * F);
    probs.set(e.probs.subarray(j * K, (j + 1) * K), i * K);
    labels[i] = e.labels[j]!;
  }
  return { features: { data: features, count: m, dim: F }, probs, labels, classes: K };
}

/** How `nestar eval` chooses the classes of a conditional model's samples (recorded in every report). */
export const CLASS_CHOICE = 'in proportion to the training split, interleaved';

/**
 * The class of each of n samples for a conditional model: in proportion to the training split's labels, interleaved
 * (smooth weighted round-robin: each position goes to the class furthest behind its share), so every batch and the
 * first rows of a grid hold every class in its share. Scored against held-out images that keep the split's class
 * proportions, samples drawn class by class in turn were off-distribution on an unbalanced set (emoji: 60 % of its
 * images are People & Body); on a balanced set this is taking the classes in turn, and MNIST's are close to it.
 * With no labelled training image of the model's K classes (an unlabelled folder), every sample is unconditional (-1).
 */
export function proportionalClasses(trainLabels: Int32Array, K: number, n: number): Int32Array {
  const counts = new Float64Array(K);
  for (const l of trainLabels) if (l >= 0 && l < K) counts[l]!++;
  const total = counts.reduce((a, b) => a + b, 0), out = new Int32Array(n).fill(-1);
  if (!total) return out;
  const credit = new Float64Array(K); // in units of 1/total, so whole numbers: ties break the same way everywhere
  for (let t = 0; t < n; t++) {
    let best = 0;
    for (let c = 0; c < K; c++) {
      credit[c]! += counts[c]!;
      if (credit[c]! > credit[best]!) best = c;
    }
    credit[best]! -= total;
    out[t] = best;
  }
  return out;
}

/** The "real data" row: N training images (evenly spaced over the split) scored against the held-out ones as if
 * generated, for scale (k-NN radii over all 60k MNIST images would cost 3.6e9 distances; N matches the samples). */
export function realDataRow(heldout: Embedded, train: Embedded, n: number, source: string, rows: DistanceRows): MetricRow {
  const m = Math.min(n, train.features.count);
  return { ...scoreSet(`real data (${m} train, evenly spaced, vs ${source === 'mnist' ? 'test' : 'held-out'})`, heldout, spreadSubset(train, m), rows), memorisation: null };
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
  const dupThresholds = nearDuplicateThresholds(real, rows);
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
    nearDuplicates: nearDuplicateRate(gen.features, gen.labels, (c) => dupThresholds[c < 0 || c >= K ? K : c]!, rows),
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
    cfgInterval?: [number, number]; timeShift?: number; sdeNoise?: number;
    /** How sample classes were chosen; absent in reports made before, which took the classes in turn. */
    classes?: string };
  rows: MetricRow[];
  realData: MetricRow;
  /** How rows' nearDuplicates were counted (absent in reports made before it). */
  nearDuplicates?: { thresholds: number[]; rule: string };
  date: string;
}

/** The rule behind MetricRow.nearDuplicates, as reports state it. */
export const NEAR_DUPLICATE_RULE = `pairs of one class no further apart than ${NEAR_DUPLICATE_FRACTION} x the median pairwise distance of the reference images of that class (thresholds by class, the last for unlabelled samples), averaged over classes`;

export function reportMarkdown(r: Report, others: Report[] = []): string {
  const all = [r, ...others];
  const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const lines = [`# nestar evaluation`, '',
    `- dataset: ${r.dataset} (${r.split} split, reference N = ${r.referenceN})`,
    `- feature net: sha256 ${r.featureNet.sha256} (${r.featureNet.layer}${r.featureNet.testAccuracy !== undefined ? `, test accuracy ${(100 * r.featureNet.testAccuracy).toFixed(2)} %` : ''})`,
    `- source: ${r.source.checkpoint ? `checkpoint ${r.source.checkpoint} (${r.source.method}, step ${r.source.step}, sha256 ${r.source.checkpointSha256})` : `samples ${r.source.samplesDir}`}`,
    `- settings: N = ${r.settings.n}, seed ${r.settings.seed}` + (r.settings.solver ? `, ${r.settings.solver} with ${r.settings.odeSteps} ODE steps, CFG ${r.settings.cfg?.join(', ')} (${r.settings.cfgSchedule}), temperature ${r.settings.temperature}`
      + (r.settings.cfgInterval ? `, guidance interval [${r.settings.cfgInterval.join(', ')}]` : '') + (r.settings.timeShift !== undefined ? `, time shift ${r.settings.timeShift}` : '')
      + (r.settings.sdeNoise !== undefined ? `, SDE noise ${r.settings.sdeNoise}` : '') + (r.settings.classes ? `, classes ${r.settings.classes}` : '') : ''),
    ...(r.nearDuplicates ? [`- near-duplicate pairs: ${r.nearDuplicates.rule} (thresholds ${r.nearDuplicates.thresholds.map((t) => t.toFixed(3)).join(', ')})`] : []),
    `- command: \`${r.command}\``, '',
    '| set | N | CFG | FD ↓ | IS ↑ | precision | recall | density | coverage | per-class recall | per-class coverage | memorised | near-duplicate pairs | sampling s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  const row = (m: MetricRow, tag = '') => `| ${m.label}${tag} | ${m.n} | ${m.cfg ?? '–'} | ${fmt(m.fd, 2)} | ${fmt(m.is, 2)} | ${fmt(m.precision)} | ${fmt(m.recall)} | ${fmt(m.density)} | ${fmt(m.coverage)} | ` +
    `${fmt(m.perClassRecall)} | ${fmt(m.perClassCoverage)} | ${m.memorisation === null ? '–' : (100 * m.memorisation).toFixed(2) + ' %'} | ` +
    `${m.nearDuplicates === null || m.nearDuplicates === undefined ? '–' : (100 * m.nearDuplicates).toFixed(2) + ' %'} | ${m.samplingSeconds === undefined ? '–' : m.samplingSeconds.toFixed(1)} |`;
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
