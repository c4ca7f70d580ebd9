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
import { perceptualDistance } from './perceptualLoss.js';
import { PatchDiscriminator } from './patchDiscriminator.js';

export { TOKENIZER_FORMAT };

export interface TokenizerTrainConfig {
  steps: number; batchSize: number; lr: number; warmupSteps: number; minLrRatio: number; weightDecay: number;
  beta1: number; beta2: number; gradClip: number; recon: 'l1' | 'l2'; klWeight: number;
  /** Weight of the perceptual term (perceptualLoss.ts; needs a perceptual net, never the evaluation net); 0 = off. */
  perceptualWeight: number;
  /** Weight of the adversarial term (patchDiscriminator.ts); 0 = off, and no discriminator is built or saved. */
  discWeight: number;
  /** First step at which the discriminator trains and the adversarial term applies (LDM starts it late). */
  discStart: number;
  /** Hidden channels of the discriminator's first convolution (doubling twice). */
  discWidth: number;
  seed: number; checkpointEvery: number; keepCheckpoints: number;
  /** Training images used to measure the latent statistics. */
  statsImages: number;
}

/** A tokenizer run's config: autoencoder, data and training sections. */
export interface TokenizerRunConfig { tokenizer: KLAutoencoderConfig; data: DataConfig; train: TokenizerTrainConfig }

export const defaultTokenizerTrainConfig: TokenizerTrainConfig = {
  steps: 2000, batchSize: 64, lr: 2e-3, warmupSteps: 50, minLrRatio: 0.05, weightDecay: 0, beta1: 0.9, beta2: 0.99, gradClip: 1,
  recon: 'l1', klWeight: 1e-4, perceptualWeight: 0, discWeight: 0, discStart: 0, discWidth: 32, seed: 0, checkpointEvery: 250, keepCheckpoints: 2, statsImages: 5000,
};

