// A small convolutional KL autoencoder (LDM/MAR-style continuous tokenizer): the encoder maps an image to
// a mean and log-variance per latent cell, the decoder maps latents back to pixels. Downsampling is
// space-to-depth (and upsampling depth-to-space) followed by 3×3 convs: only reshapes, transposes and
// stride-1 convolutions, so every tfjs backend can run and differentiate it.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../util/configError.js';
import { ParamStore } from '../model/params.js';
import { conv2dAuto } from '../model/conv.js';
import { silu } from '../model/layers.js';
import type { Rng } from '../util/rng.js';

/** KL autoencoder settings: image size and channels, downsampling factor, latent channels, width, seed. */
export interface KLAutoencoderConfig {
  imageSize: number;
  channels: number;
  /** Spatial downsampling factor: 4 or 8 (a power of 2 ≥ 2). */
  factor: number;
  latentChannels: number;
  /** Hidden channels of the convolutions. */
  width: number;
  /** Hidden channels of the decoder's convolutions (default: width); a wider decoder reconstructs more detail. */
  decoderWidth?: number;
  seed: number;
}

export const defaultKLAutoencoderConfig: KLAutoencoderConfig = { imageSize: 32, channels: 1, factor: 4, latentChannels: 4, width: 48, seed: 0 };

/** An autoencoder config with defaults filled and every field checked. */
export function resolveKLAutoencoderConfig(input: Partial<KLAutoencoderConfig>): KLAutoencoderConfig {
  const c = { ...defaultKLAutoencoderConfig, ...input };
  for (const f of ['imageSize', 'channels', 'factor', 'latentChannels', 'width'] as const) {
    if (!Number.isInteger(c[f]) || c[f] < 1) throw new ConfigError(`tokenizer.${f} must be a positive integer, got ${JSON.stringify(c[f])}`);
  }
  if (c.decoderWidth !== undefined && (!Number.isInteger(c.decoderWidth) || c.decoderWidth < 1)) {
    throw new ConfigError(`tokenizer.decoderWidth must be a positive integer, got ${JSON.stringify(c.decoderWidth)}`);
  }
  if (c.factor < 2 || (c.factor & (c.factor - 1)) !== 0) throw new ConfigError(`tokenizer.factor must be a power of 2 such as 4 or 8, got ${c.factor}`);
  if (c.imageSize % c.factor !== 0) throw new ConfigError(`tokenizer.factor ${c.factor} must divide the image size ${c.imageSize}`);
  return c;
}

interface Conv { w: tf.Variable; b: tf.Variable }

/** [N, H, W, C] -> [N, H/2, W/2, 4C] with only 4-D transposes. */
export function spaceToDepth(x: tf.Tensor4D): tf.Tensor4D {
  const [N, H, W, C] = x.shape;
  const a = tf.reshape(x, [N * (H / 2), 2, W / 2, 2 * C]);
  return tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [N, H / 2, W / 2, 4 * C]);
}

/** The inverse of spaceToDepth: [N, h, w, 4C] -> [N, 2h, 2w, C]. */
export function depthToSpace(x: tf.Tensor4D): tf.Tensor4D {
  const [N, h, w, C4] = x.shape;
  const a = tf.reshape(x, [N * h, w, 2, C4 / 2]);
  return tf.reshape(tf.transpose(a, [0, 2, 1, 3]), [N, 2 * h, 2 * w, C4 / 4]);
}

/** A convolutional KL autoencoder that maps images to latent grids and back. */
export class KLAutoencoder {
  readonly params: ParamStore;
  readonly config: KLAutoencoderConfig;
  private readonly enc: Conv[] = [];
  private readonly dec: Conv[] = [];
  private readonly stages: number;

  constructor(config: Partial<KLAutoencoderConfig>) {
    this.config = resolveKLAutoencoderConfig(config);
    const { channels: C, width: W, latentChannels: Z, factor, seed } = this.config;
    this.params = new ParamStore(seed);
    this.stages = Math.log2(factor);
    const conv = (name: string, i: number, o: number, zero = false): Conv => ({
      w: this.params.create(`${name}.w`, [3, 3, i, o], zero ? { kind: 'zeros' } : { kind: 'normal', std: Math.sqrt(2 / (9 * i)) }),
      b: this.params.create(`${name}.b`, [o], { kind: 'zeros' }),
    });
    // Encoder: in → per stage (space-to-depth, conv, conv) → mean and log-variance.
    this.enc.push(conv('enc.in', C, W));
    for (let s = 0; s < this.stages; s++) this.enc.push(conv(`enc.down${s}.a`, 4 * W, W), conv(`enc.down${s}.b`, W, W));
    this.enc.push(conv('enc.out', W, 2 * Z));
    // Decoder: in → per stage (conv, conv to 4D, depth-to-space) → out, D hidden channels.
    const D = this.config.decoderWidth ?? W;
    this.dec.push(conv('dec.in', Z, D));
    for (let s = 0; s < this.stages; s++) this.dec.push(conv(`dec.up${s}.a`, D, D), conv(`dec.up${s}.b`, D, 4 * D));
    this.dec.push(conv('dec.out', D, C));
  }

