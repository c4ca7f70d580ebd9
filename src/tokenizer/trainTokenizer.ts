// Training the KL autoencoder tokenizer: AdamW with warm-up/cosine LR and clipping, atomic checkpoints with
// exact resume (weights, moments, RNG, data cursor), and the latent statistics measured on the training set
// stored in every checkpoint, so any checkpoint is a usable tokenizer.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../util/configError.js';
import { KLAutoencoder, resolveKLAutoencoderConfig, type KLAutoencoderConfig } from './klAutoencoder.js';
import { LatentTokenizer, measureLatentStats, type LatentStats } from './latentTokenizer.js';
import type { ImageDataset } from '../data/dataset.js';
import { loadTrainingData } from '../data/load.js';
import type { DataConfig } from '../data/dataConfig.js';
import { AdamW, clipByGlobalNorm, learningRate } from '../train/optimizer.js';
import { readCheckpointFiles, requireSafetensorsFile, saveCheckpoint } from '../train/checkpoint.js';
import { assignVariables, exportVariables } from '../train/weights.js';
import { acquireRunLock } from '../train/runLock.js';
import { Rng, type RngState } from '../util/rng.js';
import { DataCursor } from '../train/dataCursor.js';
import type { FeatureNet } from '../eval/featureNet.js';
import { readTokenizerSource, TOKENIZER_FORMAT, type TokenizerSource } from './checkpointInfo.js';

export { TOKENIZER_FORMAT };

export interface TokenizerTrainConfig {
  steps: number; batchSize: number; lr: number; warmupSteps: number; minLrRatio: number; weightDecay: number;
  beta1: number; beta2: number; gradClip: number; recon: 'l1' | 'l2'; klWeight: number; perceptualWeight: number;
  seed: number; checkpointEvery: number; keepCheckpoints: number;
  /** Training images used to measure the latent statistics. */
  statsImages: number;
}

/** A tokenizer run's config: autoencoder, data and training sections. */
export interface TokenizerRunConfig { tokenizer: KLAutoencoderConfig; data: DataConfig; train: TokenizerTrainConfig }

export const defaultTokenizerTrainConfig: TokenizerTrainConfig = {
  steps: 2000, batchSize: 64, lr: 2e-3, warmupSteps: 50, minLrRatio: 0.05, weightDecay: 0, beta1: 0.9, beta2: 0.99, gradClip: 1,
  recon: 'l1', klWeight: 1e-4, perceptualWeight: 0, seed: 0, checkpointEvery: 250, keepCheckpoints: 2, statsImages: 5000,
};

/** A tokenizer run config with defaults filled and every field checked. */
export function resolveTokenizerRunConfig(input: { tokenizer?: Partial<KLAutoencoderConfig>; data?: Partial<DataConfig>; train?: Partial<TokenizerTrainConfig> }): TokenizerRunConfig {
  for (const k of Object.keys(input.train ?? {})) {
    if (!(k in defaultTokenizerTrainConfig)) throw new ConfigError(`train.${k} is not a known tokenizer setting; known: ${Object.keys(defaultTokenizerTrainConfig).join(', ')}`);
  }
  const data: DataConfig = { source: 'mnist', imageSize: 32, channels: 1, ...input.data };
  const train: TokenizerTrainConfig = { ...defaultTokenizerTrainConfig, ...input.train };
  for (const f of ['steps', 'batchSize', 'checkpointEvery', 'keepCheckpoints', 'statsImages'] as const) {
    if (!Number.isInteger(train[f]) || train[f] < 1) throw new ConfigError(`train.${f} must be a positive integer, got ${JSON.stringify(train[f])}`);
  }
  if (!Number.isInteger(train.seed) || train.seed < 0) throw new ConfigError(`train.seed must be a non-negative integer, got ${JSON.stringify(train.seed)}`);
  for (const f of ['lr', 'klWeight', 'perceptualWeight', 'weightDecay', 'gradClip'] as const) {
    if (typeof train[f] !== 'number' || !(train[f] >= 0) || (f === 'lr' && train.lr === 0)) throw new ConfigError(`train.${f} must be ${f === 'lr' ? 'positive' : 'non-negative'}, got ${JSON.stringify(train[f])}`);
  }
  if (train.recon !== 'l1' && train.recon !== 'l2') throw new ConfigError(`train.recon must be 'l1' or 'l2', got ${JSON.stringify(train.recon)}`);
  const tokenizer = resolveKLAutoencoderConfig({ ...input.tokenizer, imageSize: data.imageSize, channels: data.channels, seed: train.seed });
  return { tokenizer, data, train };
}

