// The run config: model + data + tokenizer + training, typed, with defaults and validation. It is
// serialised next to every checkpoint so a checkpoint alone says how to rebuild and continue its run.
import { ConfigError } from '../util/configError.js';
import { backgroundRgb, DEFAULT_HOLDOUT, type DataConfig } from '../data/dataConfig.js';
import { resolveModelConfig, type ModelConfig, type ModelConfigInput } from '../model/factory.js';
import type { TimeSampling } from '../flow/flowMatching.js';
import { readTokenizerConfig } from '../tokenizer/checkpointInfo.js';
import { resolveCoordConfig, usesNoise, type CoordConfig } from '../model/coord.js';

export { backgroundRgb, defaultChannels, DEFAULT_HOLDOUT, type DataConfig } from '../data/dataConfig.js';

/** Optimiser, schedule, batch, EMA and checkpoint settings of a training run. */
export interface TrainConfig {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  gradClip: number;
  emaDecay: number;
  /** Probability of replacing the class by the null class (classifier-free guidance training). */
  classDropProb: number;
  headRepeats: number;
  /** Gradient accumulation: the batch runs in chunks of this many samples (0 = all at once): the gradient of the batch mean (noise drawn per chunk), with one chunk's memory. */
  microBatch: number;
  timeSampling: TimeSampling;
  seed: number;
  checkpointEvery: number;
  sampleEvery: number;
  keepCheckpoints: number;
}

/** Pixel patches (exactly invertible), or a trained KL autoencoder's latents (p×p latent cells per token). */
export type TokenizerConfig =
  | { kind: 'patch'; patch: number }
  | {
    kind: 'kl'; checkpoint: string; patch: number;
    /** Filled from the tokenizer checkpoint when the run is created, so the run never needs that path again. */
    factor?: number; latentChannels?: number;
    /** A latent cache written by `nestar encode` (used when it matches this tokenizer and data). */
    cache?: string;
  };

/** What a run records about the recipe that set its defaults. */
export interface RecipeRecord {
  name: string;
  /** Training images the recipe was sized for. */
  trainImages: number;
  steps: number;
  /** Seconds a training step took where the recipe was measured (two cores), and the wall-clock that predicts. */
  secondsPerStep: number;
  expectedHours: number;
  /** Where its settings and timing come from. */
  basis: string;
}

/** A run's whole config (model, data, tokenizer, train, coordination), saved next to every checkpoint. */
export interface RunConfig {
  model: ModelConfig;
  data: DataConfig;
  tokenizer: TokenizerConfig;
  train: TrainConfig;
  /** Module coordination (issue #11); absent in older checkpoints, which means mode 'none'. */
  coord: CoordConfig;
  /** The default recipe that chose this run's settings (recipe.ts), when one did; absent otherwise. */
  recipe?: RecipeRecord;
}

/** Training settings a config file may leave out. */
export const defaultTrainConfig: TrainConfig = {
  steps: 2000, batchSize: 64, lr: 1e-3, warmupSteps: 100, minLrRatio: 0.05, weightDecay: 0.02, beta1: 0.9, beta2: 0.95,
  gradClip: 1.0, emaDecay: 0.999, classDropProb: 0.1, headRepeats: 4, microBatch: 0, timeSampling: 'uniform', seed: 0,
  checkpointEvery: 250, sampleEvery: 500, keepCheckpoints: 2,
};

/** Bounds that turn a typo (1e9) into an error naming the field instead of an allocation failure. */
export const TRAIN_LIMITS = { steps: 1e9, batchSize: 16384, checkpointEvery: 1e9, sampleEvery: 1e9, keepCheckpoints: 1000, headRepeats: 64 } as const;

export interface RunConfigInput {
  model?: ModelConfigInput;
  data?: Partial<DataConfig>;
  tokenizer?: { kind?: 'patch' | 'kl'; patch?: number; checkpoint?: string; factor?: number; latentChannels?: number; cache?: string };
  train?: Partial<TrainConfig>;
  coord?: Partial<CoordConfig>;
  recipe?: RecipeRecord;
}