  get latentSize(): number { return this.config.imageSize / this.config.factor; }

  private apply(c: Conv, x: tf.Tensor4D): tf.Tensor4D {
    return tf.add(conv2dAuto(x, c.w as tf.Tensor4D), c.b) as tf.Tensor4D;
  }

  /** images [N, S, S, C] in [-1, 1] -> posterior mean and log-variance [N, h, h, Z] (log-variance clamped to [-30, 20]). */
  encode(x: tf.Tensor4D): { mean: tf.Tensor4D; logvar: tf.Tensor4D } {
    let h = silu(this.apply(this.enc[0]!, x)) as tf.Tensor4D;
    for (let s = 0; s < this.stages; s++) {
      h = silu(this.apply(this.enc[1 + 2 * s]!, spaceToDepth(h))) as tf.Tensor4D;
      h = silu(this.apply(this.enc[2 + 2 * s]!, h)) as tf.Tensor4D;
    }
    const out = this.apply(this.enc[this.enc.length - 1]!, h);
    const Z = this.config.latentChannels;
    const [mean, logvar] = tf.split(out, [Z, Z], 3) as [tf.Tensor4D, tf.Tensor4D];
    return { mean, logvar: tf.clipByValue(logvar, -30, 20) };
  }

  /** latents [N, h, h, Z] -> images [N, S, S, C] (unclamped). */
  decode(z: tf.Tensor4D): tf.Tensor4D {
    let h = silu(this.apply(this.dec[0]!, z)) as tf.Tensor4D;
    for (let s = 0; s < this.stages; s++) {
      h = silu(this.apply(this.dec[1 + 2 * s]!, h)) as tf.Tensor4D;
      h = silu(depthToSpace(this.apply(this.dec[2 + 2 * s]!, h))) as tf.Tensor4D;
    }
    return this.apply(this.dec[this.dec.length - 1]!, h);
  }

  /**
   * Training loss: reconstruction (L1 or L2, mean per pixel) of a posterior sample + klWeight · KL to N(0, I)
   * (mean per latent element) + each extra term's weight · its value on (reconstruction, original) — the
   * perceptual and adversarial terms (perceptualLoss.ts, patchDiscriminator.ts). Returns the reconstruction too.
   */
  loss(x: tf.Tensor4D, rng: Rng, opts: { recon: 'l1' | 'l2'; klWeight: number; terms?: Array<{ weight: number; f: (y: tf.Tensor4D, x: tf.Tensor4D) => tf.Scalar }> }): { total: tf.Scalar; recon: tf.Scalar; kl: tf.Scalar; terms: tf.Scalar[]; y: tf.Tensor4D } {
    const { mean, logvar } = this.encode(x);
    const eps = tf.randomNormal(mean.shape, 0, 1, 'float32', rng.seed());
    const z = tf.add(mean, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps)) as tf.Tensor4D;
    const y = this.decode(z);
    const diff = tf.sub(y, x);
    const recon = tf.mean(opts.recon === 'l1' ? tf.abs(diff) : tf.square(diff)) as tf.Scalar;
    const kl = tf.mul(0.5, tf.mean(tf.sub(tf.add(tf.square(mean), tf.exp(logvar)), tf.add(1, logvar)))) as tf.Scalar;
    let total = tf.add(recon, tf.mul(kl, opts.klWeight)) as tf.Scalar;
    const terms: tf.Scalar[] = [];
    for (const term of opts.terms ?? []) {
      const v = term.f(y, x);
      terms.push(v);
      total = tf.add(total, tf.mul(v, term.weight)) as tf.Scalar;
    }
    return { total, recon, kl, terms, y };
  }

  /** Frees the autoencoder's variables. */
  dispose(): void {
    this.params.dispose();
  }
}
