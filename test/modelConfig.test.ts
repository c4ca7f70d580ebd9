// Model configs (src/model/config.ts, baselineConfig.ts, factory.ts, paramCount.ts): defaults, every
// rejection naming its field, the settings old checkpoints imply, matched baseline depth, and the closed-form
// parameter counts against built models of every method and head kind.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup } from './helpers.js';
import { checkpointModelSettings, ConfigError, defaultNestARConfig, MAX_MODEL_PARAMS, MODEL_LIMITS, resolveNestARConfig } from '../src/model/config.js';
import { transformerParams } from '../src/model/paramCount.js';
import { baselineInputTokens, baselineLossGroups, baselineParams, matchedDepth, nestarParams, nextScaleSides, resolveBaselineConfig } from '../src/model/baselineConfig.js';
import { createGenerator, describeGenerator, resolveModelConfig, type ModelConfigInput } from '../src/model/factory.js';
import { NestAR } from '../src/model/nestar.js';
import { RasterAR } from '../src/model/rasterAR.js';
import { NextScaleAR } from '../src/model/nextScaleAR.js';

before(setup);

const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test((e as Error).message);

test('NestAR defaults: the documented settings, loss weights recorded, three modules on the 8x8 grid', () => {
  const { config, modules } = resolveNestARConfig({});
  assert.deepEqual(config, { ...defaultNestARConfig, lossWeights: 'tokens' });
  assert.equal(config.headKind, 'patch');
  assert.equal(config.order, 'interleaved');
  assert.deepEqual(modules.map((m) => [m.m, m.start, m.end, m.patch, m.width, m.depth, m.heads]), [[1, 0, 4, 1, 128, 2, 4], [2, 4, 16, 4, 128, 2, 4], [3, 16, 64, 16, 128, 2, 4]]);
  assert.deepEqual(modules.map((m) => m.lossWeight), [4 / 64, 12 / 64, 48 / 64]);
  assert.deepEqual(resolveNestARConfig({ lossWeights: 'modules' }).modules.map((m) => m.lossWeight), [1, 1, 1]);
  const per = resolveNestARConfig({ width: [16, 32, 48], depth: [1, 2, 3], heads: [2, 4, 8] }).modules;
  assert.deepEqual(per.map((m) => [m.width, m.depth, m.heads]), [[16, 1, 2], [32, 2, 4], [48, 3, 8]]);
  assert.equal(resolveNestARConfig({ kind: 'raster' as never }).config.kind, 'nestar');
});

test('NestAR config: every integer setting rejects 0, fractions, strings and values over its limit, naming the field', () => {
  for (const f of ['gridSize', 'tokenDim', 'k', 'n1', 'numClasses', 'mlpRatio', 'headWidth', 'headDepth', 'headHeads'] as const) {
    const max = MODEL_LIMITS[f]!;
    for (const v of [0, -1, 2.5, '4', max + 1]) {
      assert.throws(() => resolveNestARConfig({ [f]: v } as never), configError(new RegExp(`^model\\.${f} must be an integer from 1 to ${max}, got ${JSON.stringify(v)}$`)), `${f} = ${v}`);
    }
  }
  for (const f of ['width', 'depth', 'heads'] as const) {
    const max = MODEL_LIMITS[f]!;
    assert.throws(() => resolveNestARConfig({ [f]: [1, 0, 1].map((x) => (f === 'depth' ? x : 4 * x)) } as never), configError(new RegExp(`model\\.${f} must be an integer from 1 to ${max} \\(module 2\\)`)), f);
    assert.throws(() => resolveNestARConfig({ [f]: [4, 4] } as never), configError(new RegExp(`^model\\.${f}: 2 values given but the model has 3 modules$`)), f);
  }
  assert.doesNotThrow(() => resolveNestARConfig({ headDepth: MODEL_LIMITS.headDepth }));
  assert.doesNotThrow(() => resolveNestARConfig({ tokenDim: 1, numClasses: 1, mlpRatio: 1, headDepth: 1 }));
});

