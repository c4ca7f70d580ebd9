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

/** Squared Euclidean distances between every row of a [Na, F] and b [Nb, F], as a row-major Float64Array. */
export type DistanceFn = (a: FeatureSet, b: FeatureSet) => Float64Array;

export const pairwiseSqDistances: DistanceFn = (a, b) => {
  const F = a.dim, out = new Float64Array(a.count * b.count);
  const nb = new Float64Array(b.count);
  for (let j = 0; j < b.count; j++) { let s = 0; for (let f = 0; f < F; f++) s += b.data[j * F + f]! ** 2; nb[j] = s; }
  for (let i = 0; i < a.count; i++) {
    let na = 0;
    for (let f = 0; f < F; f++) na += a.data[i * F + f]! ** 2;
    for (let j = 0; j < b.count; j++) {
      let dot = 0;
      for (let f = 0; f < F; f++) dot += a.data[i * F + f]! * b.data[j * F + f]!;
      out[i * b.count + j] = Math.max(0, na + nb[j]! - 2 * dot);
    }
  }
  return out;
};

/** Distance from each row to its k-th nearest other row (self excluded), as plain distances. */
export function kthNeighbourRadii(x: FeatureSet, k: number, dist: DistanceFn = pairwiseSqDistances): Float64Array {
  if (x.count <= k) throw new Error(`k-NN radii need more than k=${k} samples, got ${x.count}`);
  const d = dist(x, x), N = x.count, radii = new Float64Array(N);
  const row = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    row.set(d.subarray(i * N, (i + 1) * N));
    row[i] = Infinity;
    radii[i] = Math.sqrt(kthSmallest(row, k));
  }
  return radii;
}

function kthSmallest(a: Float64Array, k: number): number {
  // Partial selection is enough for small k: keep the k smallest seen.
  const best = new Array<number>(k).fill(Infinity);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < best[k - 1]!) {
      let j = k - 1;
      while (j > 0 && best[j - 1]! > v) { best[j] = best[j - 1]!; j--; }
      best[j] = v;
    }
  }
  return best[k - 1]!;
}

/** Precision and recall with k-NN manifolds (k = 3 by default). */
export function precisionRecall(real: FeatureSet, fake: FeatureSet, k = 3, dist: DistanceFn = pairwiseSqDistances): { precision: number; recall: number } {
  return { precision: manifoldCoverage(real, fake, k, dist), recall: manifoldCoverage(fake, real, k, dist) };
}

/** Fraction of `query` rows inside the union of k-NN balls around `support` rows. */
function manifoldCoverage(support: FeatureSet, query: FeatureSet, k: number, dist: DistanceFn): number {
  const radii = kthNeighbourRadii(support, k, dist);
  const d = dist(query, support);
  let inside = 0;
  for (let i = 0; i < query.count; i++) {
    for (let j = 0; j < support.count; j++) {
      if (Math.sqrt(d[i * support.count + j]!) <= radii[j]!) { inside++; break; }
    }
  }
  return inside / query.count;
}

/** Density and coverage (k = 5 by default). */
export function densityCoverage(real: FeatureSet, fake: FeatureSet, k = 5, dist: DistanceFn = pairwiseSqDistances): { density: number; coverage: number } {
  const radii = kthNeighbourRadii(real, k, dist);
  const d = dist(fake, real); // [fake, real]
  const R = real.count, M = fake.count;
  let count = 0;
  const covered = new Uint8Array(R);
  for (let j = 0; j < M; j++) {
    for (let i = 0; i < R; i++) {
      if (Math.sqrt(d[j * R + i]!) <= radii[i]!) { count++; covered[i] = 1; }
    }
  }
  let cov = 0;
  for (let i = 0; i < R; i++) cov += covered[i]!;
  return { density: count / (k * M), coverage: cov / R };
}

/** Distance from each query row to its nearest row of `ref`. */
export function nearestDistances(query: FeatureSet, ref: FeatureSet, dist: DistanceFn = pairwiseSqDistances): Float64Array {
  const d = dist(query, ref), out = new Float64Array(query.count);
  for (let i = 0; i < query.count; i++) {
    let m = Infinity;
    for (let j = 0; j < ref.count; j++) m = Math.min(m, d[i * ref.count + j]!);
    out[i] = Math.sqrt(m);
  }
  return out;
}

/**
 * Memorisation: the fraction of samples whose nearest training image is closer than the nearest that any
 * test image comes to the training set (a held-out image never gets that close, so a sample that does
 * is likely a copy).
 */
export function memorisationRate(samplesToTrain: Float64Array, testToTrain: Float64Array): { rate: number; threshold: number } {
  const threshold = Math.min(...testToTrain);
  let c = 0;
  for (const d of samplesToTrain) if (d < threshold) c++;
  return { rate: c / samplesToTrain.length, threshold };
}
