// The data section of a run config (which images, at what size, how they are split and composited) and its small
// helpers: its own module so that data loaders and tokenizer checkpoints can name it without importing the run config.
import { ConfigError } from '../util/configError.js';

/** Which images a run trains on and at what size and channels. */
export interface DataConfig {
  /** 'mnist', 'emoji' (the emoji-datasource-google package) or a path to an image folder. */
  source: string;
  imageSize: number;
  channels: 1 | 3;
  /** Use only `limit` training images (tests, smoke runs): MNIST's first `limit`; emoji and folders `limit` spread evenly over the split, every class in its share. */
  limit?: number;
  /**
   * Fraction of each class held out for evaluation, for sources without a test split of their own (emoji,
   * folders; MNIST uses its test set). Training never sees these images. Default 0.1.
   */
  holdout?: number;
  /** Seed of the held-out split (default 0). */
  splitSeed?: number;
  /** Colour transparent pixels are composited on, '#rrggbb' (default '#ffffff', white). */
  background?: string;
}

/** Channels a source is read with unless told: MNIST is grayscale, emoji and image folders are colour. */
export function defaultChannels(source: string): 1 | 3 {
  return source === 'mnist' ? 1 : 3;
}

/** Fraction of each class that sources without a test split hold out for evaluation. */
export const DEFAULT_HOLDOUT = 0.1;

/** data.background as RGB, or a ConfigError naming the field. */
export function backgroundRgb(data: Pick<DataConfig, 'background'>): [number, number, number] {
  const bg = data.background ?? '#ffffff';
  const m = typeof bg === 'string' ? /^#([0-9a-fA-F]{6})$/.exec(bg) : null;
  if (!m) throw new ConfigError(`data.background must be a colour '#rrggbb', got ${JSON.stringify(bg)}`);
  const v = parseInt(m[1]!, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