function checkNumber(section: string, obj: Record<string, unknown>, field: string, pred: (x: number) => boolean, what: string): void {
  const v = obj[field];
  // JSON has no Infinity: a value like 1e400 parses to Infinity, which JSON.stringify would print as null.
  if (typeof v !== 'number' || !Number.isFinite(v) || !pred(v)) throw new ConfigError(`${section}.${field} must be ${what}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
}

function rejectUnknown(section: string, given: object | undefined, known: object): void {
  for (const k of Object.keys(given ?? {})) {
    if (!(k in known)) throw new ConfigError(`${section}.${k} is not a known setting; known: ${Object.keys(known).join(', ')}`);
  }
}

/** Token grid side and token channels a tokenizer config gives for the data. */
export function tokenGeometry(t: TokenizerConfig, data: DataConfig): { grid: number; tokenDim: number } {
  if (t.kind === 'patch') return { grid: data.imageSize / t.patch, tokenDim: t.patch * t.patch * data.channels };
  return { grid: data.imageSize / t.factor! / t.patch, tokenDim: t.patch * t.patch * t.latentChannels! };
}

function resolveTokenizerConfig(input: NonNullable<RunConfigInput['tokenizer']>, data: DataConfig): TokenizerConfig {
  const kind = input.kind ?? (input.checkpoint ? 'kl' : 'patch');
  if (kind === 'patch') {
    const patch = input.patch ?? 4;
    if (!Number.isInteger(patch) || patch < 1 || data.imageSize % patch !== 0) {
      throw new ConfigError(`tokenizer.patch must be a positive integer dividing data.imageSize (${data.imageSize}), got ${JSON.stringify(input.patch)}`);
    }
    return { kind, patch };
  }
  if (kind !== 'kl') throw new ConfigError(`tokenizer.kind must be 'patch' or 'kl', got ${JSON.stringify(kind)}`);
  if (typeof input.checkpoint !== 'string' || !input.checkpoint) throw new ConfigError('tokenizer.checkpoint (a trained tokenizer: nestar train-tokenizer) is required for tokenizer.kind \'kl\'');
  let { factor, latentChannels } = input;
  if (factor === undefined || latentChannels === undefined) {
    const t = readTokenizerConfig(input.checkpoint);
    if (t.imageSize !== data.imageSize || t.channels !== data.channels) {
      throw new ConfigError(`tokenizer ${input.checkpoint} was trained on ${t.imageSize}x${t.imageSize}x${t.channels} images, but data gives ${data.imageSize}x${data.imageSize}x${data.channels}`);
    }
    ({ factor, latentChannels } = t);
  }
  const patch = input.patch ?? 1, side = data.imageSize / factor!;
  if (!Number.isInteger(patch) || patch < 1 || side % patch !== 0) throw new ConfigError(`tokenizer.patch must divide the latent side ${side}, got ${JSON.stringify(input.patch)}`);
  return { kind, checkpoint: input.checkpoint, patch, factor, latentChannels, ...(input.cache ? { cache: input.cache } : {}) };
}

/** Fills defaults, checks every field, and derives the model's token grid from data + tokenizer. */
export function resolveRunConfig(input: RunConfigInput = {}): RunConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(`config must be an object with sections model, data, tokenizer, train, coord; got ${JSON.stringify(input)}`);
  for (const sec of ['model', 'data', 'tokenizer', 'train', 'coord'] as const) {
    const v = input[sec];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) throw new ConfigError(`${sec} must be an object of settings, got ${JSON.stringify(v)}`);
  }
  rejectUnknown('config', input, { model: 1, data: 1, tokenizer: 1, train: 1, coord: 1, recipe: 1 });
  if (input.recipe !== undefined && (input.recipe === null || typeof input.recipe !== 'object' || typeof input.recipe.name !== 'string')) {
    throw new ConfigError(`recipe must be what a default recipe recorded (an object with a name), got ${JSON.stringify(input.recipe)}`);
  }
  rejectUnknown('train', input.train, defaultTrainConfig);
  rejectUnknown('data', input.data, { source: 1, imageSize: 1, channels: 1, limit: 1, holdout: 1, splitSeed: 1, background: 1 });
  rejectUnknown('tokenizer', input.tokenizer, { kind: 1, patch: 1, checkpoint: 1, factor: 1, latentChannels: 1, cache: 1 });
  const data: DataConfig = { source: 'mnist', imageSize: 32, channels: 1, ...input.data };
  // Recorded in the run, so evaluation holds out exactly what training did not see.
  if (data.source !== 'mnist') Object.assign(data, { holdout: data.holdout ?? DEFAULT_HOLDOUT, splitSeed: data.splitSeed ?? 0, background: data.background ?? '#ffffff' });
  const train: TrainConfig = { ...defaultTrainConfig, ...input.train };
  const d = data as unknown as Record<string, unknown>, t = train as unknown as Record<string, unknown>;
  checkNumber('data', d, 'imageSize', (x) => Number.isInteger(x) && x >= 1 && x <= 4096, 'an integer from 1 to 4096');
  if (typeof data.source !== 'string' || data.source === '') throw new ConfigError(`data.source must be 'mnist', 'emoji' or an image folder path, got ${JSON.stringify(data.source)}`);
  if (data.channels !== 1 && data.channels !== 3) throw new ConfigError(`data.channels must be 1 or 3, got ${JSON.stringify(data.channels)}`);
  if (data.limit !== undefined) checkNumber('data', d, 'limit', (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
  if (data.holdout !== undefined) checkNumber('data', d, 'holdout', (x) => x >= 0 && x < 1, 'a fraction in [0, 1)');
  if (data.splitSeed !== undefined) checkNumber('data', d, 'splitSeed', (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  backgroundRgb(data);
  // After the data checks, so a bad image size is named as such rather than as a patch that does not divide it.
  const tokenizer = resolveTokenizerConfig(input.tokenizer ?? {}, data);
  for (const f of ['steps', 'batchSize', 'checkpointEvery', 'sampleEvery', 'keepCheckpoints', 'headRepeats'] as const) {
    const max = TRAIN_LIMITS[f];
    checkNumber('train', t, f, (x) => Number.isInteger(x) && x >= 1 && x <= max, `an integer from 1 to ${max}`);
  }
  checkNumber('train', t, 'microBatch', (x) => Number.isInteger(x) && x >= 0 && x <= train.batchSize, `an integer from 0 (the whole batch) to train.batchSize (${train.batchSize})`);
  checkNumber('train', t, 'warmupSteps', (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  checkNumber('train', t, 'seed', (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer');
  checkNumber('train', t, 'lr', (x) => x > 0, 'a positive number');
  for (const f of ['minLrRatio', 'classDropProb'] as const) checkNumber('train', t, f, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  for (const f of ['beta1', 'beta2', 'emaDecay'] as const) checkNumber('train', t, f, (x) => x >= 0 && x < 1, 'in [0, 1)');
  for (const f of ['weightDecay', 'gradClip'] as const) checkNumber('train', t, f, (x) => x >= 0, 'non-negative');
  if (train.timeSampling !== 'uniform' && train.timeSampling !== 'logit-normal') {
    throw new ConfigError(`train.timeSampling must be 'uniform' or 'logit-normal', got ${JSON.stringify(train.timeSampling)}`);
  }
  const { grid, tokenDim } = tokenGeometry(tokenizer, data);
  for (const f of ['gridSize', 'tokenDim'] as const) {
    const given = (input.model as Record<string, unknown> | undefined)?.[f];
    const derived = f === 'gridSize' ? grid : tokenDim;
    if (given !== undefined && given !== derived) throw new ConfigError(`model.${f}=${given} contradicts the data and tokenizer settings (which give ${derived}); leave it out`);
  }
  const coord = resolveCoordConfig(input.coord);
  // The backbone takes the noise level s exactly when noisy context is trained (it changes the parameters).
  const given = (input.model as Record<string, unknown> | undefined)?.contextNoise;
  if (given !== undefined && given !== usesNoise(coord.mode)) {
    throw new ConfigError(`model.contextNoise=${JSON.stringify(given)} contradicts coord.mode='${coord.mode}'; leave it out`);
  }
  const model = resolveModelConfig({ ...input.model, gridSize: grid, tokenDim, ...(usesNoise(coord.mode) ? { contextNoise: true } : {}) });
  return { model, data, tokenizer, train, coord, ...(input.recipe ? { recipe: input.recipe } : {}) };
}
