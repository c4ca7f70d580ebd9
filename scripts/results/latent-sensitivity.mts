// Issue #20's latent study, first two questions, measured without training anything: on MNIST the latent runs
// were weak for every method (best FD ≈ 33) although the tokenizer reconstructs well (FD 0.41). Is the latent
// space harder to *model* than pixel patches, or does it *amplify* a generator's token errors?
//  1. Sensitivity: held-out test images are encoded, Gaussian noise of σ × (each token channel's standard
//     deviation) is added to every token, the tokens are decoded, and FD to the clean images is measured in the
//     MNIST feature net's space. A space whose FD climbs faster in σ punishes the same relative token error more.
//  2. Predictability: the share of each token channel's variance that a least-squares fit on its left, upper and
//     upper-left neighbours explains (R², interior grid cells), as a crude measure of how locally smooth the
//     token field is for an autoregressive model.
// Both for the pixel-patch tokenizer of the shipped 3600-step NestAR and the KL tokenizer of checkpoints/mnist-latent.
// Writes results/mnist-latent/sensitivity.json. Usage: node --import tsx scripts/results/latent-sensitivity.mts
import { writeFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.ts';
import { loadPipeline } from '../../src/pipeline.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { ensureFeatureNet } from '../../src/eval/featureNets.ts';
import { frechetDistance, gaussianOf } from '../../src/eval/metrics.ts';
import { meanCov, symmetricFunction } from '../../src/eval/linalg.ts';
import { mortonToRowCol } from '../../src/model/zorder.ts';
import { Rng } from '../../src/util/rng.ts';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.ts';
import type { ImageBatch } from '../../src/tokenizer/patchTokenizer.ts';

const N = Number(process.env.N ?? 2000), SIGMAS = [0, 0.05, 0.1, 0.2, 0.3, 0.5];
const backend = await initBackend();
const { net } = ensureFeatureNet('checkpoints/features/mnist');
const images = loadMnist({ split: 'test', limit: N });
const feats = (b: ImageBatch) => { const f = net.embed(b).features; return gaussianOf({ data: Float64Array.from(f), count: b.count, dim: f.length / b.count }); };
const clean = feats(images);

/** Mean over channels of R² of a least-squares fit of each token from its left, up and up-left neighbours (+1). */
function neighbourR2(t: Float32Array, count: number, grid: number, D: number): number {
  const n = grid * grid, at = new Int32Array(n);
  for (let m = 0; m < n; m++) { const [r, c] = mortonToRowCol(m); at[r * grid + c] = m; }
  // Normal equations A w_d = b_d share A = XᵀX over every channel d.
  const P = 3 * D + 1, A = new Float64Array(P * P), b = new Float64Array(P * D), ys = new Float64Array(D), yq = new Float64Array(D);
  const x = new Float64Array(P);
  let rows = 0;
  for (let i = 0; i < count; i++) for (let r = 1; r < grid; r++) for (let c = 1; c < grid; c++) {
    [at[r * grid + c - 1]!, at[(r - 1) * grid + c]!, at[(r - 1) * grid + c - 1]!].forEach((m, k) => x.set(t.subarray((i * n + m) * D, (i * n + m + 1) * D), k * D));
    x[P - 1] = 1;
    const y = t.subarray((i * n + at[r * grid + c]!) * D, (i * n + at[r * grid + c]! + 1) * D);
    for (let p = 0; p < P; p++) { for (let q = 0; q < P; q++) A[p * P + q]! += x[p]! * x[q]!; for (let d = 0; d < D; d++) b[p * D + d]! += x[p]! * y[d]!; }
    for (let d = 0; d < D; d++) { ys[d]! += y[d]!; yq[d]! += y[d]! ** 2; }
    rows++;
  }
  // Least squares through the pseudo-inverse of A (symmetric PSD; directions with tiny eigenvalues dropped): the residual
  // sum of squares of channel d is yᵀy − b_dᵀ A⁺ b_d.
  let trace = 0;
  for (let p = 0; p < P; p++) trace += A[p * P + p]!;
  const pinv = symmetricFunction(A, P, (v) => (v > 1e-10 * trace ? 1 / v : 0));
  let sum = 0;
  for (let d = 0; d < D; d++) {
    let fit = 0;
    for (let p = 0; p < P; p++) for (let q = 0; q < P; q++) fit += b[p * D + d]! * pinv[p * P + q]! * b[q * D + d]!;
    sum += 1 - (yq[d]! - fit) / (yq[d]! - ys[d]! ** 2 / rows);
  }
  return sum / D;
}

const tokenizers: Record<string, Tokenizer> = {
  'pixel patches (4×4, 16-d)': loadPipeline('checkpoints/mnist-patch/long/nestar-3600').tokenizer,
  'KL latents (factor 4, 4-d, normalised)': loadPipeline('checkpoints/mnist-latent/nestar').tokenizer,
};
const out: Record<string, unknown> = {};
for (const [name, tok] of Object.entries(tokenizers)) {
  const tokens = tok.encode(images), D = tok.tokenDim, rng = new Rng(7);
  const { cov } = meanCov(tokens, tokens.length / D, D), std = Array.from({ length: D }, (_, d) => Math.sqrt(cov[d * D + d]!));
  const fd: Record<string, number> = {};
  for (const s of SIGMAS) {
    const noisy = tokens.map((v, i) => v + s * std[i % D]! * rng.normal());
    fd[String(s)] = frechetDistance(clean, feats(tok.decode(noisy, N)));
  }
  const r2 = neighbourR2(tokens, N, tok.gridSize, D);
  out[name] = { grid: tok.gridSize, tokenDim: D, channelStd: std, fdBySigma: fd, neighbourR2: r2 };
  console.log(`${name}: FD by σ ${Object.entries(fd).map(([s, v]) => `${s}: ${v.toFixed(2)}`).join(', ')}; neighbour R² ${r2.toFixed(3)}`);
}
writeFileSync('results/mnist-latent/sensitivity.json', JSON.stringify({
  command: 'node --import tsx scripts/results/latent-sensitivity.mts', backend: backend.name, date: new Date().toISOString(),
  images: `${N} MNIST test images; MNIST feature net, checkpoints/features/mnist`, sigmas: SIGMAS, tokenizers: out,
}, null, 1) + '\n');
