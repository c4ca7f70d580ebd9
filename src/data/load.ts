// The images a data config names, split into the part training uses and the part evaluation holds out:
// MNIST has its own test set; emoji and image folders hold out data.holdout of each class (split.ts).
import { backgroundRgb, DEFAULT_HOLDOUT, type DataConfig } from './dataConfig.js';
import { evenlySpaced, subset, type ImageDataset } from './dataset.js';
import { loadEmoji } from './emoji.js';
import { loadImageFolder } from './imageFolder.js';
import { loadMnist } from './mnist.js';
import { holdoutSplit } from './split.js';

export type DataSplit = 'train' | 'heldout';

/** Every image of a non-MNIST source, before splitting. */
function loadAll(cfg: DataConfig, warn?: (m: string) => void): ImageDataset {
  const opts = { size: cfg.imageSize, channels: cfg.channels, background: backgroundRgb(cfg), warn };
  return cfg.source === 'emoji' ? loadEmoji(opts) : loadImageFolder(cfg.source, opts);
}

/** Per-split image limits: data.limit applies to 'train' unless given. */
export interface SplitLimits { train?: number; heldout?: number }

const limitOf = (cfg: DataConfig, split: DataSplit, limits?: SplitLimits) => (split === 'train' ? limits?.train ?? cfg.limit : limits?.heldout);

function mnistSplit(cfg: DataConfig, split: DataSplit, limits?: SplitLimits): ImageDataset {
  if (cfg.channels !== 1) throw new Error('data.channels must be 1 for MNIST');
  return loadMnist({ split: split === 'train' ? 'train' : 'test', limit: limitOf(cfg, split, limits), padTo: cfg.imageSize });
}

/** Emoji or a folder, read and decoded once, split into its parts (an empty held-out part is returned as is). */
function splitAll(cfg: DataConfig, warn?: (m: string) => void, limits?: SplitLimits): Record<DataSplit, ImageDataset> {
  const all = loadAll(cfg, warn);
  const parts = holdoutSplit(all.labels, cfg.holdout ?? DEFAULT_HOLDOUT, cfg.splitSeed ?? 0);
  const take = (split: DataSplit, idx: Int32Array) => {
    const limit = limitOf(cfg, split, limits);
    // The split lists images in file (class) order: a limit takes images evenly spaced over it, so a limited run
    // or evaluation still sees every class in its share rather than the first classes only.
    return subset(all, limit !== undefined && limit < idx.length ? evenlySpaced(idx.length, limit).map((i) => idx[i]!) : idx);
  };
  return { train: take('train', parts.train), heldout: take('heldout', parts.heldOut) };
}

function checkHeldOut(cfg: DataConfig, heldout: ImageDataset): ImageDataset {
  if (heldout.count === 0) throw new Error(`data ${cfg.source}: the held-out split is empty (data.holdout ${cfg.holdout ?? DEFAULT_HOLDOUT}); evaluation needs held-out images`);
  return heldout;
}

/** One part of the dataset: 'train' (what training sees; data.limit applies) or 'heldout' (what evaluation scores against). */
export function loadSplit(cfg: DataConfig, split: DataSplit, opts: { warn?: (m: string) => void; limit?: number } = {}): ImageDataset {
  const limits = { [split]: opts.limit };
  if (cfg.source === 'mnist') return mnistSplit(cfg, split, limits);
  const parts = splitAll(cfg, opts.warn, limits);
  return split === 'train' ? parts.train : checkHeldOut(cfg, parts.heldout);
}

/** Both parts from one load (evaluation needs both: a folder or the emoji package is then read and decoded once, not twice). */
export function loadSplits(cfg: DataConfig, opts: { warn?: (m: string) => void; limits?: SplitLimits } = {}): Record<DataSplit, ImageDataset> {
  if (cfg.source === 'mnist') return { train: mnistSplit(cfg, 'train', opts.limits), heldout: mnistSplit(cfg, 'heldout', opts.limits) };
  const parts = splitAll(cfg, opts.warn, opts.limits);
  return { train: parts.train, heldout: checkHeldOut(cfg, parts.heldout) };
}

/** The training images a data config names (never the held-out ones). */
export function loadTrainingData(cfg: DataConfig, warn?: (m: string) => void): ImageDataset {
  return loadSplit(cfg, 'train', { warn });
}

/** A short name for the dataset in reports and default paths: 'mnist', 'emoji' or 'folder:<path>'. */
export function datasetName(cfg: Pick<DataConfig, 'source'>): string {
  return cfg.source === 'mnist' || cfg.source === 'emoji' ? cfg.source : `folder:${cfg.source}`;
}
