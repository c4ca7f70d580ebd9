// The run config (src/train/config.ts): defaults, the held-out split recorded for sources without a test
// split, every training field's bounds with a message naming it, token geometry, tokenizer settings, and the
// model fields the data decides.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { backgroundRgb, defaultChannels, defaultTrainConfig, resolveRunConfig, tokenGeometry, TRAIN_LIMITS, type TrainConfig } from '../src/train/config.js';
import { ConfigError } from '../src/model/config.js';
import { TOKENIZER_FORMAT } from '../src/tokenizer/checkpointInfo.js';

before(setup);

const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test((e as Error).message);

test('run config defaults: MNIST 32x32 grayscale in 4x4 patches (8x8 grid of 16-d tokens), the documented training settings', () => {
  const c = resolveRunConfig();
  assert.deepEqual(c.data, { source: 'mnist', imageSize: 32, channels: 1 }, 'MNIST has a test split: no held-out fraction recorded');
  assert.deepEqual(c.tokenizer, { kind: 'patch', patch: 4 });
  assert.deepEqual(c.train, defaultTrainConfig);
  assert.equal(c.model.gridSize, 8);
  assert.equal(c.model.tokenDim, 16);
  assert.equal(c.model.kind, 'nestar');
  assert.equal(c.coord.mode, 'none');
  assert.equal(defaultChannels('mnist'), 1);
  assert.equal(defaultChannels('emoji'), 3);
  assert.equal(defaultChannels('/some/folder'), 3);
  const t = resolveRunConfig({ train: { steps: 7, lr: 3e-4 } }).train;
  assert.deepEqual(t, { ...defaultTrainConfig, steps: 7, lr: 3e-4 });
});

test('sources without a test split record their held-out fraction, split seed and background; given values are kept', () => {
  const e = resolveRunConfig({ data: { source: 'emoji', channels: 3 } }).data;
  assert.deepEqual(e, { source: 'emoji', imageSize: 32, channels: 3, holdout: 0.1, splitSeed: 0, background: '#ffffff' });
  const f = resolveRunConfig({ data: { source: '/imgs', channels: 3, holdout: 0.25, splitSeed: 4, background: '#102030', limit: 9 } }).data;
  assert.deepEqual(f, { source: '/imgs', imageSize: 32, channels: 3, holdout: 0.25, splitSeed: 4, background: '#102030', limit: 9 });
  assert.equal(resolveRunConfig({ data: { source: '/imgs', holdout: 0 } }).data.holdout, 0);
  assert.deepEqual(backgroundRgb({}), [255, 255, 255]);
  assert.deepEqual(backgroundRgb({ background: '#102030' }), [16, 32, 48]);
  assert.deepEqual(backgroundRgb({ background: '#A0b0C0' }), [160, 176, 192]);
  for (const bad of ['#fff', '102030', '#1020300', 'white', 5]) {
    assert.throws(() => backgroundRgb({ background: bad as never }), configError(new RegExp(`^data\\.background must be a colour '#rrggbb', got ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}$`)), String(bad));
  }
});

test('data fields: size, source, channels, limit, holdout and split seed are checked and the error names the field', () => {
  const cases: Array<[object, RegExp]> = [
    [{ imageSize: 0 }, /^data\.imageSize must be an integer from 1 to 4096, got 0$/],
    [{ imageSize: 4100 }, /^data\.imageSize must be an integer from 1 to 4096, got 4100$/],
    [{ imageSize: 31.5 }, /^data\.imageSize must be an integer/],
    [{ source: '' }, /^data\.source must be 'mnist', 'emoji' or an image folder path, got ""$/],
    [{ channels: 2 }, /^data\.channels must be 1 or 3, got 2$/],
    [{ limit: 0 }, /^data\.limit must be a positive integer, got 0$/],
    [{ limit: 2.5 }, /^data\.limit must be a positive integer, got 2\.5$/],
    [{ source: '/d', holdout: -0.1 }, /^data\.holdout must be a fraction in \[0, 1\), got -0\.1$/],
    [{ source: '/d', splitSeed: -1 }, /^data\.splitSeed must be a non-negative integer, got -1$/],
    [{ source: '/d', splitSeed: 0.5 }, /^data\.splitSeed must be a non-negative integer, got 0\.5$/],
  ];
  for (const [data, re] of cases) assert.throws(() => resolveRunConfig({ data } as never), configError(re), JSON.stringify(data));
  assert.equal(resolveRunConfig({ data: { imageSize: 4096 }, tokenizer: { patch: 64 } }).model.gridSize, 64);
  assert.equal(resolveRunConfig({ data: { limit: 1 } }).data.limit, 1);
  assert.throws(() => resolveRunConfig({ data: { sorce: 'x' } } as never), configError(/^data\.sorce is not a known setting; known: source, imageSize, channels, limit, holdout, splitSeed, background$/));
});

