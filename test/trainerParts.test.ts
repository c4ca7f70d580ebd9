// The trainer's schedule and bookkeeping on 8x8 synthetic images (src/train/trainer.ts), fast: when run()
// checkpoints and samples, what a step reports, what a checkpoint's state records, resume overrides, and the
// refusals of labels and class counts. Learning, exact resume and crash safety are in training/crash tests.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, tf } from './helpers.js';
import { resolveRunConfig, type RunConfigInput } from '../src/train/config.js';
import { Trainer, type StepLog } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
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
