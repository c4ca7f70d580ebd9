// The trainer's schedule and bookkeeping on 8x8 synthetic images (src/train/trainer.ts), fast: when run()
// checkpoints and samples, what a step reports, what a checkpoint's state records, resume overrides, and the
// refusals of labels and class counts. Learning, exact resume and crash safety are in training/crash tests.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomiseParams, setup, tf } from './helpers.js';
import { resolveRunConfig, type RunConfigInput } from '../src/train/config.js';
import { Trainer, type StepLog } from '../src/train/trainer.js';
import { loadCheckpoint, loadSamplingCheckpoint } from '../src/train/checkpoint.js';
import { DataCursor } from '../src/train/dataCursor.js';
import { exportVariables } from '../src/train/weights.js';
import { LatentTokenizer } from '../src/tokenizer/latentTokenizer.js';
import { encodeSafetensors } from '../src/util/safetensors.js';
import { Rng } from '../src/util/rng.js';
import { learningRate } from '../src/train/optimizer.js';
import type { ImageDataset } from '../src/data/dataset.js';

before(setup);

const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-trainer-'));
const model = { width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2, numClasses: 3 };
const config = (train: RunConfigInput['train'] = {}, data: RunConfigInput['data'] = {}) =>
  resolveRunConfig({ model, data: { imageSize: 8, ...data }, tokenizer: { patch: 2 }, train: { batchSize: 4, warmupSteps: 1, headRepeats: 1, ...train } });

function images(count: number, labels: number[], source = 'synthetic', classNames: string[] = []): ImageDataset {
  const data = Float32Array.from({ length: count * 64 }, (_, i) => Math.sin(i * 0.37));
  return { data, count, height: 8, width: 8, channels: 1, labels: Int32Array.from({ length: count }, (_, i) => labels[i % labels.length]!), classNames, source };
}

test('run() checkpoints every checkpointEvery steps and at the end, writes sample grids likewise, and reports each step', async () => {
  const dir = tmp();
  const t = Trainer.create(config({ steps: 5, checkpointEvery: 2, sampleEvery: 3, keepCheckpoints: 10, lr: 2e-3 }), { runDir: dir, data: images(6, [0, 1, 2]) });
  const logs: StepLog[] = [];
  await t.run((l) => logs.push(l));
  assert.deepEqual(readdirSync(join(dir, 'checkpoints')), ['step-0000002', 'step-0000004', 'step-0000005']);
  assert.deepEqual(readdirSync(join(dir, 'samples')).sort(), ['step-0000003.png', 'step-0000005.png']);
  assert.deepEqual(logs.map((l) => l.step), [1, 2, 3, 4, 5]);
  logs.forEach((l, i) => {
    assert.equal(l.lr, learningRate(i, 5, 2e-3, 1, 0.05), `step ${i} learning rate`);
    assert.equal(l.skipped, false);
    assert.ok(l.gradNorm > 0 && Number.isFinite(l.loss));
    assert.equal(l.perModule.length, 2, 'a 4x4 grid: two modules');
  });
  assert.deepEqual(t.losses.map(([s]) => s), [0, 1, 2, 3, 4]);
  assert.deepEqual(t.losses.map(([, l]) => l), logs.map((l) => l.loss));
  assert.ok(t.trainSeconds > 0);
  assert.equal(t.step, 5);
  // run() again at the end trains nothing more.
  await t.run((l) => logs.push(l));
  assert.equal(logs.length, 5);
  t.dispose();
});

