// Tokens from a trained KL autoencoder: the posterior mean of each latent cell (deterministic), shifted and
// scaled per channel by statistics measured on the training set (so the generator sees unit-variance
// tokens, as MAR/LDM do), then grouped p×p into tokens in Z-order. Browser-safe: no file access.
import * as tf from '@tensorflow/tfjs-core';
import { KLAutoencoder, type KLAutoencoderConfig } from './klAutoencoder.js';
import { PatchTokenizer } from './patchTokenizer.js';
import type { ImageBatch } from '../util/imageBatch.js';
import type { Tokenizer } from './tokenizer.js';
import { assignVariables } from '../train/weights.js';
import type { NamedArray } from '../util/safetensors.js';

/** Per-latent-channel mean and standard deviation over the training set. */
export interface LatentStats { mean: number[]; std: number[]; images: number }

/** What a checkpoint records about its tokenizer (the weights travel in tokenizer.safetensors). */
export interface LatentTokenizerState { config: KLAutoencoderConfig; stats: LatentStats; patch: number; source: string }

const BATCH = 256;

/** Latent tokens: a trained KL autoencoder's normalised latents, p×p cells per token. */
export class LatentTokenizer implements Tokenizer {
  readonly kind = 'kl' as const;
  private readonly grouping: PatchTokenizer;

  constructor(readonly ae: KLAutoencoder, readonly stats: LatentStats, readonly patch: number, readonly source: string) {
    const Z = ae.config.latentChannels;
    if (stats.mean.length !== Z || stats.std.length !== Z || stats.std.some((s) => !(s > 0))) {
      throw new Error(`tokenizer ${source}: latent statistics must give ${Z} means and ${Z} positive standard deviations`);
    }
    this.grouping = new PatchTokenizer(ae.latentSize, Z, patch);
  }

  /** A latent tokenizer from its saved state and weights (`source` and `file` name them in errors). */
  static fromParts(state: LatentTokenizerState, weights: Record<string, NamedArray>, source: string, file = 'tokenizer.safetensors'): LatentTokenizer {
    const ae = new KLAutoencoder(state.config);
    try {
      assignVariables(ae.params.vars, weights, `${source}/${file}`);
    } catch (e) {
      ae.dispose();
      throw e;
    }
    return new LatentTokenizer(ae, state.stats, state.patch, source);
  }

  get imageSize(): number { return this.ae.config.imageSize; }
  get channels(): number { return this.ae.config.channels; }
  get gridSize(): number { return this.grouping.gridSize; }
  get tokenDim(): number { return this.grouping.tokenDim; }
  get numTokens(): number { return this.grouping.numTokens; }

  /** The config and latent statistics a checkpoint saves. */
  state(): LatentTokenizerState {
    return { config: this.ae.config, stats: this.stats, patch: this.patch, source: this.source };
  }

  /** Normalised posterior means [N, h, h, Z] of a batch of images. */
  latents(images: ImageBatch): Float32Array {
    const { imageSize: S, channels: C } = this;
    if (images.height !== S || images.width !== S || images.channels !== C) {
      throw new Error(`tokenizer ${this.source} expects ${S}x${S}x${C} images, got ${images.height}x${images.width}x${images.channels}`);
    }
    const h = this.ae.latentSize, Z = this.ae.config.latentChannels, per = h * h * Z;
    const out = new Float32Array(images.count * per);
    for (let i = 0; i < images.count; i += BATCH) {
      const n = Math.min(BATCH, images.count - i);
      const z = tf.tidy(() => {
        const x = tf.tensor4d(images.data.subarray(i * S * S * C, (i + n) * S * S * C), [n, S, S, C]);
        const { mean } = this.ae.encode(x);
        return tf.div(tf.sub(mean, tf.tensor1d(this.stats.mean)), tf.tensor1d(this.stats.std));
      });
      out.set(z.dataSync() as Float32Array, i * per);
      z.dispose();
    }
    return out;
  }

  encode(images: ImageBatch): Float32Array {
    const h = this.ae.latentSize, Z = this.ae.config.latentChannels;
    return this.grouping.encode({ data: this.latents(images), count: images.count, height: h, width: h, channels: Z });
  }

  decode(tokens: Float32Array, count: number): ImageBatch {
    const lat = this.grouping.decode(tokens, count).data;
    const { imageSize: S, channels: C } = this, h = this.ae.latentSize, Z = this.ae.config.latentChannels;
    const out = new Float32Array(count * S * S * C);
    for (let i = 0; i < count; i += BATCH) {
      const n = Math.min(BATCH, count - i);
      const y = tf.tidy(() => {
        const z = tf.add(tf.mul(tf.tensor4d(lat.subarray(i * h * h * Z, (i + n) * h * h * Z), [n, h, h, Z]), tf.tensor1d(this.stats.std)), tf.tensor1d(this.stats.mean));
        return tf.clipByValue(this.ae.decode(z as tf.Tensor4D), -1, 1);
      });
      out.set(y.dataSync() as Float32Array, i * S * S * C);
      y.dispose();
    }
    return { data: out, count, height: S, width: S, channels: C };
  }

  /** Frees the autoencoder. */
  dispose(): void {
    this.ae.dispose();
  }
}

/** Per-channel mean and std of the posterior means of `images` (first `limit` of them). */
export function measureLatentStats(ae: KLAutoencoder, images: ImageBatch, limit: number): LatentStats {
  const count = Math.min(limit, images.count);
  const Z = ae.config.latentChannels;
  const unit = new LatentTokenizer(ae, { mean: new Array(Z).fill(0), std: new Array(Z).fill(1), images: 0 }, 1, 'unnormalised');
  const lat = unit.latents({ ...images, count, data: images.data.subarray(0, count * images.height * images.width * images.channels) });
  const sum = new Float64Array(Z), sq = new Float64Array(Z);
  for (let i = 0; i < lat.length; i++) { const z = i % Z, v = lat[i]!; sum[z] = sum[z]! + v; sq[z] = sq[z]! + v * v; }
  const per = lat.length / Z;
  const mean = Array.from(sum, (s) => s / per);
  const std = Array.from(sq, (s, z) => Math.sqrt(Math.max(s / per - mean[z]! ** 2, 1e-12)));
  return { mean, std, images: count };
}
