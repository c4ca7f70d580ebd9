// A diffusers-style entry point: load a checkpoint of any method once, then generate images (tokens
// decoded to pixels) with per-step progress, so a caller can stream partial images.
import type { Method } from './model/generator.js';
import { loadSamplingCheckpoint } from './train/checkpoint.js';
import { NestARPipeline } from './pipelineCore.js';

export { NestARPipeline, type GenerateOptions, type GenerateResult } from './pipelineCore.js';

/**
 * Loads a checkpoint (folder, or run folder for its latest); uses the EMA weights unless `weights: 'raw'`.
 * With `method`, a checkpoint of another method is an error.
 */
export function loadPipeline(path: string, opts: { weights?: 'ema' | 'raw'; method?: Method } = {}): NestARPipeline {
  const { dir, state, weights, weightsFile, tokenizer } = loadSamplingCheckpoint(path, opts.weights ?? 'ema');
  return NestARPipeline.fromParts(state, weights, dir, { method: opts.method, weightsName: weightsFile, tokenizerWeights: tokenizer });
}
