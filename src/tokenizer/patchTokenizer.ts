// Exactly invertible pixel-patch tokenizer: each p x p x C block of pixels is one continuous token of
// p*p*C channels. Tokens are laid out in Z-order (Morton), the order every model here generates in.
import { mortonToRaster } from '../model/zorder.js';
import type { Tokenizer } from './tokenizer.js';
import type { ImageBatch } from '../util/imageBatch.js';


/** Pixel patches as tokens (exactly invertible): p×p×C pixels per token on an (S/p)×(S/p) grid. */
export class PatchTokenizer implements Tokenizer {
  readonly kind = 'patch' as const;
  readonly gridSize: number;
  readonly tokenDim: number;
  private readonly order: Int32Array;

  constructor(readonly imageSize: number, readonly channels: number, readonly patch: number) {
    if (!Number.isInteger(patch) || patch < 1 || imageSize % patch !== 0) {
      throw new Error(`tokenizer.patch=${patch} must divide the image size ${imageSize}`);
    }
    this.gridSize = imageSize / patch;
    this.tokenDim = patch * patch * channels;
    this.order = mortonToRaster(this.gridSize);
  }

  get numTokens(): number {
    return this.gridSize * this.gridSize;
  }

  /** images [N, S, S, C] -> tokens [N, n, D] in Morton order. */
  encode(images: ImageBatch): Float32Array {
    const { count, height, width, channels } = images;
    if (height !== this.imageSize || width !== this.imageSize || channels !== this.channels) {
      throw new Error(`tokenizer expects ${this.imageSize}x${this.imageSize}x${this.channels} images, got ${height}x${width}x${channels}`);
    }
    const out = new Float32Array(count * this.numTokens * this.tokenDim);
    this.walk(count, (src, dst) => { out[dst] = images.data[src]!; });
    return out;
  }

  /** tokens [N, n, D] (Morton order) -> images [N, S, S, C]. */
  decode(tokens: Float32Array, count: number): ImageBatch {
    const data = new Float32Array(count * this.imageSize * this.imageSize * this.channels);
    this.walk(count, (src, dst) => { data[src] = tokens[dst]!; });
    return { data, count, height: this.imageSize, width: this.imageSize, channels: this.channels };
  }

  /** Calls f(pixelIndex, tokenValueIndex) for every pixel value. */
  private walk(count: number, f: (src: number, dst: number) => void): void {
    const { imageSize: S, channels: C, patch: p, gridSize: g, tokenDim: D } = this;
    const n = g * g;
    for (let b = 0; b < count; b++) {
      for (let t = 0; t < n; t++) {
        const raster = this.order[t]!;
        const gr = Math.floor(raster / g), gc = raster % g;
        let d = (b * n + t) * D;
        for (let py = 0; py < p; py++) {
          for (let px = 0; px < p; px++) {
            const src = ((b * S + gr * p + py) * S + gc * p + px) * C;
            for (let c = 0; c < C; c++) f(src + c, d++);
          }
        }
      }
    }
  }
}
