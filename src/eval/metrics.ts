// Sample-quality metrics on feature vectors (evaluation.md): Fréchet distance, the Inception-score analogue,
// precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020), memorisation.
// Features in, numbers out: they work on any image set.
import { matmul, meanCov, symmetricFunction } from './linalg.js';

export interface FeatureSet { data: Float32Array | Float64Array; count: number; dim: number }

export interface Gaussian { mu: Float64Array; cov: Float64Array; dim: number }

export function gaussianOf(f: FeatureSet): Gaussian {
  return { ...meanCov(f.data, f.count, f.dim), dim: f.dim };
}

/**
 * ||μ_r − μ_g||² + Tr(Σ_r + Σ_g − 2 (Σ_r^{1/2} Σ_g Σ_r^{1/2})^{1/2}), in float64. The square root is taken of the
 * symmetric PSD matrix Σ_r^{1/2} Σ_g Σ_r^{1/2} (same trace as (Σ_r Σ_g)^{1/2}), so it is stable.
 */
export function frechetDistance(r: Gaussian, g: Gaussian): number {
  const n = r.dim;
  if (g.dim !== n) throw new Error(`Fréchet distance: feature sizes differ (${n} vs ${g.dim})`);
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (r.mu[i]! - g.mu[i]!) ** 2;
  const sr = symmetricFunction(r.cov, n, (x) => Math.sqrt(Math.max(x, 0)));
  const m = matmul(matmul(sr, g.cov, n), sr, n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) { const v = (m[i * n + j]! + m[j * n + i]!) / 2; m[i * n + j] = v; m[j * n + i] = v; }
  const root = symmetricFunction(m, n, (x) => Math.sqrt(Math.max(x, 0)));
  let tr = 0;
  for (let i = 0; i < n; i++) tr += r.cov[i * n + i]! + g.cov[i * n + i]! - 2 * root[i * n + i]!;
  return d2 + tr;
}

/** exp(E_x KL(p(y|x) || p(y))) from class probabilities [N, K]. */
export function inceptionScore(probs: ArrayLike<number>, N: number, K: number): number {
  const py = new Float64Array(K);
  for (let i = 0; i < N; i++) for (let k = 0; k < K; k++) py[k]! += probs[i * K + k]! / N;
  let kl = 0;
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < K; k++) {
      const p = probs[i * K + k]!;
      if (p > 0) kl += p * (Math.log(p) - Math.log(py[k]!));
    }
  }
  return Math.exp(kl / N);
}

/**
 * Streams squared Euclidean distances: calls cb(i, row) for every row i of a, with row[j] = |a_i − b_j|².
 * Streaming keeps 10k x 10k evaluations out of memory; `row` is only valid during the call.
 */
export type DistanceRows = (a: FeatureSet, b: FeatureSet, cb: (i: number, row: Float64Array | Float32Array) => void) => void;

/** Float64 reference implementation (plain JS). */
export const jsDistanceRows: DistanceRows = (a, b, cb) => {
  const F = a.dim, row = new Float64Array(b.count);
  for (let i = 0; i < a.count; i++) {
    for (let j = 0; j < b.count; j++) {
      let s = 0;
      for (let f = 0; f < F; f++) { const d = a.data[i * F + f]! - b.data[j * F + f]!; s += d * d; }
      row[j] = s;
    }
    cb(i, row);
  }
};

function kthSmallest(a: ArrayLike<number>, k: number, skip: number): number {
  // Partial selection is enough for small k: keep the k smallest seen.
  const best = new Array<number>(k).fill(Infinity);
  for (let i = 0; i < a.length; i++) {
    if (i === skip) continue;
    const v = a[i]!;
    if (v < best[k - 1]!) {
      let j = k - 1;
      while (j > 0 && best[j - 1]! > v) { best[j] = best[j - 1]!; j--; }
      best[j] = v;
    }
  }
  return best[k - 1]!;
}

/** Distance from each row to its k-th nearest other row (self excluded). */
export function kthNeighbourRadii(x: FeatureSet, k: number, rows: DistanceRows = jsDistanceRows): Float64Array {
  if (x.count <= k) throw new Error(`k-NN radii need more than k=${k} samples, got ${x.count}`);
  const radii = new Float64Array(x.count);
  rows(x, x, (i, row) => { radii[i] = Math.sqrt(Math.max(0, kthSmallest(row, k, i))); });
  return radii;
}

/** Fraction of `query` rows inside the union of the k-NN balls (radii) around `support` rows. */
function insideManifold(support: FeatureSet, radii: Float64Array, query: FeatureSet, rows: DistanceRows): number {
  const r2 = radii.map((r) => r * r);
  let inside = 0;
  rows(query, support, (_, row) => {
    for (let j = 0; j < support.count; j++) if (row[j]! <= r2[j]!) { inside++; return; }
  });
  return inside / query.count;
}

