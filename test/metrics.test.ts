import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setup } from './helpers.js';
import { densityCoverage, frechetDistance, gaussianOf, inceptionScore, jsDistanceRows, kthNeighbourRadii, medianPairDistance, memorisationRate, nearDuplicateRate, precisionRecall, type FeatureSet } from '../src/eval/metrics.js';
import { tfDistanceRows } from '../src/eval/tfDistance.js';
import { symmetricEigen } from '../src/eval/linalg.js';
import { Rng } from '../src/util/rng.js';

before(setup);
const fx = JSON.parse(readFileSync(new URL('./fixtures/metrics.json', import.meta.url), 'utf8'));
const set = (data: number[], dim: number): FeatureSet => ({ data: Float64Array.from(data), count: data.length / dim, dim });

test('Fréchet distance equals the closed form for Gaussians, and matches SciPy on random features', () => {
  // Diagonal covariances: FD = |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2.
  const d = 4, mu1 = [0, 1, 2, 3], mu2 = [1, 1, 0, 3], s1 = [1, 4, 9, 0.25], s2 = [4, 1, 9, 1];
  const diag = (s: number[]) => { const c = new Float64Array(d * d); s.forEach((v, i) => { c[i * d + i] = v; }); return c; };
  const fd = frechetDistance({ mu: Float64Array.from(mu1), cov: diag(s1), dim: d }, { mu: Float64Array.from(mu2), cov: diag(s2), dim: d });
  const want = mu1.reduce((a, m, i) => a + (m - mu2[i]!) ** 2, 0) + s1.reduce((a, s, i) => a + (Math.sqrt(s) - Math.sqrt(s2[i]!)) ** 2, 0);
  assert.ok(Math.abs(fd - want) < 1e-9, `${fd} vs ${want}`);
  // Same Gaussian: zero. A rotated (non-commuting) pair: against scipy.linalg.sqrtm on the fixture.
  const g = gaussianOf(set(fx.real, fx.dim));
  assert.ok(Math.abs(frechetDistance(g, g)) < 1e-9);
  const got = frechetDistance(g, gaussianOf(set(fx.fake, fx.dim)));
  assert.ok(Math.abs(got - fx.fd) / fx.fd < 1e-6, `FD ${got} vs SciPy ${fx.fd}`);
});

test('Fréchet distance is invariant to sample order', () => {
  const real = set(fx.real, fx.dim), fake = set(fx.fake, fx.dim);
  const rng = new Rng(3);
  const rows = Array.from({ length: fake.count }, (_, i) => i).sort(() => rng.next() - 0.5);
  const shuffled: FeatureSet = { ...fake, data: Float64Array.from(rows.flatMap((r) => Array.from(fake.data.subarray(r * fx.dim, (r + 1) * fx.dim)))) };
  const a = frechetDistance(gaussianOf(real), gaussianOf(fake)), b = frechetDistance(gaussianOf(real), gaussianOf(shuffled));
  assert.ok(Math.abs(a - b) < 1e-9 * a);
});

test('Jacobi eigen-decomposition reconstructs a symmetric matrix', () => {
  const n = 5, rng = new Rng(1), A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) { const v = rng.normal(); A[i * n + j] = v; A[j * n + i] = v; }
  const { w, V } = symmetricEigen(A, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += V[i * n + k]! * w[k]! * V[j * n + k]!;
    assert.ok(Math.abs(s - A[i * n + j]!) < 1e-10);
  }
});

test('precision/recall (k=3), density/coverage (k=5) and IS match the NumPy/SciPy reference', () => {
  const real = set(fx.real, fx.dim), fake = set(fx.fake, fx.dim);
  for (const rows of [jsDistanceRows, tfDistanceRows(7)]) {
    const pr = precisionRecall(real, fake, 3, rows), dc = densityCoverage(real, fake, 5, rows);
    assert.ok(Math.abs(pr.precision - fx.precision) < 1e-9 && Math.abs(pr.recall - fx.recall) < 1e-9, JSON.stringify(pr));
    assert.ok(Math.abs(dc.density - fx.density) < 1e-9 && Math.abs(dc.coverage - fx.coverage) < 1e-9, JSON.stringify(dc));
  }
  const is = inceptionScore(Float64Array.from(fx.probs), fx.probs.length / fx.classes, fx.classes);
  assert.ok(Math.abs(is - fx.is) < 1e-9);
});

