import type { DataConfig } from '../train/config.js';
import type { ImageDataset } from './dataset.js';
import { loadImageFolder } from './imageFolder.js';
import { loadMnist } from './mnist.js';

/** The training images a data config names. */
export function loadTrainingData(cfg: DataConfig, warn?: (m: string) => void): ImageDataset {
  if (cfg.source === 'mnist') {
    if (cfg.channels !== 1) throw new Error('data.channels must be 1 for MNIST');
    return loadMnist({ split: 'train', limit: cfg.limit, padTo: cfg.imageSize });
  }
  const ds = loadImageFolder(cfg.source, { size: cfg.imageSize, channels: cfg.channels, warn });
  if (cfg.limit === undefined || cfg.limit >= ds.count) return ds;
  const per = cfg.imageSize * cfg.imageSize * cfg.channels;
  return { ...ds, count: cfg.limit, data: ds.data.slice(0, cfg.limit * per), labels: ds.labels.slice(0, cfg.limit) };
}
