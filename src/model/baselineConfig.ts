// Configs of the baselines (method.md §6): same tokens, width, head and sampler as NestAR; only the
// generation order differs. Unless depth is given, it is chosen so the parameter count matches the NestAR
// model of the same width (within 10%).
import { ConfigError, defaultNestARConfig, resolveNestARConfig, type NestARConfig } from './config.js';
import { flowHeadParams, transformerParams } from './paramCount.js';
import { moduleWeightValues, type ModuleWeights } from './coord.js';

export interface BaselineConfig {
  kind: 'raster' | 'nextscale';
  gridSize: number;
  tokenDim: number;
  numClasses: number;
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  headWidth: number;
  headDepth: number;
  /** Loss weights per group of rows (raster: one; next-scale: one per scale): 'tokens' (default), 'modules' or numbers. */
  lossWeights?: ModuleWeights;
  /** The backbone takes the context noise level s as an input (noisy-context coordination). */
  contextNoise?: boolean;
}

export function nextScaleSides(gridSize: number): number[] {
  const sides: number[] = [];
  for (let s = 1; s <= gridSize; s *= 2) sides.push(s);
  return sides;
}

/** Output rows per loss group: raster one group of n tokens; next-scale one group per scale. */
export function baselineLossGroups(kind: BaselineConfig['kind'], gridSize: number): number[] {
  return kind === 'raster' ? [gridSize * gridSize] : nextScaleSides(gridSize).map((s) => s * s);
}

/** Input tokens of the one transformer: raster n-1; next-scale the upsampled maps of all scales but the last. */
export function baselineInputTokens(kind: BaselineConfig['kind'], gridSize: number): number {
  if (kind === 'raster') return gridSize * gridSize - 1;
  return nextScaleSides(gridSize).slice(1).reduce((a, s) => a + s * s, 0);
}

export function baselineParams(c: Omit<BaselineConfig, 'depth'> & { depth: number }): number {
  const T = baselineInputTokens(c.kind, c.gridSize);
  return transformerParams(c.width, c.depth, c.mlpRatio, c.tokenDim, c.numClasses, T + 1, !!c.contextNoise) + flowHeadParams(c.tokenDim, c.width, c.headWidth, c.headDepth);
}

export function nestarParams(c: NestARConfig): number {
  const { modules } = resolveNestARConfig(c);
  return modules.reduce((s, m) => s + transformerParams(m.width, m.depth, c.mlpRatio, c.tokenDim, c.numClasses, m.inputTokens + 1, !!c.contextNoise)
    + flowHeadParams(c.tokenDim, m.width, c.headWidth, c.headDepth), 0);
}

export function resolveBaselineConfig(partial: Partial<BaselineConfig> & Partial<Pick<NestARConfig, 'k' | 'n1'>> & { kind: BaselineConfig['kind'] }): BaselineConfig {
  // NestAR-only settings (k, n1) are ignored so one config can switch method.
  const base = { ...defaultNestARConfig, ...(partial as object) } as NestARConfig;
  for (const f of ['gridSize', 'tokenDim', 'numClasses', 'width', 'heads', 'mlpRatio', 'headWidth', 'headDepth'] as const) {
    const v = base[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`model.${f} must be a positive integer for method ${partial.kind}, got ${JSON.stringify(v)}`);
  }
  const g = base.gridSize;
  if ((g & (g - 1)) !== 0) throw new ConfigError(`model.gridSize must be a power of 2 (e.g. 4, 8, 16), got ${g}`);
  const width = base.width as number, heads = base.heads as number;
  if (width % heads !== 0) throw new ConfigError(`model.width ${width} is not divisible by heads ${heads}`);
  const c = { kind: partial.kind, gridSize: g, tokenDim: base.tokenDim, numClasses: base.numClasses, width, heads,
    mlpRatio: base.mlpRatio, headWidth: base.headWidth, headDepth: base.headDepth,
    lossWeights: base.lossWeights ?? 'tokens', ...(base.contextNoise ? { contextNoise: true } : {}) };
  moduleWeightValues(c.lossWeights, baselineLossGroups(c.kind, g), c.kind === 'raster' ? 'modules' : 'scales');
  let depth = partial.depth;
  if (depth === undefined) depth = matchedDepth(c, nestarParams({ ...defaultNestARConfig, ...c, lossWeights: undefined, kind: 'nestar', width, heads, depth: defaultNestARConfig.depth }));
  if (!Number.isInteger(depth) || depth < 1) throw new ConfigError(`model.depth must be a positive integer, got ${JSON.stringify(depth)}`);
  return { ...c, depth };
}

/** The depth whose parameter count is closest to `target`. */
export function matchedDepth(c: Omit<BaselineConfig, 'depth'>, target: number): number {
  let best = 1;
  for (let d = 1; d <= 64; d++) {
    if (Math.abs(baselineParams({ ...c, depth: d }) - target) < Math.abs(baselineParams({ ...c, depth: best }) - target)) best = d;
  }
  return best;
}