test('a checkpoint records the optimizer scalars, data position, losses, backend and (for named classes) the class names', () => {
  const dir = tmp();
  const t = Trainer.create(config({ steps: 9, beta1: 0.8, beta2: 0.9, weightDecay: 0.01, seed: 3 }, { source: '/some/folder' }), { runDir: dir, data: images(5, [0, 1], '/some/folder', ['cats', 'dogs']), backendName: 'test-backend' });
  for (let i = 0; i < 3; i++) t.trainStep();
  const s = t.checkpointState();
  assert.deepEqual(s.optimizer, { t: 3, beta1: 0.8, beta2: 0.9, eps: 1e-8, weightDecay: 0.01 });
  assert.equal(s.step, 3);
  assert.deepEqual(s.data, { epoch: 2, cursor: 2 }, '12 examples drawn from 5: epochs 0 and 1 done, 2 into the third');
  assert.equal(s.backend, 'test-backend');
  assert.deepEqual(s.classNames, ['cats', 'dogs']);
  assert.equal(s.losses.length, 3);
  assert.equal(s.skippedSteps, 0);
  assert.ok(Math.abs(Date.parse(s.savedAt) - Date.now()) < 60_000);
  assert.deepEqual(Object.keys(s.rng).sort(), ['data', 'epochStart', 'noise']);
  t.saveCheckpoint();
  t.dispose();
  const mnistLike = Trainer.create(config(), { runDir: tmp(), data: images(4, [0]) });
  assert.equal('classNames' in mnistLike.checkpointState(), false, 'MNIST has no class names to record');
  assert.equal(mnistLike.checkpointState().backend, tf.getBackend());
  mnistLike.dispose();
  // Resume: overrides that are given replace the recorded ones, undefined ones do not.
  const r = Trainer.resume({ runDir: dir, data: images(5, [0, 1], '/some/folder', ['cats', 'dogs']) }, { steps: 20, checkpointEvery: undefined, sampleEvery: 7 });
  assert.equal(r.config.train.steps, 20);
  assert.equal(r.config.train.sampleEvery, 7);
  assert.equal(r.config.train.checkpointEvery, 250);
  assert.equal(r.step, 3);
  assert.equal(r.optimizer.t, 3);
  assert.deepEqual(r.checkpointState().data, { epoch: 2, cursor: 2 });
  assert.deepEqual(r.losses, s.losses);
  r.dispose();
});

test('class counts and labels are checked against the model; a bad checkpoint config is named and leaves no lock', () => {
  assert.throws(() => Trainer.create(config({}, { source: '/f' }), { runDir: tmp(), data: images(4, [0], '/f', ['a', 'b', 'c', 'd']) }),
    /^Error: model\.numClasses is 3 but \/f has 4 classes; set model\.numClasses to at least 4$/);
  Trainer.create(config({}, { source: '/f' }), { runDir: tmp(), data: images(4, [0], '/f', ['a', 'b', 'c']) }).dispose();
  assert.throws(() => Trainer.create(config(), { runDir: tmp(), data: images(4, [0, 3]) }), /^Error: data: label 3 is out of range for model\.numClasses=3$/);
  // An unlabelled example (-1) always trains as the null class.
  const t = Trainer.create(config({ classDropProb: 0 }), { runDir: tmp(), data: images(4, [-1, 2]) });
  t.trainStep();
  t.dispose();
  const dir = tmp();
  const a = Trainer.create(config({ steps: 2 }), { runDir: dir, data: images(4, [0]) });
  a.trainStep();
  a.saveCheckpoint();
  a.dispose();
  const sj = join(dir, 'checkpoints', 'step-0000001', 'state.json');
  const state = JSON.parse(readFileSync(sj, 'utf8'));
  writeFileSync(sj, JSON.stringify({ ...state, config: { ...state.config, train: { ...state.config.train, lr: -1 } } }));
  assert.throws(() => Trainer.resume({ runDir: dir, data: images(4, [0]) }), (e: unknown) => (e as Error).message === `${join(dir, 'checkpoints', 'step-0000001')}/state.json: train.lr must be a positive number, got -1`);
  writeFileSync(sj, JSON.stringify({ ...state, config: { ...state.config, model: { ...state.config.model, width: 16 } } }));
  assert.throws(() => Trainer.resume({ runDir: dir, data: images(4, [0]) }), /model\.safetensors does not match this model/);
  assert.ok(!existsSync(join(dir, '.lock')), 'a resume that fails releases the run folder');
  writeFileSync(sj, JSON.stringify(state));
  const b = Trainer.resume({ runDir: dir, data: images(4, [0]) });
  assert.equal(b.step, 1);
  assert.equal(loadCheckpoint(dir).state.step, 1);
  b.dispose();
});

