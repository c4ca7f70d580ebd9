// What the generators need from a tokenizer: images <-> Morton-ordered continuous tokens on a square grid.
import type { ImageBatch } from '../util/imageBatch.js';

/** Images to token grids and back (pixel patches or latents). */
export interface Tokenizer {
  readonly kind: 'patch' | 'kl';
  /** Pixel side and channels of the images it takes and gives back. */
  readonly imageSize: number;
  readonly channels: number;
  readonly gridSize: number;
  readonly tokenDim: number;
  readonly numTokens: number;
  /** images [N, S, S, C] in [-1, 1] -> tokens [N, n, D] (Morton order). */
  encode(images: ImageBatch): Float32Array;
  /** tokens [N, n, D] -> images [N, S, S, C] in [-1, 1]. */
  decode(tokens: Float32Array, count: number): ImageBatch;
}
