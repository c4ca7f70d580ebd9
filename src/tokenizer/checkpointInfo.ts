// Reads what a trained tokenizer records about itself (to size a model's token grid, or to find its data), and
// where its weights are, without loading them. A tokenizer lives in its own checkpoint (`nestar train-tokenizer`)
// or inside a latent model's checkpoint (tokenizer.safetensors beside the model's weights), so a baseline can be
// trained on exactly the latents of a shipped model whose tokenizer run is not at hand.
import { join } from 'node:path';
import { CHECKPOINT_FORMAT, readCheckpointFiles, readCheckpointState } from '../train/checkpointFiles.js';
import type { KLAutoencoderConfig } from './klAutoencoder.js';
import type { LatentStats } from './latentTokenizer.js';
import type { DataConfig } from '../data/dataConfig.js';

export const TOKENIZER_FORMAT = 'nestar-tokenizer-v1';

/** A tokenizer run's own config (what `train-tokenizer --resume` continues); only tokenizer checkpoints have it. */
export function readTokenizerRunConfig(path: string): { tokenizer: KLAutoencoderConfig; data: DataConfig; train: { perceptualWeight: number } } {
  return readCheckpointFiles<{ format: string; config: ReturnType<typeof readTokenizerRunConfig> }, never>(path, TOKENIZER_FORMAT, []).state.config;
}

/** A trained tokenizer as found on disk: its autoencoder config, the data it encodes, its latent statistics and
 * the weights file (a path inside `dir`). Only state.json is read: the weights are checked when they are loaded. */
export interface TokenizerSource { dir: string; config: KLAutoencoderConfig; data: DataConfig; stats?: LatentStats; weightsFile: string }

interface StateFile {
  format?: unknown;
  config?: { tokenizer?: KLAutoencoderConfig; data?: DataConfig };
  stats?: LatentStats;
  tokenizer?: { config: KLAutoencoderConfig; stats: LatentStats };
}

/** A tokenizer checkpoint (or run folder), or a latent model's checkpoint (full or exported), read as a tokenizer. */
export function readTokenizerSource(path: string): TokenizerSource {
  const { dir, state } = readCheckpointState<StateFile>(path), file = join(dir, 'state.json');
  let found: Omit<TokenizerSource, 'dir'>;
  if (state.format === TOKENIZER_FORMAT && state.config?.tokenizer) {
    found = { config: state.config.tokenizer, data: state.config.data!, stats: state.stats, weightsFile: 'model.safetensors' };
  } else if (state.format === CHECKPOINT_FORMAT && state.config?.data) {
    if (!state.tokenizer) throw new Error(`checkpoint: ${file} is a pixel-space model's checkpoint; a tokenizer is a tokenizer checkpoint (nestar train-tokenizer) or a latent model's checkpoint`);
    found = { config: state.tokenizer.config, data: state.config.data, stats: state.tokenizer.stats, weightsFile: 'tokenizer.safetensors' };
  } else {
    throw new Error(`checkpoint: ${file} has format ${JSON.stringify(state.format)}, expected ${TOKENIZER_FORMAT} (or a latent model's ${CHECKPOINT_FORMAT})`);
  }
  return { dir, ...found };
}

export function readTokenizerConfig(path: string): KLAutoencoderConfig {
  return readTokenizerSource(path).config;
}