test('identical sets give recall and coverage 1; one repeated image gives recall near 0', () => {
  const real = set(fx.real, fx.dim);
  const pr = precisionRecall(real, real), dc = densityCoverage(real, real);
  assert.equal(pr.recall, 1);
  assert.equal(pr.precision, 1);
  assert.equal(dc.coverage, 1);
  const one = Array.from(real.data.subarray(0, fx.dim));
  const repeated = set(Array.from({ length: 50 }, () => one).flat(), fx.dim);
  assert.ok(precisionRecall(real, repeated).recall < 0.05);
});

// Cases small enough to work out by hand, for the boundaries the reference fixtures never hit (issue #23's
// mutation run left these alive): a point exactly on a k-NN ball's surface is inside (Kynkäänniemi et al.
// use ≤), a sample exactly as close to the training set as the closest test image is not memorised, zero
// probabilities add nothing to IS, and mismatched sizes are refused with the sizes named.
test('metric boundaries worked out by hand: ties, zero probabilities, size errors', () => {
  const real = set([0, 1, 2, 3], 1), fake = set([4, 5], 1);
  // k = 1: every real radius is 1 and every fake radius is 1. Fake 4 lies on the ball of real 3, fake 5 does
  // not; real 3 lies on the ball of fake 4, reals 0..2 do not.
  assert.deepEqual(precisionRecall(real, fake, 1), { precision: 0.5, recall: 0.25 });
  // k = 1 as well: fake 4 is on real 3's ball only; fake 5 on none.
  assert.deepEqual(densityCoverage(real, fake, 1), { density: 0.5, coverage: 0.25 });
  assert.deepEqual(Array.from(kthNeighbourRadii(set([0, 0, 0, 5], 1), 2)), [0, 0, 0, 5]);
  assert.throws(() => kthNeighbourRadii(set([0, 1, 2], 1), 3), /more than k=3 samples, got 3/);
  assert.deepEqual(memorisationRate(Float64Array.from([1, 2, 3]), Float64Array.from([2, 4])), { rate: 1 / 3, threshold: 2 });
  // One-hot predictions spread evenly over K classes: IS is exactly K.
  const K = 4, oneHot = Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : 0));
  assert.ok(Math.abs(inceptionScore(oneHot, K, K) - K) < 1e-12, `IS ${inceptionScore(oneHot, K, K)}`);
  const g2 = gaussianOf(set([0, 0, 1, 1, 2, 0], 2)), g3 = gaussianOf(set([0, 0, 0, 1, 1, 1], 3));
  assert.throws(() => frechetDistance(g2, g3), /feature sizes differ \(2 vs 3\)/);
});

// The near-duplicate measure of mode collapse (issue #49), on sets built so the answer is known, with both
// distance paths (float64 JS, float32 tfjs as nestar eval uses).
test('near-duplicate pairs: all equal -> 1, all distinct -> 0, a worked mixed case, per class', () => {
  for (const rows of [jsDistanceRows, tfDistanceRows()]) {
    const equal = set(Array.from({ length: 8 }, () => [3, -1, 2]).flat(), 3);
    assert.equal(nearDuplicateRate(equal, new Int32Array(8), 0.5, rows), 1);
    const distinct = set(Array.from({ length: 8 }, (_, i) => [10 * i, 0, 0]).flat(), 3);
    assert.equal(nearDuplicateRate(distinct, new Int32Array(8), 0.5, rows), 0);
    // Class 0: three copies of one point and one far point (3 of 6 pairs close); class 1: two far points (0 of 1);
    // class 2 has one row (not scored). Mean over the two scored classes: 0.25.
    const mixed = set([0, 0, 0, 0, 0, 0, 9, 9, 50, 50, 80, 80, 5, 5], 2);
    assert.ok(Math.abs(nearDuplicateRate(mixed, Int32Array.from([0, 0, 0, 0, 1, 1, 2]), 1, rows)! - 0.25) < 1e-12);
    // Unlabelled rows (-1) are one group; a pair exactly at the threshold counts as close.
    assert.equal(nearDuplicateRate(set([0, 1, 5], 1), Int32Array.from([-1, -1, -1]), 1, rows), 1 / 3);
    assert.equal(nearDuplicateRate(set([0, 1], 1), Int32Array.from([0, 1]), 1, rows), null);
  }
  // Pairwise distances of 0, 1, 3 on a line: 1, 3, 2 -> median 2; with two rows the one distance.
  assert.equal(medianPairDistance(set([0, 1, 3], 1)), 2);
  assert.equal(medianPairDistance(set([0, 4], 1)), 4);
  assert.throws(() => medianPairDistance(set([1], 1)), /at least 2 rows, got 1/);
});
