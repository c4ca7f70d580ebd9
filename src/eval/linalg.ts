// Float64 linear algebra for the metrics: means, covariances, and the symmetric eigendecomposition
// (cyclic Jacobi) that the Fréchet distance's matrix square root needs. Matrices are row-major Float64Array.

/** Mean [F] and unbiased covariance [F, F] of rows x [N, F] (any numeric array). */
export function meanCov(x: ArrayLike<number>, N: number, F: number): { mu: Float64Array; cov: Float64Array } {
  if (N < 2) throw new Error(`covariance needs at least 2 samples, got ${N}`);
  const mu = new Float64Array(F);
  for (let i = 0; i < N; i++) for (let f = 0; f < F; f++) mu[f]! += x[i * F + f]!;
  for (let f = 0; f < F; f++) mu[f]! /= N;
  const cov = new Float64Array(F * F);
  const row = new Float64Array(F);
  for (let i = 0; i < N; i++) {
    for (let f = 0; f < F; f++) row[f] = x[i * F + f]! - mu[f]!;
    for (let a = 0; a < F; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      for (let b = a; b < F; b++) cov[a * F + b]! += ra * row[b]!;
    }
  }
  for (let a = 0; a < F; a++) {
    for (let b = a; b < F; b++) {
      const v = cov[a * F + b]! / (N - 1);
      cov[a * F + b] = v;
      cov[b * F + a] = v;
    }
  }
  return { mu, cov };
}

/** Eigen-decomposition of a symmetric matrix: A = V diag(w) Vᵀ (columns of V are eigenvectors). */
export function symmetricEigen(A: Float64Array, n: number, maxSweeps = 100): { w: Float64Array; V: Float64Array } {
  const a = Float64Array.from(A);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0, diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p]! ** 2;
      for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!, akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!, aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!, vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = a[i * n + i]!;
  return { w, V };
}

/** V diag(f(w)) Vᵀ for a symmetric matrix (negative eigenvalues from rounding are clamped to 0 by f's caller). */
export function symmetricFunction(A: Float64Array, n: number, f: (x: number) => number): Float64Array {
  const { w, V } = symmetricEigen(A, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const fk = f(w[k]!);
    if (fk === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = V[i * n + k]! * fk;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * V[j * n + k]!;
    }
  }
  return out;
}

export function matmul(A: Float64Array, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = A[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) C[i * n + j]! += aik * B[k * n + j]!;
    }
  }
  return C;
}
