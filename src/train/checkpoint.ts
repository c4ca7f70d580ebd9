// Model checkpoints: what a training run saves and sampling reads, on top of the generic folders of checkpointFiles.ts:
//   model.safetensors      the raw weights          ema.safetensors   the EMA weights (used for sampling)
//   optimizer.safetensors  AdamW moments m., v.     state.json        config, step, optimizer scalars, RNG states
// The run folder's latest.json names the newest complete checkpoint.
import { join } from 'node:path';
import type { NamedArray } from '../util/safetensors.js';
import type { RngState } from '../util/rng.js';
import type { RunConfig } from './config.js';
import type { LatentTokenizerState } from '../tokenizer/latentTokenizer.js';
import { CHECKPOINT_FORMAT, readCheckpointFiles, requireSafetensorsFile } from './checkpointFiles.js';

export {
  CHECKPOINT_FORMAT, checkpointName, saveCheckpoint, resolveCheckpointDir, readSafetensorsFile, requireSafetensorsFile,
  readCheckpointState, readCheckpointFiles,
} from './checkpointFiles.js';

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  config: RunConfig;
  step: number;
  optimizer: { t: number; beta1: number; beta2: number; eps: number; weightDecay: number };
  rng: { data: RngState; noise: RngState; epochStart: RngState };
  data: { epoch: number; cursor: number };
  /** Loss history (step, loss), kept so a resumed run's report covers the whole run. */
  losses: Array<[number, number]>;
  /** Steps skipped for non-finite numerics over the run. */
  skippedSteps?: number;
  backend: string;
  savedAt: string;
  /** Wall-clock seconds spent in run() up to this checkpoint, summed over resumed invocations (a killed
   * invocation loses only the time since its last checkpoint). Absent in checkpoints that predate it. */
  trainSeconds?: number;
  /** A latent tokenizer's config and statistics (its weights are tokenizer.safetensors), so the checkpoint stands alone. */
  tokenizer?: LatentTokenizerState;
  /** Names of the classes, in label order, when the dataset has them (emoji categories, folder names). */
  classNames?: string[];
}

export interface CheckpointTensors {
  model: Record<string, NamedArray>;
  ema: Record<string, NamedArray>;
  optimizer: Record<string, NamedArray>;
  tokenizer?: Record<string, NamedArray>;
}
/** Reads a full checkpoint (a checkpoint folder, or a run folder for its latest). */
export function loadCheckpoint(path: string): { dir: string; state: CheckpointState; tensors: CheckpointTensors } {
  const r = readCheckpointFiles<CheckpointState, 'model' | 'ema' | 'optimizer'>(path, CHECKPOINT_FORMAT, ['model', 'ema', 'optimizer']);
  const tok = join(r.dir, 'tokenizer.safetensors');
  return { ...r, tensors: { ...r.tensors, ...(r.state.tokenizer ? { tokenizer: requireSafetensorsFile(tok) } : {}) } };
}

/**
 * What sampling needs from a checkpoint: state.json, one weights file (EMA by default) and, for latent
 * models, tokenizer.safetensors. Works on full checkpoints and on exported ones (`nestar export`).
 */
export function loadSamplingCheckpoint(path: string, weights: 'ema' | 'raw' = 'ema'): { dir: string; state: CheckpointState; weights: Record<string, NamedArray>; weightsFile: string; tokenizer?: Record<string, NamedArray> } {
  const key = weights === 'ema' ? 'ema' : 'model';
  const r = readCheckpointFiles<CheckpointState, 'ema' | 'model'>(path, CHECKPOINT_FORMAT, [key]);
  const tok = join(r.dir, 'tokenizer.safetensors');
  return { dir: r.dir, state: r.state, weights: r.tensors[key], weightsFile: `${key}.safetensors`,
    ...(r.state.tokenizer ? { tokenizer: requireSafetensorsFile(tok) } : {}) };
}