const pngSize = (path: string) => { const b = readFileSync(path); return [b.readUInt32BE(16), b.readUInt32BE(20)]; };

test('streams, batches and dropout: seeds derived from train.seed, batch rows are the drawn examples, unlabelled and dropped examples get the null class', () => {
  const ds = images(6, [0, 1, -1]);
  for (const seed of [0, 3]) {
    const t = Trainer.create(config({ seed }), { runDir: tmp(), data: ds });
    const s = t.checkpointState();
    assert.deepEqual(s.rng.noise, new Rng(seed * 2 + 2).state(), `seed ${seed}: noise stream`);
    assert.deepEqual({ data: s.rng.data, epochStart: s.rng.epochStart }, new DataCursor(6, seed * 2 + 1).state().rng, `seed ${seed}: data stream`);
    const priv = t as unknown as { nextBatch(B: number): { idx: Int32Array; labels: Int32Array }; batchTokens(idx: Int32Array): tf.Tensor3D };
    const { idx, labels } = priv.nextBatch(6);
    assert.deepEqual(Array.from(labels), Array.from(idx, (j) => ([0, 1, -1][j % 3] === -1 ? 3 : [0, 1, -1][j % 3]!)), 'no dropout: labels kept, -1 becomes the null class 3');
    const x = priv.batchTokens(Int32Array.from([4, 0, 2]));
    const all = t.tokenizer.encode(ds), per = t.tokenizer.numTokens * t.tokenizer.tokenDim;
    assert.deepEqual(Array.from(x.dataSync()), [4, 0, 2].flatMap((j) => Array.from(all.subarray(j * per, (j + 1) * per))), 'batch rows are the chosen examples, in order');
    x.dispose();
    t.dispose();
  }
  const drop = (p: number) => {
    const t = Trainer.create(config({ classDropProb: p }), { runDir: tmp(), data: images(8, [0, 1, 2]) });
    const { labels } = (t as unknown as { nextBatch(B: number): { labels: Int32Array } }).nextBatch(2000);
    t.dispose();
    return labels.filter((l) => l === 3).length / 2000;
  };
  assert.equal(drop(1), 1);
  assert.ok(Math.abs(drop(0.3) - 0.3) < 0.05, 'the dropped share follows classDropProb');
  assert.equal(drop(0), 0);
});

test('non-finite steps are skipped without touching the weights, counted across a resume, and 20 in a row stop training; step logs carry per-module losses', () => {
  const good = Trainer.create(config({ microBatch: 2 }), { runDir: tmp(), data: images(4, [0, 1]) });
  const log = good.trainStep();
  assert.ok(log.perModule.every((v) => Number.isFinite(v) && v > 0), 'per-module losses are numbers');
  // The total is the loss-weighted sum of the modules', micro-batched or not.
  const weights = [4 / 16, 12 / 16];
  assert.ok(Math.abs(log.perModule.reduce((s, v, i) => s + v * weights[i]!, 0) - log.loss) < 1e-5 * log.loss, `${log.perModule} vs ${log.loss}`);
  good.dispose();
  const nan = images(4, [0]);
  nan.data.fill(NaN);
  const dir = tmp();
  const t = Trainer.create(config({ steps: 40 }), { runDir: dir, data: nan });
  const before = exportVariables(t.model.params.vars), tensors = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) assert.equal(t.trainStep().skipped, true);
  assert.equal(t.skippedSteps, 3);
  assert.equal(t.losses.length, 0, 'skipped losses are not recorded');
  assert.equal(tf.memory().numTensors, tensors, 'skipped steps free their tensors');
  const after = exportVariables(t.model.params.vars);
  for (const [k, v] of Object.entries(before)) assert.deepEqual(Array.from(after[k]!.data), Array.from(v.data), `${k} untouched`);
  t.saveCheckpoint();
  t.dispose();
  const r = Trainer.resume({ runDir: dir, data: nan });
  assert.equal(r.skippedSteps, 3, 'the count survives a resume');
  for (let i = 0; i < 19; i++) r.trainStep();
  const held = tf.memory().numTensors;
  assert.throws(() => r.trainStep(), /^Error: training diverged: 20 consecutive steps with a non-finite loss or gradient \(last at step 22\); lower train\.lr$/);
  assert.equal(tf.memory().numTensors, held, 'the step that stops training frees its tensors too');
  assert.equal(r.skippedSteps, 23);
  r.dispose();
});

