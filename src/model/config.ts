// One typed, validated config per model (VAR style). Per-module settings may be arrays (fractalgen
// style): a single number applies to every module.
import { ConfigError } from '../util/configError.js';
import { modulePlan, type ModulePlan } from './zorder.js';
import { moduleWeightValues, type ModuleWeights } from './coord.js';
import { HEAD_KINDS, type HeadKind } from '../flow/head.js';
import { TOKEN_ORDERS, type TokenOrder } from './tokenOrder.js';

/** NestAR model settings as a config file gives them (grid, widths, heads, modules, flow head, token order). */
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
  /**
   * Flow head of modules 2..M: 'token' (per-token MLP, MAR) or 'patch' (a small transformer over the
   * tokens of one patch, FlowAR). Module 1 makes one token a step, so it always has the per-token head.
   */
  headKind: HeadKind;
  /** Attention heads of a patch head. */
  headHeads: number;
  /** Map from sequence index to grid: 'zorder' (patches are square blocks) or 'interleaved' (lattices spanning the grid). */
  order: TokenOrder;
  /** Per-module loss weights lambda_m: 'tokens' (default: equal per token), 'modules' (1 each) or M numbers. */
  lossWeights?: ModuleWeights;
  /** Backbones take the context noise level s as an input (noisy-context coordination). */
  contextNoise?: boolean;
}

// Patch head and interleaved order by default: measured best (results/RESULTS.md, "Flow heads and token orders").
/** NestAR settings a config file may leave out. */
export const defaultNestARConfig: NestARConfig = {
  kind: 'nestar', gridSize: 8, tokenDim: 16, k: 4, n1: 4, numClasses: 10,
  width: 128, depth: 2, heads: 4, mlpRatio: 4, headWidth: 128, headDepth: 2, headKind: 'patch', headHeads: 4, order: 'interleaved',
};

/** What a checkpoint made before a setting existed meant by its absence (it must load as it was trained). */
export const LEGACY_MODEL_SETTINGS = { headKind: 'token', headHeads: 4 } as const;

/**
 * A checkpoint's recorded model section with the meaning of settings it predates filled in: no head kind
 * meant per-token heads, no order Z-order, and (NestAR) no loss weights meant weight 1 per module.
 */
export function checkpointModelSettings<T extends object>(model: T): T {
  if (model === null || typeof model !== 'object' || Array.isArray(model)) return model;
  const m = model as Record<string, unknown>;
  const out: Record<string, unknown> = { ...LEGACY_MODEL_SETTINGS, ...m };
  if (m.kind === 'nestar' || m.kind === undefined) {
    out.order = m.order ?? 'zorder';
    if (m.lossWeights === undefined) out.lossWeights = 'modules';
  }
  return out as T;
}

export { ConfigError };

/**
 * Upper bounds of the integer model settings: far above anything that trains on one machine, low enough
 * that a typo (1e9) is an error naming the field instead of an allocation that fails a minute later.
 */
export const MODEL_LIMITS: Record<string, number> = {
  gridSize: 256, tokenDim: 4096, k: 256, n1: 65536, numClasses: 100000, width: 4096, depth: 256, heads: 256,
  mlpRatio: 16, headWidth: 4096, headDepth: 64, headHeads: 256,
};

/** The most parameters a model may have here: weights, EMA and two AdamW moments must fit in memory. */
export const MAX_MODEL_PARAMS = 200_000_000;

/** Checks a positive integer setting against its bound; the error names the field. */
export function checkModelInt(field: string, v: unknown, suffix = ''): void {
  const max = MODEL_LIMITS[field] ?? Infinity;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new ConfigError(`model.${field} must be an integer from 1 to ${max}${suffix}, got ${JSON.stringify(v)}`);
  }
}

/** Rejects keys no model knows, and a section that is not an object; the error names the key. */
export function checkModelSection(input: unknown, known: readonly string[]): void {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(`model must be an object of settings, got ${JSON.stringify(input)}`);
  for (const k of Object.keys(input)) {
    if (!known.includes(k)) throw new ConfigError(`model.${k} is not a known setting; known: ${known.join(', ')}`);
  }
}

/** Every key a model section may hold (one config can switch method, so NestAR's and the baselines' together). */
export const MODEL_KEYS = ['kind', ...Object.keys(defaultNestARConfig), 'lossWeights', 'contextNoise'].filter((k, i, a) => a.indexOf(k) === i);

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
  checkModelSection(partial, MODEL_KEYS);
  const c: NestARConfig = { ...defaultNestARConfig, ...partial, kind: 'nestar' };
  for (const f of ['gridSize', 'tokenDim', 'k', 'n1', 'numClasses', 'mlpRatio', 'headWidth', 'headDepth', 'headHeads'] as const) checkModelInt(f, c[f]);
  if (!HEAD_KINDS.includes(c.headKind)) throw new ConfigError(`model.headKind must be one of ${HEAD_KINDS.join(', ')}, got ${JSON.stringify(c.headKind)}`);
  if (!TOKEN_ORDERS.includes(c.order)) throw new ConfigError(`model.order must be one of ${TOKEN_ORDERS.join(', ')}, got ${JSON.stringify(c.order)}`);
  if (c.headKind === 'patch' && c.headWidth % c.headHeads !== 0) throw new ConfigError(`model.headWidth ${c.headWidth} is not divisible by model.headHeads ${c.headHeads}`);
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
    checkModelInt('width', w, ` (module ${i + 1})`); checkModelInt('depth', d, ` (module ${i + 1})`); checkModelInt('heads', h, ` (module ${i + 1})`);
    if (w % h !== 0) throw new ConfigError(`module ${i + 1}: width ${w} is not divisible by heads ${h}`);
    return { ...p, width: w, depth: d, heads: h, lossWeight: weights[i]! };
  });
  return { config: c, modules };
}
