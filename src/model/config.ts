// One typed, validated config per model (VAR style). Per-module settings may be arrays (fractalgen
// style): a single number applies to every module.
import { modulePlan, type ModulePlan } from './zorder.js';
import { moduleWeightValues, type ModuleWeights } from './coord.js';

export interface NestARConfig {
  kind: 'nestar';
  /** Tokens per side of the (square) token grid; a power of 2. */
  gridSize: number;
  /** Channels of one continuous token. */
  tokenDim: number;
  /** Patches per module. */
  k: number;
  /** Tokens made by module 1 one at a time. */
  n1: number;
  /** Class count; a learned null class (index numClasses) is added for classifier-free guidance. */
  numClasses: number;
  width: number | number[];
  depth: number | number[];
  heads: number | number[];
  mlpRatio: number;
  headWidth: number;
  headDepth: number;
  /** Per-module loss weights lambda_m: 'tokens' (default: equal per token), 'modules' (1 each) or M numbers. */
  lossWeights?: ModuleWeights;
  /** Backbones take the context noise level s as an input (noisy-context coordination). */
  contextNoise?: boolean;
}

export const defaultNestARConfig: NestARConfig = {
  kind: 'nestar', gridSize: 8, tokenDim: 16, k: 4, n1: 4, numClasses: 10,
  width: 128, depth: 2, heads: 4, mlpRatio: 4, headWidth: 128, headDepth: 2,
};

export class ConfigError extends Error {}

const isPow2 = (x: number) => Number.isInteger(x) && x >= 1 && (x & (x - 1)) === 0;

function perModule(name: string, v: number | number[], M: number): number[] {
  if (Array.isArray(v)) {
    if (v.length !== M) throw new ConfigError(`model.${name}: ${v.length} values given but the model has ${M} modules`);
    return v;
  }
  return new Array(M).fill(v);
}

export interface ResolvedModule extends ModulePlan { width: number; depth: number; heads: number; lossWeight: number }

/** Validates a config (filling defaults) and returns it with the per-module plan. */
export function resolveNestARConfig(partial: Partial<NestARConfig>): { config: NestARConfig; modules: ResolvedModule[] } {
  const c: NestARConfig = { ...defaultNestARConfig, ...partial, kind: 'nestar' };
  for (const f of ['gridSize', 'tokenDim', 'k', 'n1', 'numClasses', 'mlpRatio', 'headWidth', 'headDepth'] as const) {
    if (!Number.isInteger(c[f]) || (c[f] as number) < 1) throw new ConfigError(`model.${f} must be a positive integer, got ${JSON.stringify(c[f])}`);
  }
  if (!isPow2(c.gridSize)) throw new ConfigError(`model.gridSize must be a power of 2 (e.g. 4, 8, 16), got ${c.gridSize}`);
  if (!isPow2(c.k) || c.k < 2) throw new ConfigError(`model.k must be a power of 2 and at least 2 (4 gives square patches), got ${c.k}`);
  const n = c.gridSize * c.gridSize;
  const valid: number[] = [];
  for (let v = n; v >= 1 && Number.isInteger(v); v /= c.k) valid.push(v);
  if (!valid.includes(c.n1)) {
    throw new ConfigError(`model.n1=${c.n1} does not fit a ${c.gridSize}x${c.gridSize} grid with k=${c.k}: ` +
      `need ${n} = n1*k^(M-1); valid n1 values are ${valid.reverse().join(', ')}`);
  }
  const plans = modulePlan(n, c.k, c.n1);
  const M = plans.length;
  const widths = perModule('width', c.width, M), depths = perModule('depth', c.depth, M), heads = perModule('heads', c.heads, M);
  c.lossWeights = c.lossWeights ?? 'tokens'; // recorded explicitly in every saved config
  const weights = moduleWeightValues(c.lossWeights, plans.map((p) => p.end - p.start));
  if (c.contextNoise !== undefined && typeof c.contextNoise !== 'boolean') throw new ConfigError(`model.contextNoise must be true or false, got ${JSON.stringify(c.contextNoise)}`);
  const modules = plans.map((p, i) => {
    const w = widths[i]!, d = depths[i]!, h = heads[i]!;
    if (!Number.isInteger(w) || w < 1 || !Number.isInteger(d) || d < 1 || !Number.isInteger(h) || h < 1) {
      throw new ConfigError(`module ${i + 1}: width, depth and heads must be positive integers`);
    }
    if (w % h !== 0) throw new ConfigError(`module ${i + 1}: width ${w} is not divisible by heads ${h}`);
    return { ...p, width: w, depth: d, heads: h, lossWeight: weights[i]! };
  });
  return { config: c, modules };
}