test('NestAR config: kinds, order, divisibility, grid, k and n1 are checked with messages that say what is valid', () => {
  assert.throws(() => resolveNestARConfig({ headKind: 'joint' as never }), configError(/^model\.headKind must be one of token, patch, got "joint"$/));
  assert.throws(() => resolveNestARConfig({ order: 'raster' as never }), configError(/^model\.order must be one of zorder, interleaved, got "raster"$/));
  assert.throws(() => resolveNestARConfig({ headKind: 'patch', headWidth: 30, headHeads: 4 }), configError(/^model\.headWidth 30 is not divisible by model\.headHeads 4$/));
  assert.doesNotThrow(() => resolveNestARConfig({ headKind: 'token', headWidth: 30, headHeads: 4 }), 'a per-token head has no attention heads');
  assert.throws(() => resolveNestARConfig({ gridSize: 6, n1: 36 }), configError(/^model\.gridSize must be a power of 2 \(e\.g\. 4, 8, 16\), got 6$/));
  assert.doesNotThrow(() => resolveNestARConfig({ gridSize: 1, n1: 1 }));
  for (const k of [3, 6]) assert.throws(() => resolveNestARConfig({ k }), configError(new RegExp(`^model\\.k must be a power of 2 and at least 2 \\(4 gives square patches\\), got ${k}$`)));
  assert.throws(() => resolveNestARConfig({ k: 1 }), configError(/model\.k must be a power of 2 and at least 2/));
  assert.equal(resolveNestARConfig({ k: 2, n1: 8 }).modules.length, 4);
  assert.throws(() => resolveNestARConfig({ n1: 8 }), configError(/^model\.n1=8 does not fit a 8x8 grid with k=4: need 64 = n1\*k\^\(M-1\); valid n1 values are 1, 4, 16, 64$/));
  assert.equal(resolveNestARConfig({ n1: 64 }).modules.length, 1);
  assert.equal(resolveNestARConfig({ n1: 1 }).modules.length, 4);
  assert.throws(() => resolveNestARConfig({ width: [16, 16, 30], heads: 4 }), configError(/^module 3: width 30 is not divisible by heads 4$/));
  assert.throws(() => resolveNestARConfig({ contextNoise: 'yes' as never }), configError(/^model\.contextNoise must be true or false, got "yes"$/));
  assert.equal(resolveNestARConfig({ contextNoise: false }).config.contextNoise, false);
  assert.throws(() => resolveNestARConfig({ depht: 2 } as never), configError(/^model\.depht is not a known setting; known: kind, gridSize,/));
  for (const bad of [null, [], 3]) assert.throws(() => resolveNestARConfig(bad as never), configError(/^model must be an object of settings, got /));
});

test('a checkpoint\'s model section: settings it predates get the meaning they had then, recorded ones are kept', () => {
  assert.deepEqual(checkpointModelSettings({ kind: 'nestar', width: 8 }), { kind: 'nestar', width: 8, headKind: 'token', headHeads: 4, order: 'zorder', lossWeights: 'modules' });
  assert.deepEqual(checkpointModelSettings({}), { headKind: 'token', headHeads: 4, order: 'zorder', lossWeights: 'modules' });
  assert.deepEqual(checkpointModelSettings({ headKind: 'patch', headHeads: 2, order: 'interleaved', lossWeights: 'tokens' }), { headKind: 'patch', headHeads: 2, order: 'interleaved', lossWeights: 'tokens' });
  // The baselines never had a token order or NestAR's old loss weighting.
  assert.deepEqual(checkpointModelSettings({ kind: 'raster' }), { kind: 'raster', headKind: 'token', headHeads: 4 });
  for (const odd of [null, [1], 'x']) assert.deepEqual(checkpointModelSettings(odd as never), odd);
});

test('baseline geometry: next-scale sides, loss groups and input tokens', () => {
  assert.deepEqual(nextScaleSides(8), [1, 2, 4, 8]);
  assert.deepEqual(nextScaleSides(1), [1]);
  assert.deepEqual(baselineLossGroups('raster', 8), [64]);
  assert.deepEqual(baselineLossGroups('nextscale', 8), [1, 4, 16, 64]);
  assert.equal(baselineInputTokens('raster', 8), 63);
  assert.equal(baselineInputTokens('nextscale', 8), 4 + 16 + 64);
  assert.equal(baselineInputTokens('nextscale', 4), 4 + 16);
});

