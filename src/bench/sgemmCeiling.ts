// The machine's sgemm ceiling as the benchmarks quote it: the median GFLOP/s of seven 1024³ OpenBLAS sgemm calls
// through the native pack, in the calling process (so with its BLAS thread setting). Undefined without the pack.
import { nativeAddon } from '../engine/backend.js';

export function sgemmCeilingGflops(): number | undefined {
  const addon = nativeAddon();
  if (!addon) return undefined;
  const n = 1024, a = new Float32Array(n * n).fill(0.5), b = new Float32Array(n * n).fill(0.25), c = new Float32Array(n * n);
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    addon.sgemm(a, b, c, 1, n, n, n, false, false, 0, 0, 0);
    runs.push((2 * n ** 3) / ((performance.now() - t0) / 1000) / 1e9);
  }
  return runs.sort((p, q) => p - q)[3];
}
