// One place that knows every method: resolves a model config by its kind and builds the generator.
import { ConfigError, MAX_MODEL_PARAMS, resolveNestARConfig, type NestARConfig } from './config.js';
import { baselineParams, nestarParams, resolveBaselineConfig, type BaselineConfig } from './baselineConfig.js';
import { METHODS, type Generator, type Method } from './generator.js';
import { NestAR } from './nestar.js';
import { RasterAR } from './rasterAR.js';
import { NextScaleAR } from './nextScaleAR.js';

export type ModelConfig = NestARConfig | BaselineConfig;
export type ModelConfigInput = (Partial<NestARConfig> | Partial<BaselineConfig>) & { kind?: Method };

/** A model section with defaults filled and every field checked. */
export function resolveModelConfig(input: ModelConfigInput): ModelConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(`model must be an object of settings, got ${JSON.stringify(input)}`);
  const kind = input.kind ?? 'nestar';
  if (!METHODS.includes(kind)) throw new ConfigError(`model.kind must be one of ${METHODS.join(', ')}, got ${JSON.stringify(kind)}`);
  const c = kind === 'nestar' ? resolveNestARConfig(input as Partial<NestARConfig>).config : resolveBaselineConfig({ ...(input as Partial<BaselineConfig>), kind });
  // Counted in closed form before anything is allocated: weights, EMA and AdamW moments are 4 copies.
  const params = c.kind === 'nestar' ? nestarParams(c) : baselineParams(c);
  if (params > MAX_MODEL_PARAMS) {
    throw new ConfigError(`model: these settings give ${params.toExponential(2)} parameters (${(16 * params / 2 ** 30).toFixed(1)} GiB with EMA and optimizer state), over the limit of ${MAX_MODEL_PARAMS.toExponential(0)}; lower model.width, depth, mlpRatio, headWidth or numClasses`);
  }
  return c;
}

/** A generator of the config's method (NestAR, raster or next-scale AR), its weights drawn from `seed`. */
export function createGenerator(config: ModelConfigInput, seed = 0): Generator {
  const c = resolveModelConfig(config);
  if (c.kind === 'nestar') return new NestAR(c, seed);
  return c.kind === 'raster' ? new RasterAR(c, seed) : new NextScaleAR(c, seed);
}

/** A one-line description: parameters, sequential calls, tokens. */
export function describeGenerator(g: Generator): string {
  return `${g.method}: ${g.params.count().toLocaleString()} parameters, ${g.sequentialSteps} sequential steps for ${g.numTokens} tokens`;
}