test('baseline configs: raster keeps its per-token head, depth is matched to NestAR\'s budget unless given, errors name the method', () => {
  const raster = resolveBaselineConfig({ kind: 'raster', headKind: 'patch' });
  assert.equal(raster.headKind, 'token');
  const ns = resolveBaselineConfig({ kind: 'nextscale', headKind: 'patch', k: 2, n1: 8, order: 'zorder' } as never);
  assert.equal(ns.headKind, 'patch');
  assert.equal(ns.lossWeights, 'tokens');
  assert.equal('contextNoise' in ns, false);
  assert.equal(resolveBaselineConfig({ kind: 'raster', contextNoise: true }).contextNoise, true);
  assert.equal(resolveBaselineConfig({ kind: 'raster', depth: 7 }).depth, 7);
  for (const kind of ['raster', 'nextscale'] as const) {
    const c = resolveBaselineConfig({ kind, width: 64, heads: 4 });
    const target = nestarParams(resolveNestARConfig({ width: 64, heads: 4 }).config);
    const dist = (d: number) => Math.abs(baselineParams({ ...c, depth: d }) - target);
    for (let d = 1; d <= 64; d++) assert.ok(dist(c.depth) <= dist(d), `${kind}: depth ${c.depth} is not the closest to NestAR's ${target} parameters (depth ${d} is)`);
    assert.ok(dist(c.depth) < dist(c.depth + 1) || c.depth === 64, `${kind}: ties go to the shallower depth`);
    assert.equal(matchedDepth(c, baselineParams({ ...c, depth: 5 })), 5);
    assert.equal(matchedDepth(c, 0), 1);
  }
  // A patch-head NestAR has more head parameters than a per-token one: the matched depth follows the head kind.
  const byHead = (headKind: 'token' | 'patch') => nestarParams(resolveNestARConfig({ headKind, headWidth: 64, width: 64 }).config);
  assert.notEqual(byHead('token'), byHead('patch'));
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', width: 0 }), configError(/^model\.width must be an integer from 1 to 4096 for method raster, got 0$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'nextscale', depth: 0 }), configError(/^model\.depth must be an integer from 1 to 256, got 0$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', headKind: 'mlp' as never }), configError(/^model\.headKind must be one of token, patch, got "mlp"$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'nextscale', headKind: 'patch', headWidth: 30 }), configError(/^model\.headWidth 30 is not divisible by model\.headHeads 4$/));
  assert.doesNotThrow(() => resolveBaselineConfig({ kind: 'raster', headKind: 'token', headWidth: 30 }), 'a per-token head has no attention heads');
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', gridSize: 12 }), configError(/^model\.gridSize must be a power of 2 \(e\.g\. 4, 8, 16\), got 12$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', width: 30, heads: 4 }), configError(/^model\.width 30 is not divisible by heads 4$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'nextscale', lossWeights: [1, 2] }), configError(/4 non-negative numbers \(one per scale\)/));
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', lossWeights: [1, 2] }), configError(/1 non-negative numbers \(one per module\)/));
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', widht: 3 } as never), configError(/model\.widht is not a known setting/));
});

test('the factory: default kind, kind checked, parameter ceiling before allocation, the right class for each method', () => {
  assert.equal(resolveModelConfig({}).kind, 'nestar');
  assert.equal(resolveModelConfig({ kind: 'raster' }).kind, 'raster');
  assert.throws(() => resolveModelConfig({ kind: 'diffusion' as never }), configError(/^model\.kind must be one of nestar, raster, nextscale, got "diffusion"$/));
  for (const bad of [null, [], 'nestar']) assert.throws(() => resolveModelConfig(bad as never), configError(/^model must be an object of settings/));
  assert.throws(() => resolveModelConfig({ width: 4096, depth: 64, heads: 4 }), configError(/^model: these settings give [\d.]+e\+\d+ parameters \([\d.]+ GiB with EMA and optimizer state\), over the limit of 2e\+8; lower model\.width/));
  const tiny = { gridSize: 4, tokenDim: 2, width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2, numClasses: 3 };
  for (const [kind, cls] of [['nestar', NestAR], ['raster', RasterAR], ['nextscale', NextScaleAR]] as const) {
    const g = createGenerator({ ...tiny, kind }, 1);
    assert.ok(g instanceof cls, kind);
    assert.equal(g.method, kind);
    assert.equal(describeGenerator(g), `${kind}: ${g.params.count().toLocaleString()} parameters, ${g.sequentialSteps} sequential steps for 16 tokens`);
    g.dispose();
  }
});

test('closed-form parameter counts equal the built models for every method, head kind and noise input', () => {
  const tiny = { gridSize: 4, tokenDim: 3, width: 8, depth: 2, heads: 2, headWidth: 8, headDepth: 2, headHeads: 2, numClasses: 3, mlpRatio: 2 };
  for (const headKind of ['token', 'patch'] as const) {
    for (const contextNoise of [false, true]) {
      for (const kind of ['nestar', 'raster', 'nextscale'] as const) {
        const input = { ...tiny, kind, headKind, contextNoise, ...(kind === 'nestar' ? { width: [8, 16], heads: [2, 4], k: 4, n1: 4 } : {}) } as ModelConfigInput;
        const c = resolveModelConfig(input);
        const g = createGenerator(input, 0);
        assert.equal(g.params.count(), c.kind === 'nestar' ? nestarParams(c) : baselineParams(c), `${kind}, ${headKind} head, noise input ${contextNoise}`);
        g.dispose();
      }
    }
  }
});

