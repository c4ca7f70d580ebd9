// A diffusers-style entry point: load a checkpoint of any method once, then generate images (tokens
// decoded to pixels) with per-step progress, so a caller can stream partial images.
import type { Method } from './model/generator.js';
import { loadCheckpoint } from './train/checkpoint.js';
import { NestARPipeline } from './pipelineCore.js';

export { NestARPipeline, type GenerateOptions, type GenerateResult } from './pipelineCore.js';

/**
 * Loads a checkpoint (folder, or run folder for its latest); uses the EMA weights unless `weights: 'raw'`.
 * With `method`, a checkpoint of another method is an error.
 */
export function loadPipeline(path: string, opts: { weights?: 'ema' | 'raw'; method?: Method } = {}): NestARPipeline {
  const { dir, state, tensors } = loadCheckpoint(path);
  const which = opts.weights ?? 'ema';
  return NestARPipeline.fromParts(state, which === 'ema' ? tensors.ema : tensors.model, dir, { method: opts.method, weightsName: `${which === 'ema' ? 'ema' : 'model'}.safetensors`, tokenizerWeights: tensors.tokenizer });
}