test('every training field: its bounds, inclusive where documented, with a message naming the field and the range', () => {
  const rejects: Array<[keyof TrainConfig, unknown, RegExp]> = [];
  for (const f of ['steps', 'batchSize', 'checkpointEvery', 'sampleEvery', 'keepCheckpoints', 'headRepeats'] as const) {
    for (const v of [0, 1.5, TRAIN_LIMITS[f] + 1]) rejects.push([f, v, new RegExp(`^train\\.${f} must be an integer from 1 to ${TRAIN_LIMITS[f]}, got ${v}$`)]);
  }
  rejects.push(['microBatch', -1, /^train\.microBatch must be an integer from 0 \(the whole batch\) to train\.batchSize \(64\), got -1$/], ['microBatch', 65, /train\.batchSize \(64\), got 65$/],
    ['microBatch', 2.5, /^train\.microBatch must be/], ['warmupSteps', -1, /^train\.warmupSteps must be a non-negative integer, got -1$/], ['warmupSteps', 0.5, /^train\.warmupSteps/],
    ['seed', -1, /^train\.seed must be a non-negative integer, got -1$/], ['seed', 1.5, /^train\.seed/], ['lr', 0, /^train\.lr must be a positive number, got 0$/],
    ['timeSampling', 'normal', /^train\.timeSampling must be 'uniform' or 'logit-normal', got "normal"$/], ['lr', NaN, /^train\.lr must be a positive number, got NaN$/],
    ['steps', null, /^train\.steps must be an integer from 1 to 1000000000, got null$/]);
  for (const f of ['minLrRatio', 'classDropProb'] as const) rejects.push([f, -0.01, new RegExp(`^train\\.${f} must be in \\[0, 1\\], got -0\\.01$`)], [f, 1.01, new RegExp(`^train\\.${f} must be in \\[0, 1\\]`)]);
  for (const f of ['beta1', 'beta2', 'emaDecay'] as const) rejects.push([f, -0.01, new RegExp(`^train\\.${f} must be in \\[0, 1\\), got -0\\.01$`)], [f, 1, new RegExp(`^train\\.${f} must be in \\[0, 1\\), got 1$`)]);
  for (const f of ['weightDecay', 'gradClip'] as const) rejects.push([f, -1, new RegExp(`^train\\.${f} must be non-negative, got -1$`)]);
  for (const [f, v, re] of rejects) assert.throws(() => resolveRunConfig({ train: { [f]: v } } as never), configError(re), `${f} = ${v}`);
  // The edges that are allowed.
  const accepts: Array<Partial<TrainConfig>> = [
    { steps: 1, batchSize: 1, checkpointEvery: 1, sampleEvery: 1, keepCheckpoints: 1, headRepeats: 1, microBatch: 0, warmupSteps: 0, seed: 0 },
    { steps: TRAIN_LIMITS.steps, batchSize: TRAIN_LIMITS.batchSize, keepCheckpoints: TRAIN_LIMITS.keepCheckpoints, headRepeats: TRAIN_LIMITS.headRepeats, microBatch: TRAIN_LIMITS.batchSize },
    { minLrRatio: 0, classDropProb: 1, beta1: 0, beta2: 0, emaDecay: 0, weightDecay: 0, gradClip: 0, timeSampling: 'logit-normal', lr: 1e-9 },
    { minLrRatio: 1, classDropProb: 0 },
  ];
  for (const train of accepts) assert.deepEqual(resolveRunConfig({ train }).train, { ...defaultTrainConfig, ...train }, JSON.stringify(train));
  assert.equal(resolveRunConfig({ train: { batchSize: 8, microBatch: 8 } }).train.microBatch, 8);
});

