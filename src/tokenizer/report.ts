// The tokenizer report (issue #7): reconstruction PSNR and the Fréchet distance of reconstructions to the
// originals in the evaluation feature space, on held-out images, plus a PNG of originals beside
// reconstructions. Reconstructions go through the same path generation uses: encode → normalise →
// tokens → decode.
import type { ImageBatch } from '../util/imageBatch.js';
import type { Tokenizer } from './tokenizer.js';
import type { FeatureNet } from '../eval/featureNet.js';
import { frechetDistance, gaussianOf } from '../eval/metrics.js';
import { writeImageGrid } from '../util/png.js';

/** A tokenizer's reconstruction PSNR, FD and latent statistics. */
export interface TokenizerReport {
  images: number;
  /** Mean over images of 10·log10(peak² / MSE), peak-to-peak 2 for pixels in [-1, 1]. */
  psnr: number;
  mse: number;
  /** FD between feature-net features of reconstructions and of the originals (null without a feature net). */
  fdReconstruction: number | null;
  tokens: { grid: number; tokenDim: number };
}

export function reconstruct(tok: Tokenizer, images: ImageBatch): ImageBatch {
  return tok.decode(tok.encode(images), images.count);
}

/** Reconstruction quality of a tokenizer on `images`: PSNR and, with a feature net, FD. */
export function tokenizerReport(tok: Tokenizer, images: ImageBatch, net: FeatureNet | null): { report: TokenizerReport; recon: ImageBatch } {
  const recon = reconstruct(tok, images);
  const per = images.height * images.width * images.channels;
  let psnrSum = 0, mseSum = 0;
  for (let i = 0; i < images.count; i++) {
    let se = 0;
    for (let j = i * per; j < (i + 1) * per; j++) se += (recon.data[j]! - images.data[j]!) ** 2;
    const mse = se / per;
    mseSum += mse;
    psnrSum += 10 * Math.log10(4 / Math.max(mse, 1e-12));
  }
  let fd: number | null = null;
  if (net) {
    const a = net.embed(images).features, b = net.embed(recon).features, dim = a.length / images.count;
    fd = frechetDistance(gaussianOf({ data: a, count: images.count, dim }), gaussianOf({ data: b, count: images.count, dim }));
  }
  return { report: { images: images.count, psnr: psnrSum / images.count, mse: mseSum / images.count, fdReconstruction: fd, tokens: { grid: tok.gridSize, tokenDim: tok.tokenDim } }, recon };
}

/** PNG with rows of originals and, under each, their reconstructions (`pairs` images, 8 per row). */
export function writeReconstructionGrid(path: string, images: ImageBatch, recon: ImageBatch, pairs = 32): void {
  const n = Math.min(pairs, images.count), cols = 8, per = images.height * images.width * images.channels;
  const rows = Math.ceil(n / cols), data = new Float32Array(rows * 2 * cols * per).fill(-1);
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / cols), c = i % cols;
    data.set(images.data.subarray(i * per, (i + 1) * per), ((2 * r) * cols + c) * per);
    data.set(recon.data.subarray(i * per, (i + 1) * per), ((2 * r + 1) * cols + c) * per);
  }
  writeImageGrid(path, { ...images, data, count: rows * 2 * cols }, cols);
}
