// Configs of the baselines (method.md §6): same tokens, width, head and sampler as NestAR; only the
// generation order differs. Unless depth is given, it is chosen so the parameter count matches the NestAR
// model of the same width (within 10%).
import { ConfigError, checkModelInt, checkModelSection, defaultNestARConfig, MODEL_KEYS, resolveNestARConfig, type NestARConfig } from './config.js';
import { flowHeadParams, patchFlowHeadParams, transformerParams } from './paramCount.js';
import { HEAD_KINDS, type HeadKind } from '../flow/head.js';
import { PATCH_HEAD_MLP_RATIO } from '../flow/patchFlowHead.js';
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
  /** Next-scale AR: 'patch' generates each scale jointly (FlowAR). Raster AR makes one token a step: always 'token'. */
  headKind: HeadKind;
  headHeads: number;
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

/** Parameters of one head of `kind` over `slots` in-patch positions (slots matter for a patch head only). */
export function headParams(kind: HeadKind, c: { tokenDim: number; headWidth: number; headDepth: number }, condDim: number, slots: number): number {
  return kind === 'token' ? flowHeadParams(c.tokenDim, condDim, c.headWidth, c.headDepth)
    : patchFlowHeadParams(c.tokenDim, condDim, c.headWidth, c.headDepth, slots, PATCH_HEAD_MLP_RATIO);
}

export function baselineParams(c: Omit<BaselineConfig, 'depth'> & { depth: number }): number {
  const T = baselineInputTokens(c.kind, c.gridSize);
  const slots = baselineLossGroups(c.kind, c.gridSize).reduce((a, b) => a + b, 0);
  return transformerParams(c.width, c.depth, c.mlpRatio, c.tokenDim, c.numClasses, T + 1, !!c.contextNoise) + headParams(c.headKind, c, c.width, slots);
}

export function nestarParams(c: NestARConfig): number {
  const { config, modules } = resolveNestARConfig(c);
  return modules.reduce((s, m) => s + transformerParams(m.width, m.depth, c.mlpRatio, c.tokenDim, c.numClasses, m.inputTokens + 1, !!c.contextNoise)
    + headParams(m.m === 1 ? 'token' : config.headKind, config, m.width, m.patch), 0);
}

export function resolveBaselineConfig(partial: Partial<BaselineConfig> & Partial<Pick<NestARConfig, 'k' | 'n1'>> & { kind: BaselineConfig['kind'] }): BaselineConfig {
  // NestAR-only settings (k, n1, order) are ignored so one config can switch method.
  checkModelSection(partial, MODEL_KEYS);
  const base = { ...defaultNestARConfig, ...(partial as object) } as NestARConfig;
  for (const f of ['gridSize', 'tokenDim', 'numClasses', 'width', 'heads', 'mlpRatio', 'headWidth', 'headDepth', 'headHeads'] as const) {
    checkModelInt(f, base[f], ` for method ${partial.kind}`);
  }
  if (!HEAD_KINDS.includes(base.headKind)) throw new ConfigError(`model.headKind must be one of ${HEAD_KINDS.join(', ')}, got ${JSON.stringify(base.headKind)}`);
  // What the NestAR of the same settings would use: the parameter budget is matched against it, heads included.
  const nestarHead = base.headKind;
  const headKind: HeadKind = partial.kind === 'raster' ? 'token' : base.headKind;
  if (headKind === 'patch' && base.headWidth % base.headHeads !== 0) throw new ConfigError(`model.headWidth ${base.headWidth} is not divisible by model.headHeads ${base.headHeads}`);
  const g = base.gridSize;
  if ((g & (g - 1)) !== 0) throw new ConfigError(`model.gridSize must be a power of 2 (e.g. 4, 8, 16), got ${g}`);
  const width = base.width as number, heads = base.heads as number;
  if (width % heads !== 0) throw new ConfigError(`model.width ${width} is not divisible by heads ${heads}`);
  const c = { kind: partial.kind, gridSize: g, tokenDim: base.tokenDim, numClasses: base.numClasses, width, heads,
    mlpRatio: base.mlpRatio, headWidth: base.headWidth, headDepth: base.headDepth, headKind, headHeads: base.headHeads,
    lossWeights: base.lossWeights ?? 'tokens', ...(base.contextNoise ? { contextNoise: true } : {}) };
  moduleWeightValues(c.lossWeights, baselineLossGroups(c.kind, g), c.kind === 'raster' ? 'modules' : 'scales');
  let depth = partial.depth;
  if (depth === undefined) {
    depth = matchedDepth(c, nestarParams({ ...defaultNestARConfig, ...c, headKind: nestarHead, lossWeights: undefined, kind: 'nestar', width, heads, depth: defaultNestARConfig.depth, k: base.k, n1: base.n1 }));
  }
  checkModelInt('depth', depth);
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