export interface TokenizerState {
  format: typeof TOKENIZER_FORMAT;
  config: TokenizerRunConfig;
  step: number;
  optimizer: { t: number };
  rng: { data: RngState; noise: RngState; epochStart: RngState };
  data: { epoch: number; cursor: number };
  losses: Array<[number, number, number]>;
  /** Latent statistics measured when the checkpoint was written. */
  stats: LatentStats;
  backend: string;
  savedAt: string;
}

export interface TokenizerStepLog { step: number; loss: number; recon: number; kl: number; lr: number }

/** Trains the KL autoencoder tokenizer with resumable checkpoints. */
export class TokenizerTrainer {
  readonly ae: KLAutoencoder;
  readonly optimizer: AdamW;
  step = 0;
  losses: Array<[number, number, number]> = [];
  private readonly data: ImageDataset;
  private cursor: DataCursor;
  private rngNoise: Rng;
  private readonly release: () => void;
  private readonly features?: FeatureNet;
  private readonly backendName: string;

  private constructor(readonly config: TokenizerRunConfig, readonly runDir: string, opts: { data?: ImageDataset; features?: FeatureNet; backendName?: string; warn?: (m: string) => void }) {
    this.data = opts.data ?? loadTrainingData(config.data, opts.warn);
    const { imageSize: S, channels: C } = config.tokenizer;
    if (this.data.height !== S || this.data.channels !== C) throw new Error(`data: images are ${this.data.height}x${this.data.width}x${this.data.channels}, the tokenizer expects ${S}x${S}x${C}`);
    if (config.train.perceptualWeight > 0 && !opts.features) throw new Error('train.perceptualWeight > 0 needs the feature net (nestar train-features)');
    this.features = opts.features;
    this.backendName = opts.backendName ?? tf.getBackend();
    this.ae = new KLAutoencoder(config.tokenizer);
    const t = config.train;
    this.optimizer = new AdamW(this.ae.params.vars, { beta1: t.beta1, beta2: t.beta2, eps: 1e-8, weightDecay: t.weightDecay });
    this.cursor = new DataCursor(this.data.count, t.seed * 2 + 1);
    this.rngNoise = new Rng(t.seed * 2 + 2);
    this.release = acquireRunLock(runDir);
  }
  /** A new tokenizer run in `runDir`. */
  static create(config: TokenizerRunConfig, runDir: string, opts: { data?: ImageDataset; features?: FeatureNet; backendName?: string; warn?: (m: string) => void } = {}): TokenizerTrainer {
    return new TokenizerTrainer(config, runDir, opts);
  }

  /** Continues the tokenizer run in `runDir` from its latest checkpoint. */
  static resume(runDir: string, opts: { data?: ImageDataset; features?: FeatureNet; backendName?: string; steps?: number } = {}): TokenizerTrainer {
    const { dir, state, tensors } = readCheckpointFiles<TokenizerState, 'model' | 'optimizer'>(runDir, TOKENIZER_FORMAT, ['model', 'optimizer']);
    const config = resolveTokenizerRunConfig({ ...state.config, train: { ...state.config.train, ...(opts.steps ? { steps: opts.steps } : {}) } });
    const t = new TokenizerTrainer(config, runDir, opts);
    try {
      assignVariables(t.ae.params.vars, tensors.model, `${dir}/model.safetensors`);
      t.optimizer.restore(tensors.optimizer, state.optimizer.t, `${dir}/optimizer.safetensors`);
    } catch (e) {
      t.dispose();
      throw e;
    }
    t.step = state.step;
    t.losses = state.losses;
    t.rngNoise = new Rng(state.rng.noise);
    t.cursor.restore(state.rng, state.data);
    return t;
  }