test('a finite loss with a non-finite gradient (an overflow in the backward pass) skips the step too', () => {
  const t = Trainer.create(config(), { runDir: tmp(), data: images(4, [0]) });
  const params = t.model.params, grads = params.grads.bind(params);
  // Overflow one gradient entry after the real backward pass; the loss stays the real, finite one.
  params.grads = (f) => {
    const r = grads(f), [k, g] = [...r.grads][0]!;
    r.grads.set(k, tf.tidy(() => tf.add(g, tf.fill(g.shape, Infinity))));
    g.dispose();
    return r;
  };
  const before = exportVariables(params.vars);
  const log = t.trainStep();
  assert.ok(Number.isFinite(log.loss) && log.skipped, `loss ${log.loss}, skipped ${log.skipped}`);
  assert.equal(t.skippedSteps, 1);
  const after = exportVariables(params.vars);
  for (const [k, v] of Object.entries(before)) assert.deepEqual(Array.from(after[k]!.data), Array.from(v.data), `${k} untouched`);
  t.dispose();
});

test('a resume names the EMA or optimizer file that does not fit; folders without class names record none; trainSeconds counts wall time', async () => {
  const dir = tmp();
  const a = Trainer.create(config({ steps: 3 }), { runDir: dir, data: images(4, [0]) });
  a.trainStep();
  const ck = a.saveCheckpoint();
  a.dispose();
  const ema = readFileSync(join(ck, 'ema.safetensors')), opt = readFileSync(join(ck, 'optimizer.safetensors'));
  for (const file of ['ema.safetensors', 'optimizer.safetensors']) {
    writeFileSync(join(ck, file), encodeEmpty());
    assert.throws(() => Trainer.resume({ runDir: dir, data: images(4, [0]) }), (e: unknown) => (e as Error).message.includes(`${ck}/${file}`), file);
    writeFileSync(join(ck, 'ema.safetensors'), ema);
    writeFileSync(join(ck, 'optimizer.safetensors'), opt);
  }
  const noNames = images(4, [0]);
  delete (noNames as { classNames?: string[] }).classNames;
  const f = Trainer.create(config({}, { source: '/f' }), { runDir: tmp(), data: noNames });
  assert.deepEqual(f.checkpointState().classNames, [], 'a folder without class names: none');
  f.dispose();
  const t = Trainer.create(config({ steps: 3, checkpointEvery: 1000, sampleEvery: 1000 }), { runDir: tmp(), data: images(4, [0]) });
  const t0 = performance.now();
  await t.run();
  const wall = (performance.now() - t0) / 1000;
  assert.ok(t.trainSeconds > 0 && t.trainSeconds <= wall, `trainSeconds ${t.trainSeconds} within the ${wall} s of run()`);
  t.dispose();
});

test('sample grids: one row per class when any example is labelled, 64 unconditional samples when none is; CFG 2 and 24 steps unless told', async () => {
  const dir = tmp(), grid = (labels: number[]) => {
    const t = Trainer.create(config(), { runDir: tmp(), data: images(4, labels) });
    return t;
  };
  const sizes: Record<string, number[]> = {};
  for (const [name, labels] of [['all', [0, 1, 2]], ['zero', [0]], ['mixed', [-1, 0]], ['none', [-1]]] as const) {
    const t = grid([...labels]);
    await t.writeSampleGrid(join(dir, `${name}.png`));
    sizes[name] = pngSize(join(dir, `${name}.png`));
    t.dispose();
  }
  assert.deepEqual(sizes.zero, sizes.all);
  assert.deepEqual(sizes.mixed, sizes.all);
  assert.equal(sizes.none![0], sizes.all![0], 'eight columns either way');
  assert.ok(sizes.none![1]! > 2 * sizes.all![1]!, `64 samples in 8 rows vs 3 rows: ${sizes.none} vs ${sizes.all}`);
  const t = grid([0, 1, 2]);
  // Zero-initialised heads make every sampler setting agree: give the sampling (EMA) weights random values.
  randomiseParams({ list: () => [...t.ema.shadow.values()] }, new Rng(1), 0.3);
  const png = async (name: string, opts?: { cfg?: number; odeSteps?: number }) => { await t.writeSampleGrid(join(dir, name), opts); return readFileSync(join(dir, name)); };
  const byDefault = await png('d.png');
  assert.ok(byDefault.equals(await png('e.png', { cfg: 2, odeSteps: 24 })));
  assert.ok(!byDefault.equals(await png('f.png', { cfg: 1, odeSteps: 24 })));
  assert.ok(!byDefault.equals(await png('g.png', { cfg: 2, odeSteps: 8 })));
  t.dispose();
});

