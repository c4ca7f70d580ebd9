// The evaluation feature network (evaluation.md): a small LeNet-like CNN classifier trained by the
// project on the real training split with a fixed seed. Features = its penultimate layer (128-d, after
// ReLU). Its weights are saved as safetensors, and their SHA-256 identifies it in every report.
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParamStore } from '../model/params.js';
import { conv2dAuto as conv } from '../model/conv.js';
import { applyLinear, linear, type Linear } from '../model/layers.js';
import { AdamW, learningRate } from '../train/optimizer.js';
import { Rng, permutation } from '../util/rng.js';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { decodeSafetensors, encodeSafetensors } from '../util/safetensors.js';
import { assignVariables, exportVariables } from '../train/weights.js';
import type { ImageDataset } from '../data/dataset.js';

export const FEATURE_DIM = 128;

export interface FeatureNetConfig { imageSize: number; channels: number; numClasses: number; seed: number; epochs: number; batchSize: number; lr: number }

export class FeatureNet {
  readonly ps: ParamStore;
  private readonly c1w: tf.Variable; private readonly c1b: tf.Variable;
  private readonly c2w: tf.Variable; private readonly c2b: tf.Variable;
  private readonly fc: Linear; private readonly out: Linear;

  constructor(readonly config: FeatureNetConfig) {
    const { channels: C, imageSize: S, numClasses: K, seed } = config;
    if (S % 4 !== 0) throw new Error(`feature net: image size ${S} must be a multiple of 4`);
    const ps = (this.ps = new ParamStore(seed));
    this.c1w = ps.create('conv1.w', [5, 5, C, 32], { kind: 'normal', std: Math.sqrt(2 / (25 * C)) });
    this.c1b = ps.create('conv1.b', [32], { kind: 'zeros' });
    this.c2w = ps.create('conv2.w', [5, 5, 32, 64], { kind: 'normal', std: Math.sqrt(2 / (25 * 32)) });
    this.c2b = ps.create('conv2.b', [64], { kind: 'zeros' });
    this.fc = linear(ps, 'fc', (S / 4) * (S / 4) * 64, FEATURE_DIM);
    this.out = linear(ps, 'out', FEATURE_DIM, K);
  }

  /** images NHWC [-1, 1] -> {features [N, 128], logits [N, K]}. */
  forward(x_NHWC: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    const h1 = tf.maxPool(tf.relu(tf.add(conv(x_NHWC, this.c1w as tf.Tensor4D), this.c1b)) as tf.Tensor4D, 2, 2, "valid");
    const h2 = tf.maxPool(tf.relu(tf.add(conv(h1 as tf.Tensor4D, this.c2w as tf.Tensor4D), this.c2b)) as tf.Tensor4D, 2, 2, "valid");
    const features = tf.relu(applyLinear(this.fc, tf.reshape(h2, [x_NHWC.shape[0], -1]))) as tf.Tensor2D;
    return { features, logits: applyLinear(this.out, features) as tf.Tensor2D };
  }

  /** The two convolutions' ReLU activations (before pooling): [N, S, S, 32] and [N, S/2, S/2, 64]; the layers a perceptual loss compares. */
  convActivations(x_NHWC: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const a1 = tf.relu(tf.add(conv(x_NHWC, this.c1w as tf.Tensor4D), this.c1b)) as tf.Tensor4D;
    const a2 = tf.relu(tf.add(conv(tf.maxPool(a1, 2, 2, 'valid'), this.c2w as tf.Tensor4D), this.c2b)) as tf.Tensor4D;
    return [a1, a2];
  }

  /** SHA-256 of the safetensors bytes of the weights. */
  hash(): string {
    return createHash('sha256').update(this.weightBytes()).digest('hex');
  }

  weightBytes(): Uint8Array {
    return encodeSafetensors(exportVariables(this.ps.vars), { config: JSON.stringify(this.config) });
  }