test('token geometry and the model fields it decides: a contradicting gridSize or tokenDim names both values', () => {
  assert.deepEqual(tokenGeometry({ kind: 'patch', patch: 4 }, { source: 'mnist', imageSize: 32, channels: 3 }), { grid: 8, tokenDim: 48 });
  assert.deepEqual(tokenGeometry({ kind: 'kl', checkpoint: 'x', patch: 2, factor: 4, latentChannels: 3 }, { source: 'mnist', imageSize: 64, channels: 3 }), { grid: 8, tokenDim: 12 });
  const c = resolveRunConfig({ data: { source: 'emoji', channels: 3, imageSize: 16 }, tokenizer: { patch: 2 } });
  assert.equal(c.model.gridSize, 8);
  assert.equal(c.model.tokenDim, 12);
  assert.equal(resolveRunConfig({ model: { gridSize: 8, tokenDim: 16 } }).model.gridSize, 8, 'a model that agrees is fine');
  assert.throws(() => resolveRunConfig({ model: { gridSize: 4 } }), configError(/^model\.gridSize=4 contradicts the data and tokenizer settings \(which give 8\); leave it out$/));
  assert.throws(() => resolveRunConfig({ model: { tokenDim: 3 } }), configError(/^model\.tokenDim=3 contradicts the data and tokenizer settings \(which give 16\); leave it out$/));
  assert.equal(resolveRunConfig({ coord: { mode: 'noisy-context' } }).model.contextNoise, true, 'noisy context gives the backbone its noise input');
  assert.equal(resolveRunConfig({ coord: { mode: 'noisy-context' }, model: { contextNoise: true } }).model.contextNoise, true);
  assert.equal(resolveRunConfig({}).model.contextNoise, undefined);
  assert.throws(() => resolveRunConfig({ model: { contextNoise: true } }), configError(/^model\.contextNoise=true contradicts coord\.mode='none'; leave it out$/));
});

test('tokenizer settings: the patch must divide the image, a KL tokenizer needs its checkpoint, factors given skip the read', () => {
  for (const patch of [0, 3, 2.5]) {
    assert.throws(() => resolveRunConfig({ tokenizer: { patch } }), configError(new RegExp(`^tokenizer\\.patch must be a positive integer dividing data\\.imageSize \\(32\\), got ${patch}$`)), String(patch));
  }
  assert.deepEqual(resolveRunConfig({ tokenizer: { kind: 'patch', patch: 8 } }).tokenizer, { kind: 'patch', patch: 8 });
  assert.throws(() => resolveRunConfig({ tokenizer: { kind: 'vq' as never } }), configError(/^tokenizer\.kind must be 'patch' or 'kl', got "vq"$/));
  assert.throws(() => resolveRunConfig({ tokenizer: { kind: 'kl' } }), configError(/^tokenizer\.checkpoint \(a trained tokenizer: nestar train-tokenizer\) is required for tokenizer\.kind 'kl'$/));
  const kl = resolveRunConfig({ tokenizer: { checkpoint: 'tok', factor: 4, latentChannels: 2 } }).tokenizer;
  assert.deepEqual(kl, { kind: 'kl', checkpoint: 'tok', patch: 1, factor: 4, latentChannels: 2 }, 'a checkpoint alone means kind kl');
  assert.deepEqual(resolveRunConfig({ tokenizer: { checkpoint: 'tok', factor: 4, latentChannels: 2, patch: 2, cache: 'c.bin' } }).tokenizer,
    { kind: 'kl', checkpoint: 'tok', patch: 2, factor: 4, latentChannels: 2, cache: 'c.bin' });
  assert.throws(() => resolveRunConfig({ tokenizer: { checkpoint: 'tok', factor: 4, latentChannels: 2, patch: 3 } }), configError(/^tokenizer\.patch must divide the latent side 8, got 3$/));
  // Without the factors the checkpoint is read; a folder that is not a tokenizer is an error, not a crash.
  const empty = mkdtempSync(join(tmpdir(), 'nestar-tok-'));
  assert.throws(() => resolveRunConfig({ tokenizer: { checkpoint: empty } }), (e: unknown) => e instanceof Error && e.message.includes(empty));
  assert.throws(() => resolveRunConfig({ tokenizer: { ptach: 4 } } as never), configError(/^tokenizer\.ptach is not a known setting; known: kind, patch, checkpoint, factor, latentChannels, cache$/));
  assert.throws(() => resolveRunConfig({ train: { stpes: 4 } } as never), configError(/^train\.stpes is not a known setting; known: steps, batchSize,/));
  for (const sec of ['model', 'data', 'tokenizer', 'train', 'coord']) {
    assert.throws(() => resolveRunConfig({ [sec]: 'x' } as never), configError(new RegExp(`^${sec} must be an object of settings, got "x"$`)), sec);
  }
  assert.throws(() => resolveRunConfig([] as never), configError(/^config must be an object with sections model, data, tokenizer, train, coord; got \[\]$/));
});