test('baseline checks fire on their own when depth is given (no NestAR budget to fall back on), and matched depth reaches 64 and breaks ties shallow', () => {
  // With depth given, no NestAR of the same settings is resolved, so only the baseline's own checks stand between a bad value and the model.
  assert.throws(() => resolveBaselineConfig({ kind: 'nextscale', depth: 2, headKind: 'mlp' as never }), configError(/^model\.headKind must be one of token, patch, got "mlp"$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'nextscale', depth: 2, headKind: 'patch', headWidth: 30 }), configError(/^model\.headWidth 30 is not divisible by model\.headHeads 4$/));
  assert.throws(() => resolveBaselineConfig({ kind: 'raster', depth: 2, gridSize: 12 }), configError(/^model\.gridSize must be a power of 2 \(e\.g\. 4, 8, 16\), got 12$/));
  const c = resolveBaselineConfig({ kind: 'raster', width: 16, heads: 2 });
  const p = (d: number) => baselineParams({ ...c, depth: d });
  assert.equal(matchedDepth(c, p(64)), 64, 'the deepest depth searched is 64');
  assert.equal(matchedDepth(c, p(64) * 10), 64);
  // A target exactly between two depths' counts: the shallower one wins.
  assert.equal((p(3) + p(4)) % 2, 0, 'test setup: an integer midpoint');
  assert.equal(matchedDepth(c, (p(3) + p(4)) / 2), 3);
  assert.equal(matchedDepth(c, (p(3) + p(4)) / 2 + 1), 4);
});

test('the parameter ceiling: undefined input named, each method counted by its own formula, exactly the limit allowed, the GiB figure computed', () => {
  assert.throws(() => resolveModelConfig(undefined as never), configError(/^model must be an object of settings, got undefined$/));
  // A raster AR whose own count is under the limit while the same settings read as NestAR (three modules) are over it, and the reverse.
  const raster = { kind: 'raster' as const, width: 1024, heads: 8, depth: 10, headWidth: 64 };
  const rc = resolveModelConfig(raster);
  assert.ok(rc.kind === 'raster' && baselineParams(rc) < MAX_MODEL_PARAMS && nestarParams({ ...defaultNestARConfig, ...raster, kind: 'nestar' }) > MAX_MODEL_PARAMS, 'test setup: counts straddle the limit');
  const nestar = { kind: 'nestar' as const, width: 1024, heads: 8, depth: 6, headWidth: 64 };
  const nc = resolveNestARConfig(nestar).config;
  assert.ok(nestarParams(nc) > MAX_MODEL_PARAMS && baselineParams({ ...nc, kind: 'raster', depth: 6 } as never) < MAX_MODEL_PARAMS, 'test setup: counts straddle the limit');
  let message = '';
  try { resolveModelConfig(nestar); } catch (e) { message = (e as Error).message; }
  const params = nestarParams(nc);
  assert.ok(message.startsWith(`model: these settings give ${params.toExponential(2)} parameters (${(16 * params / 2 ** 30).toFixed(1)} GiB with EMA and optimizer state)`), message);
  // numClasses adds one width-sized row per class: solve for a raster AR of exactly MAX_MODEL_PARAMS parameters.
  const base = { kind: 'raster' as const, width: 512, heads: 8, depth: 1, headWidth: 64, numClasses: 1 };
  let exact: ModelConfigInput | undefined;
  for (let tokenDim = 1; tokenDim <= 512 && !exact; tokenDim++) {
    const p0 = baselineParams(resolveBaselineConfig({ ...base, tokenDim })), per = baselineParams(resolveBaselineConfig({ ...base, tokenDim, numClasses: 2 })) - p0;
    for (let depth = 1; depth <= 64 && !exact; depth++) {
      const q0 = baselineParams(resolveBaselineConfig({ ...base, tokenDim, depth }));
      if ((MAX_MODEL_PARAMS - q0) % per === 0 && MAX_MODEL_PARAMS - q0 >= 0 && (MAX_MODEL_PARAMS - q0) / per < 99_000) exact = { ...base, tokenDim, depth, numClasses: 1 + (MAX_MODEL_PARAMS - q0) / per };
    }
  }
  assert.ok(exact, 'test setup: a raster AR of exactly the limit exists');
  const at = resolveModelConfig(exact!);
  assert.equal(baselineParams(at as never), MAX_MODEL_PARAMS);
  assert.throws(() => resolveModelConfig({ ...exact!, numClasses: (exact as { numClasses: number }).numClasses + 1 }), configError(/over the limit of 2e\+8/));
});

test('transformerParams counts no noise input unless asked', () => {
  assert.equal(transformerParams(16, 2, 4, 3, 5, 9), transformerParams(16, 2, 4, 3, 5, 9, false));
  assert.equal(transformerParams(16, 2, 4, 3, 5, 9, true) - transformerParams(16, 2, 4, 3, 5, 9), 2 * 16);
});