  save(dir: string): string {
    const bytes = this.weightBytes();
    atomicWriteFile(join(dir, 'feature-net.safetensors'), bytes);
    const hash = createHash('sha256').update(bytes).digest('hex');
    atomicWriteFile(join(dir, 'feature-net.json'), JSON.stringify({ config: this.config, sha256: hash }, null, 1) + '\n');
    return hash;
  }

  static load(dir: string): FeatureNet {
    const p = join(dir, 'feature-net.safetensors');
    if (!existsSync(p)) throw new Error(`feature net: ${p} does not exist (run \`nestar train-features\`)`);
    const { tensors, metadata } = decodeSafetensors(readFileSync(p), p);
    const net = new FeatureNet(JSON.parse(metadata.config ?? 'null') ?? (() => { throw new Error(`${p}: no config in its metadata`); })());
    assignVariables(net.ps.vars, tensors, p);
    return net;
  }

  /** Features and class probabilities of a whole image set, in batches. */
  embed(images: { data: Float32Array; count: number; height: number; width: number; channels: number }, batch = 500): { features: Float32Array; probs: Float32Array } {
    const { count, height: H, width: W, channels: C } = images;
    const features = new Float32Array(count * FEATURE_DIM), probs = new Float32Array(count * this.config.numClasses);
    for (let i = 0; i < count; i += batch) {
      const b = Math.min(batch, count - i);
      const [f, p] = tf.tidy(() => {
        const x = tf.tensor4d(images.data.subarray(i * H * W * C, (i + b) * H * W * C), [b, H, W, C]);
        const o = this.forward(x);
        return [o.features, tf.softmax(o.logits)];
      });
      features.set(f!.dataSync(), i * FEATURE_DIM);
      probs.set(p!.dataSync(), i * this.config.numClasses);
      tf.dispose([f!, p!]);
    }
    return { features, probs };
  }

  accuracy(ds: ImageDataset): number {
    const { probs } = this.embed(ds);
    const K = this.config.numClasses;
    let ok = 0;
    for (let i = 0; i < ds.count; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (probs[i * K + k]! > probs[i * K + best]!) best = k;
      if (best === ds.labels[i]) ok++;
    }
    return ok / ds.count;
  }

  /** Trains on a labelled set; deterministic for a seed on one backend. */
  train(ds: ImageDataset, onStep?: (step: number, total: number, loss: number) => void): void {
    const { batchSize: B, epochs, lr, seed, numClasses: K } = this.config;
    const rng = new Rng(seed + 1);
    const opt = new AdamW(this.ps.vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    const per = ds.height * ds.width * ds.channels;
    const stepsPerEpoch = Math.floor(ds.count / B);
    const total = epochs * stepsPerEpoch;
    let step = 0;
    for (let e = 0; e < epochs; e++) {
      const order = permutation(ds.count, rng);
      for (let s = 0; s < stepsPerEpoch; s++) {
        const xb = new Float32Array(B * per), yb = new Int32Array(B);
        for (let i = 0; i < B; i++) {
          const j = order[s * B + i]!;
          xb.set(ds.data.subarray(j * per, (j + 1) * per), i * per);
          yb[i] = ds.labels[j]!;
        }
        const x = tf.tensor4d(xb, [B, ds.height, ds.width, ds.channels]);
        const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(yb, 'int32'), K), 'float32'));
        const { value, grads } = this.ps.grads(() => tf.losses.softmaxCrossEntropy(y, this.forward(x).logits) as tf.Scalar);
        opt.apply(grads, learningRate(step, total, lr, Math.min(100, total / 10), 0.02));
        const loss = value.dataSync()[0]!;
        tf.dispose([x, y, value, ...grads.values()]);
        step++;
        onStep?.(step, total, loss);
      }
    }
    opt.dispose();
  }

  dispose(): void {
    this.ps.dispose();
  }
}

export const defaultFeatureNetConfig: FeatureNetConfig = { imageSize: 32, channels: 1, numClasses: 10, seed: 0, epochs: 3, batchSize: 64, lr: 2e-3 };
