// One place that knows every method: resolves a model config by its kind and builds the generator.
import { ConfigError, resolveNestARConfig, type NestARConfig } from './config.js';
import { resolveBaselineConfig, type BaselineConfig } from './baselineConfig.js';
import { METHODS, type Generator, type Method } from './generator.js';
import { NestAR } from './nestar.js';
import { RasterAR } from './rasterAR.js';
import { NextScaleAR } from './nextScaleAR.js';

export type ModelConfig = NestARConfig | BaselineConfig;
export type ModelConfigInput = (Partial<NestARConfig> | Partial<BaselineConfig>) & { kind?: Method };

export function resolveModelConfig(input: ModelConfigInput): ModelConfig {
  const kind = input.kind ?? 'nestar';
  if (!METHODS.includes(kind)) throw new ConfigError(`model.kind must be one of ${METHODS.join(', ')}, got ${JSON.stringify(kind)}`);
  if (kind === 'nestar') return resolveNestARConfig(input as Partial<NestARConfig>).config;
  return resolveBaselineConfig({ ...(input as Partial<BaselineConfig>), kind });
}

export function createGenerator(config: ModelConfigInput, seed = 0): Generator {
  const c = resolveModelConfig(config);
  if (c.kind === 'nestar') return new NestAR(c, seed);
  return c.kind === 'raster' ? new RasterAR(c, seed) : new NextScaleAR(c, seed);
}

/** A one-line description: parameters, sequential calls, tokens. */
export function describeGenerator(g: Generator): string {
  return `${g.method}: ${g.params.count().toLocaleString()} parameters, ${g.sequentialSteps} sequential steps for ${g.numTokens} tokens`;
}