test('a latent run: tokens from the given tokenizer, a cache written once and then read instead of encoding, the tokenizer saved and taken back on resume, every tensor freed', () => {
  const src = join(import.meta.dirname, '..', 'checkpoints', 'mnist-latent', 'nestar');
  const ck = loadSamplingCheckpoint(src);
  const tensors0 = tf.memory().numTensors;
  const tok = LatentTokenizer.fromParts(ck.state.tokenizer!, ck.tokenizer!, src);
  let encodes = 0;
  const encode = tok.encode.bind(tok);
  tok.encode = (x) => { encodes++; return encode(x); };
  const data = { ...images(4, [0, 1]), data: Float32Array.from({ length: 4 * 1024 }, (_, i) => (Math.sin(i * 0.01) + 1) / 2), height: 32, width: 32 };
  const cache = join(tmp(), 'latents.bin');
  const cfg = resolveRunConfig({ model, data: { imageSize: 32 }, tokenizer: { checkpoint: '/nonexistent/tokenizer', factor: 4, latentChannels: tok.ae.config.latentChannels, cache }, train: { batchSize: 2, steps: 4, headRepeats: 1 } });
  const dir = tmp();
  const a = Trainer.create(cfg, { runDir: dir, data, tokenizer: tok });
  assert.ok(a.tokenizer instanceof LatentTokenizer);
  assert.equal(encodes, 1);
  assert.ok(existsSync(cache), 'the cache is written');
  const tokens = (a as unknown as { tokens: Float32Array }).tokens;
  assert.deepEqual(Array.from(tokens), Array.from(encode(data)));
  a.trainStep();
  a.saveCheckpoint();
  a.dispose();
  assert.equal(tf.memory().numTensors, tensors0, 'the trainer frees the tokenizer it was given, and everything else');
  // The cache is read, not rewritten, by a second run with the same tokenizer.
  utimesSync(cache, new Date(0), new Date(0));
  const tok2 = LatentTokenizer.fromParts(ck.state.tokenizer!, ck.tokenizer!, src);
  tok2.encode = () => { throw new Error('encoded although a matching cache exists'); };
  const b = Trainer.create(cfg, { runDir: tmp(), data, tokenizer: tok2 });
  assert.deepEqual(Array.from((b as unknown as { tokens: Float32Array }).tokens), Array.from(tokens));
  assert.equal(statSync(cache).mtimeMs, 0, 'the cache is not rewritten');
  b.dispose();
  // Resume without a tokenizer: the checkpoint's own copy (the config's path does not exist).
  const saved = loadCheckpoint(dir);
  assert.ok(saved.state.tokenizer && saved.tensors.tokenizer, 'the tokenizer is saved with the checkpoint');
  const r = Trainer.resume({ runDir: dir, data });
  assert.ok(r.tokenizer instanceof LatentTokenizer);
  assert.deepEqual(Object.keys(exportVariables((r.tokenizer as LatentTokenizer).ae.params.vars)).sort(), Object.keys(saved.tensors.tokenizer!).sort());
  assert.equal(r.step, 1);
  r.dispose();
  assert.equal(tf.memory().numTensors, tensors0);
});

function encodeEmpty(): Buffer {
  return Buffer.from(encodeSafetensors({}, {}));
}