  private nextBatch(): tf.Tensor4D {
    const { batchSize: B } = this.config.train, { imageSize: S, channels: C } = this.config.tokenizer, per = S * S * C;
    const buf = new Float32Array(B * per);
    for (let i = 0; i < B; i++) {
      const j = this.cursor.next();
      buf.set(this.data.data.subarray(j * per, (j + 1) * per), i * per);
    }
    return tf.tensor4d(buf, [B, S, S, C]);
  }

  /** One optimiser step. */
  trainStep(): TokenizerStepLog {
    const t = this.config.train;
    const x = this.nextBatch();
    let recon = 0, kl = 0;
    const features = this.features ? (y: tf.Tensor4D) => this.features!.forward(y).features : undefined;
    const { value, grads } = this.ae.params.grads(() => {
      const r = this.ae.loss(x, this.rngNoise, { recon: t.recon, klWeight: t.klWeight, perceptualWeight: t.perceptualWeight, features });
      recon = r.recon.dataSync()[0]!;
      kl = r.kl.dataSync()[0]!;
      return r.total;
    });
    const loss = value.dataSync()[0]!;
    const lr = learningRate(this.step, t.steps, t.lr, t.warmupSteps, t.minLrRatio);
    const norm = clipByGlobalNorm(grads, t.gradClip);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      tf.dispose([x, value, ...grads.values()]);
      throw new Error(`tokenizer training diverged at step ${this.step} (non-finite loss); lower train.lr`);
    }
    this.optimizer.apply(grads, lr);
    tf.dispose([x, value, ...grads.values()]);
    this.step++;
    this.losses.push([this.step, recon, kl]);
    return { step: this.step, loss, recon, kl, lr };
  }

  /** The current weights as a tokenizer, with latent statistics measured on the training set. */
  tokenizer(patch = 1): LatentTokenizer {
    return new LatentTokenizer(this.ae, this.latentStats(), patch, this.runDir);
  }

  /** Latent statistics of the current weights, measured once per step (a checkpoint and the final report share them). */
  private latentStats(): LatentStats {
    if (this.statsAt?.step !== this.step) this.statsAt = { step: this.step, stats: measureLatentStats(this.ae, this.data, this.config.train.statsImages) };
    return this.statsAt.stats;
  }
  private statsAt?: { step: number; stats: LatentStats };

  /** Writes a checkpoint atomically and returns its folder. */
  saveCheckpoint(): string {
    const stats = this.latentStats();
    const cursor = this.cursor.state();
    const state: TokenizerState = {
      format: TOKENIZER_FORMAT, config: this.config, step: this.step, optimizer: { t: this.optimizer.t },
      rng: { ...cursor.rng, noise: this.rngNoise.state() }, data: cursor.data, losses: this.losses, stats, backend: this.backendName, savedAt: new Date().toISOString(),
    };
    const opt = this.optimizer.exportMoments();
    return saveCheckpoint(this.runDir, state, { model: exportVariables(this.ae.params.vars), optimizer: opt }, this.config.train.keepCheckpoints);
  }

  /** Trains to the configured steps, checkpointing on schedule. */
  async run(onStep?: (l: TokenizerStepLog) => void): Promise<void> {
    const t = this.config.train;
    while (this.step < t.steps) {
      onStep?.(this.trainStep());
      if (this.step % t.checkpointEvery === 0 || this.step === t.steps) this.saveCheckpoint();
    }
  }

  /** Frees the autoencoder and optimiser state. */
  dispose(): void {
    this.release();
    this.optimizer.dispose();
    this.ae.dispose();
  }
}

/** A trained tokenizer from its checkpoint (folder or run folder) or from a latent model's checkpoint, grouping
 * p×p latent cells per token. */
export function loadLatentTokenizer(from: string | TokenizerSource, patch = 1): LatentTokenizer {
  const { dir, config, stats, weightsFile } = typeof from === 'string' ? readTokenizerSource(from) : from;
  if (!stats) throw new Error(`checkpoint: ${join(dir, 'state.json')} has no latent statistics`);
  return LatentTokenizer.fromParts({ config, stats, patch, source: dir }, requireSafetensorsFile(join(dir, weightsFile)), dir, weightsFile);
}