test('run config edges: whole-config and section shapes, non-finite numbers, fractional and negative patches, and a KL checkpoint read for its factors', () => {
  for (const bad of [null, 'abc', 5]) {
    assert.throws(() => resolveRunConfig(bad as never), configError(new RegExp(`^config must be an object with sections model, data, tokenizer, train, coord; got ${JSON.stringify(JSON.stringify(bad)).slice(1, -1)}$`)), String(bad));
  }
  for (const sec of ['model', 'data', 'tokenizer', 'train', 'coord']) {
    assert.throws(() => resolveRunConfig({ [sec]: null } as never), configError(new RegExp(`^${sec} must be an object of settings, got null$`)), sec);
  }
  assert.throws(() => resolveRunConfig({ modle: {} } as never), configError(/^config\.modle is not a known setting; known: model, data, tokenizer, train, coord, recipe$/));
  // JSON reads 1e400 as Infinity: rejected even where the bound alone would let it through.
  assert.throws(() => resolveRunConfig(JSON.parse('{"train": {"lr": 1e400}}')), configError(/^train\.lr must be a positive number, got Infinity$/));
  assert.throws(() => resolveRunConfig({ train: { lr: '0.1' } } as never), configError(/^train\.lr must be a positive number, got "0\.1"$/));
  assert.throws(() => resolveRunConfig({ data: { source: 5 } } as never), configError(/^data\.source must be 'mnist', 'emoji' or an image folder path, got 5$/));
  assert.throws(() => resolveRunConfig({ data: { source: '/d', holdout: 1 } }), configError(/^data\.holdout must be a fraction in \[0, 1\), got 1$/));
  assert.equal(resolveRunConfig({ data: { source: '/d', holdout: 0 } }).data.holdout, 0);
  assert.equal(resolveRunConfig({ data: { imageSize: 1 }, tokenizer: { patch: 1 }, model: { kind: 'raster', depth: 1 } }).model.gridSize, 1, 'an image of one pixel is allowed');
  for (const bad of [['#ffffff'], 'x#ffffff', '#ffffffx']) {
    assert.throws(() => backgroundRgb({ background: bad as never }), configError(/^data\.background must be a colour '#rrggbb'/), JSON.stringify(bad));
  }
  // Pixel patches: 0.5 and -4 would divide 32 exactly; 1 (one pixel a token) is allowed.
  for (const patch of [0.5, -4]) {
    assert.throws(() => resolveRunConfig({ tokenizer: { patch } }), configError(new RegExp(`^tokenizer\\.patch must be a positive integer dividing data\\.imageSize \\(32\\), got ${patch}$`)), String(patch));
  }
  assert.deepEqual(resolveRunConfig({ data: { imageSize: 8 }, tokenizer: { patch: 1 } }).tokenizer, { kind: 'patch', patch: 1 });
  const kl = { checkpoint: 'tok', factor: 4, latentChannels: 2 };
  for (const patch of [0.5, -2]) {
    assert.throws(() => resolveRunConfig({ tokenizer: { ...kl, patch } }), configError(new RegExp(`^tokenizer\\.patch must divide the latent side 8, got ${patch}$`)), String(patch));
  }
  for (const checkpoint of [5, '']) {
    assert.throws(() => resolveRunConfig({ tokenizer: { kind: 'kl', checkpoint } } as never), configError(/^tokenizer\.checkpoint \(a trained tokenizer: nestar train-tokenizer\) is required for tokenizer\.kind 'kl'$/), JSON.stringify(checkpoint));
  }
  // A tokenizer checkpoint's state.json is all that is read: factor and channels come from it unless both are given.
  const tok = mkdtempSync(join(tmpdir(), 'nestar-tokcfg-'));
  writeFileSync(join(tok, 'state.json'), JSON.stringify({ format: TOKENIZER_FORMAT, config: { tokenizer: { imageSize: 32, channels: 1, factor: 4, latentChannels: 3 } } }));
  assert.deepEqual(resolveRunConfig({ tokenizer: { checkpoint: tok } }).tokenizer, { kind: 'kl', checkpoint: tok, patch: 1, factor: 4, latentChannels: 3 });
  assert.deepEqual(resolveRunConfig({ tokenizer: { checkpoint: tok, factor: 4 } }).tokenizer, { kind: 'kl', checkpoint: tok, patch: 1, factor: 4, latentChannels: 3 }, 'factor alone: channels read');
  assert.deepEqual(resolveRunConfig({ tokenizer: { checkpoint: tok, latentChannels: 3 } }).tokenizer, { kind: 'kl', checkpoint: tok, patch: 1, factor: 4, latentChannels: 3 }, 'channels alone: factor read');
  assert.throws(() => resolveRunConfig({ data: { imageSize: 64 }, tokenizer: { checkpoint: tok } }), configError(new RegExp(`^tokenizer ${tok} was trained on 32x32x1 images, but data gives 64x64x1$`)));
  assert.throws(() => resolveRunConfig({ data: { channels: 3 }, tokenizer: { checkpoint: tok } }), configError(new RegExp(`^tokenizer ${tok} was trained on 32x32x1 images, but data gives 32x32x3$`)));
  rmSync(tok, { recursive: true, force: true });
});
