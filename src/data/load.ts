// The images a data config names, split into the part training uses and the part evaluation holds out:
// MNIST has its own test set; emoji and image folders hold out data.holdout of each class (split.ts).
import { backgroundRgb, DEFAULT_HOLDOUT, type DataConfig } from '../train/config.js';
import { subset, type ImageDataset } from './dataset.js';
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

/** One part of the dataset: 'train' (what training sees; data.limit applies) or 'heldout' (what evaluation scores against). */
export function loadSplit(cfg: DataConfig, split: DataSplit, opts: { warn?: (m: string) => void; limit?: number } = {}): ImageDataset {
  const limit = opts.limit ?? (split === 'train' ? cfg.limit : undefined);
  if (cfg.source === 'mnist') {
    if (cfg.channels !== 1) throw new Error('data.channels must be 1 for MNIST');
    return loadMnist({ split: split === 'train' ? 'train' : 'test', limit, padTo: cfg.imageSize });
  }
  const all = loadAll(cfg, opts.warn);
  const parts = holdoutSplit(all.labels, cfg.holdout ?? DEFAULT_HOLDOUT, cfg.splitSeed ?? 0);
  const idx = split === 'train' ? parts.train : parts.heldOut;
  if (split === 'heldout' && idx.length === 0) throw new Error(`data ${cfg.source}: the held-out split is empty (data.holdout ${cfg.holdout ?? DEFAULT_HOLDOUT}); evaluation needs held-out images`);
  return subset(all, limit !== undefined && limit < idx.length ? idx.subarray(0, limit) : idx);
}

/** The training images a data config names (never the held-out ones). */
export function loadTrainingData(cfg: DataConfig, warn?: (m: string) => void): ImageDataset {
  return loadSplit(cfg, 'train', { warn });
}

/** A short name for the dataset in reports and default paths: 'mnist', 'emoji' or 'folder:<path>'. */
export function datasetName(cfg: Pick<DataConfig, 'source'>): string {
  return cfg.source === 'mnist' || cfg.source === 'emoji' ? cfg.source : `folder:${cfg.source}`;
}