/** A tokenizer run config with defaults filled and every field checked. */
export function resolveTokenizerRunConfig(input: { tokenizer?: Partial<KLAutoencoderConfig>; data?: Partial<DataConfig>; train?: Partial<TokenizerTrainConfig> }): TokenizerRunConfig {
  for (const k of Object.keys(input.train ?? {})) {
    if (!(k in defaultTokenizerTrainConfig)) throw new ConfigError(`train.${k} is not a known tokenizer setting; known: ${Object.keys(defaultTokenizerTrainConfig).join(', ')}`);
  }
  const data: DataConfig = { source: 'mnist', imageSize: 32, channels: 1, ...input.data };
  const train: TokenizerTrainConfig = { ...defaultTokenizerTrainConfig, ...input.train };
  for (const f of ['steps', 'batchSize', 'checkpointEvery', 'keepCheckpoints', 'statsImages', 'discWidth'] as const) {
    if (!Number.isInteger(train[f]) || train[f] < 1) throw new ConfigError(`train.${f} must be a positive integer, got ${JSON.stringify(train[f])}`);
  }
  if (!Number.isInteger(train.discStart) || train.discStart < 0) throw new ConfigError(`train.discStart must be a non-negative integer, got ${JSON.stringify(train.discStart)}`);
  if (!Number.isInteger(train.seed) || train.seed < 0) throw new ConfigError(`train.seed must be a non-negative integer, got ${JSON.stringify(train.seed)}`);
  for (const f of ['lr', 'klWeight', 'perceptualWeight', 'discWeight', 'weightDecay', 'gradClip'] as const) {
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
  /** The discriminator's optimiser step count (runs with train.discWeight > 0). */
  discOptimizer?: { t: number };
  /** The perceptual net the run was trained with (runs with train.perceptualWeight > 0). */
  perceptualNet?: { dir: string; sha256: string };
  rng: { data: RngState; noise: RngState; epochStart: RngState };
  data: { epoch: number; cursor: number };
  losses: Array<[number, number, number]>;
  /** Latent statistics measured when the checkpoint was written. */
  stats: LatentStats;
  backend: string;
  savedAt: string;
}

export interface TokenizerStepLog {
  step: number; loss: number; recon: number; kl: number; lr: number;
  /** The perceptual and adversarial terms and the discriminator's loss, when they are on. */
  perceptual?: number; adversarial?: number; disc?: number;
}

/** What a tokenizer trainer is given besides its config. */
export interface TokenizerTrainerOptions {
  data?: ImageDataset;
  /** The perceptual net (needed when train.perceptualWeight > 0; checkPerceptualNet refuses the evaluation net). */
  perceptual?: { net: FeatureNet; dir: string };
  backendName?: string;
  warn?: (m: string) => void;
}

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
  private readonly perceptual?: { net: FeatureNet; dir: string };
  private readonly disc?: PatchDiscriminator;
  private readonly discOptimizer?: AdamW;
  private readonly backendName: string;

  private constructor(readonly config: TokenizerRunConfig, readonly runDir: string, opts: TokenizerTrainerOptions) {
    this.data = opts.data ?? loadTrainingData(config.data, opts.warn);
    const { imageSize: S, channels: C } = config.tokenizer;
    if (this.data.height !== S || this.data.channels !== C) throw new Error(`data: images are ${this.data.height}x${this.data.width}x${this.data.channels}, the tokenizer expects ${S}x${S}x${C}`);
    if (config.train.perceptualWeight > 0 && !opts.perceptual) throw new Error('train.perceptualWeight > 0 needs a perceptual net (nestar train-features --seed 1 --out DIR, then --perceptual-net DIR)');
    this.perceptual = config.train.perceptualWeight > 0 ? opts.perceptual : undefined;
    this.backendName = opts.backendName ?? tf.getBackend();
    this.ae = new KLAutoencoder(config.tokenizer);
    const t = config.train;
    this.optimizer = new AdamW(this.ae.params.vars, { beta1: t.beta1, beta2: t.beta2, eps: 1e-8, weightDecay: t.weightDecay });
    if (t.discWeight > 0) {
      this.disc = new PatchDiscriminator(config.tokenizer.channels, t.discWidth, t.seed * 2 + 3);
      this.discOptimizer = new AdamW(this.disc.params.vars, { beta1: 0.5, beta2: t.beta2, eps: 1e-8, weightDecay: 0 });
    }
    this.cursor = new DataCursor(this.data.count, t.seed * 2 + 1);
    this.rngNoise = new Rng(t.seed * 2 + 2);
    this.release = acquireRunLock(runDir);
  }
  /** A new tokenizer run in `runDir`. */
  static create(config: TokenizerRunConfig, runDir: string, opts: TokenizerTrainerOptions = {}): TokenizerTrainer {
    return new TokenizerTrainer(config, runDir, opts);
  }

  /** Continues the tokenizer run in `runDir` from its latest checkpoint. */
  static resume(runDir: string, opts: TokenizerTrainerOptions & { steps?: number } = {}): TokenizerTrainer {
    const { dir, state, tensors } = readCheckpointFiles<TokenizerState, 'model' | 'optimizer'>(runDir, TOKENIZER_FORMAT, ['model', 'optimizer']);
    const config = resolveTokenizerRunConfig({ ...state.config, train: { ...state.config.train, ...(opts.steps ? { steps: opts.steps } : {}) } });
    const t = new TokenizerTrainer(config, runDir, opts);
    try {
      assignVariables(t.ae.params.vars, tensors.model, `${dir}/model.safetensors`);
      t.optimizer.restore(tensors.optimizer, state.optimizer.t, `${dir}/optimizer.safetensors`);
      if (t.disc) {
        assignVariables(t.disc.params.vars, requireSafetensorsFile(join(dir, 'discriminator.safetensors')), `${dir}/discriminator.safetensors`);
        t.discOptimizer!.restore(requireSafetensorsFile(join(dir, 'discriminatorOptimizer.safetensors')), state.discOptimizer?.t ?? 0, `${dir}/discriminatorOptimizer.safetensors`);
      }
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

  /** One optimiser step of the autoencoder, then (from train.discStart on, when it is on) one of the discriminator. */
  trainStep(): TokenizerStepLog {
    const t = this.config.train;
    const x = this.nextBatch();
    const adversarial = this.disc !== undefined && this.step >= t.discStart;
    const terms: Array<{ weight: number; f: (y: tf.Tensor4D, x: tf.Tensor4D) => tf.Scalar }> = [];
    if (this.perceptual) terms.push({ weight: t.perceptualWeight, f: (y, x0) => perceptualDistance(this.perceptual!.net, y, x0) });
    if (adversarial) terms.push({ weight: t.discWeight, f: (y) => this.disc!.generatorLoss(y) });
    let recon = 0, kl = 0, termValues: number[] = [], y: tf.Tensor4D | undefined;
    const { value, grads } = this.ae.params.grads(() => {
      const r = this.ae.loss(x, this.rngNoise, { recon: t.recon, klWeight: t.klWeight, terms });
      recon = r.recon.dataSync()[0]!;
      kl = r.kl.dataSync()[0]!;
      termValues = r.terms.map((v) => v.dataSync()[0]!);
      if (adversarial) y = tf.keep(r.y);
      return r.total;
    });
    const loss = value.dataSync()[0]!;
    const lr = learningRate(this.step, t.steps, t.lr, t.warmupSteps, t.minLrRatio);
    const norm = clipByGlobalNorm(grads, t.gradClip);
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      tf.dispose([x, value, ...grads.values(), ...(y ? [y] : [])]);
      throw new Error(`tokenizer training diverged at step ${this.step} (non-finite loss); lower train.lr`);
    }
    this.optimizer.apply(grads, lr);
    tf.dispose([value, ...grads.values()]);
    let disc: number | undefined;
    if (adversarial && y) {
      // The discriminator sees this step's batch and its reconstruction (before the autoencoder's update).
      const d = this.disc!.params.grads(() => this.disc!.loss(x, y!));
      disc = d.value.dataSync()[0]!;
      clipByGlobalNorm(d.grads, t.gradClip);
      if (Number.isFinite(disc)) this.discOptimizer!.apply(d.grads, lr);
      tf.dispose([d.value, ...d.grads.values(), y]);
    }
    tf.dispose(x);
    this.step++;
    this.losses.push([this.step, recon, kl]);
    const perceptual = this.perceptual ? termValues[0] : undefined, adv = adversarial ? termValues[terms.length - 1] : undefined;
    return { step: this.step, loss, recon, kl, lr, ...(perceptual !== undefined ? { perceptual } : {}), ...(adv !== undefined ? { adversarial: adv, disc } : {}) };
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
      ...(this.discOptimizer ? { discOptimizer: { t: this.discOptimizer.t } } : {}),
      ...(this.perceptual ? { perceptualNet: { dir: this.perceptual.dir, sha256: this.perceptual.net.hash() } } : {}),
      rng: { ...cursor.rng, noise: this.rngNoise.state() }, data: cursor.data, losses: this.losses, stats, backend: this.backendName, savedAt: new Date().toISOString(),
    };
    const opt = this.optimizer.exportMoments();
    const disc = this.disc ? { discriminator: exportVariables(this.disc.params.vars), discriminatorOptimizer: this.discOptimizer!.exportMoments() } : {};
    return saveCheckpoint(this.runDir, state, { model: exportVariables(this.ae.params.vars), optimizer: opt, ...disc }, this.config.train.keepCheckpoints);
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
    this.discOptimizer?.dispose();
    this.disc?.dispose();
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

