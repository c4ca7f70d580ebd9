// Reads what a tokenizer checkpoint records about its run (to size a model's token grid, or to find the
// tokenizer's data), without loading its weights.
import { readCheckpointFiles } from '../train/checkpoint.js';
import type { KLAutoencoderConfig } from './klAutoencoder.js';
import type { DataConfig } from '../train/config.js';

export const TOKENIZER_FORMAT = 'nestar-tokenizer-v1';

export function readTokenizerRunConfig(path: string): { tokenizer: KLAutoencoderConfig; data: DataConfig; train: { perceptualWeight: number } } {
  return readCheckpointFiles<{ format: string; config: ReturnType<typeof readTokenizerRunConfig> }, never>(path, TOKENIZER_FORMAT, []).state.config;
}

export function readTokenizerConfig(path: string): KLAutoencoderConfig {
  return readTokenizerRunConfig(path).tokenizer;
}