/** Precision and recall with k-NN manifolds (k = 3 by default). */
export function precisionRecall(real: FeatureSet, fake: FeatureSet, k = 3, rows: DistanceRows = jsDistanceRows): { precision: number; recall: number } {
  return {
    precision: insideManifold(real, kthNeighbourRadii(real, k, rows), fake, rows),
    recall: insideManifold(fake, kthNeighbourRadii(fake, k, rows), real, rows),
  };
}

/** Density and coverage (k = 5 by default). */
export function densityCoverage(real: FeatureSet, fake: FeatureSet, k = 5, rows: DistanceRows = jsDistanceRows): { density: number; coverage: number } {
  const r2 = kthNeighbourRadii(real, k, rows).map((r) => r * r);
  const R = real.count;
  let count = 0;
  const covered = new Uint8Array(R);
  rows(fake, real, (_, row) => {
    for (let i = 0; i < R; i++) if (row[i]! <= r2[i]!) { count++; covered[i] = 1; }
  });
  let cov = 0;
  for (let i = 0; i < R; i++) cov += covered[i]!;
  return { density: count / (k * fake.count), coverage: cov / R };
}

/** Distance from each query row to its nearest row of `ref`. */
export function nearestDistances(query: FeatureSet, ref: FeatureSet, rows: DistanceRows = jsDistanceRows): Float64Array {
  const out = new Float64Array(query.count);
  rows(query, ref, (i, row) => {
    let m = Infinity;
    for (let j = 0; j < row.length; j++) if (row[j]! < m) m = row[j]!;
    out[i] = Math.sqrt(Math.max(0, m));
  });
  return out;
}

/**
 * Memorisation: the fraction of samples whose nearest training image is closer than the nearest that any
 * test image comes to the training set (a held-out image never gets that close, so a sample that does
 * is likely a copy).
 */
export function memorisationRate(samplesToTrain: Float64Array, testToTrain: Float64Array): { rate: number; threshold: number } {
  let threshold = Infinity;
  for (const d of testToTrain) threshold = Math.min(threshold, d);
  let c = 0;
  for (const d of samplesToTrain) if (d < threshold) c++;
  return { rate: c / samplesToTrain.length, threshold };
}

/** Near-duplicate threshold as a fraction of the reference set's median pairwise distance (see nearDuplicateRate). */
export const NEAR_DUPLICATE_FRACTION = 0.1;

/**
 * Median distance between two different rows of `x`, over at most `maxRows` rows evenly spaced (the scale the
 * near-duplicate threshold is a fraction of: the same for every row of a report, since it is read off the reference).
 */
export function medianPairDistance(x: FeatureSet, maxRows = 1000, rows: DistanceRows = jsDistanceRows): number {
  const m = Math.min(x.count, maxRows);
  if (m < 2) throw new Error(`the median pair distance needs at least 2 rows, got ${x.count}`);
  const sub = pickRows(x, Array.from({ length: m }, (_, i) => Math.floor((i * x.count) / m)));
  const d = new Float64Array((m * (m - 1)) / 2);
  let k = 0;
  rows(sub, sub, (i, row) => { for (let j = i + 1; j < m; j++) d[k++] = row[j]!; });
  d.sort();
  const mid = d.length >> 1;
  return Math.sqrt(Math.max(0, d.length % 2 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2));
}

function pickRows(x: FeatureSet, idx: number[]): FeatureSet {
  const F = x.dim, data = new Float64Array(idx.length * F);
  idx.forEach((j, r) => { for (let f = 0; f < F; f++) data[r * F + f] = x.data[j * F + f]!; });
  return { data, count: idx.length, dim: F };
}

/**
 * Mode collapse inside a class: for each class (label; unlabelled rows, label < 0, form one group) with two or
 * more rows, the fraction of its pairs no further apart than the class's threshold (a number for every class, or
 * one per class), averaged over those classes. All rows equal → 1; all rows further apart than the threshold → 0;
 * null when no class has two rows.
 */
export function nearDuplicateRate(x: FeatureSet, labels: ArrayLike<number>, threshold: number | ((label: number) => number), rows: DistanceRows = jsDistanceRows): number | null {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < x.count; i++) {
    const c = labels[i]! < 0 ? -1 : labels[i]!;
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c)!.push(i);
  }
  let sum = 0, scored = 0;
  for (const [c, idx] of groups) {
    const n = idx.length;
    if (n < 2) continue;
    const t = typeof threshold === 'number' ? threshold : threshold(c), t2 = t * t;
    let close = 0;
    const sub = pickRows(x, idx);
    rows(sub, sub, (i, row) => { for (let j = i + 1; j < n; j++) if (row[j]! <= t2) close++; });
    sum += close / ((n * (n - 1)) / 2);
    scored++;
  }
  return scored ? sum / scored : null;
}
