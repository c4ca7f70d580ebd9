import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, degradationFds } from './helpers.js';
import { FeatureNet, defaultFeatureNetConfig } from '../src/eval/featureNet.js';
import { loadMnist } from '../src/data/mnist.js';
import { ensureFeatureNet } from '../src/eval/featureNets.js';
import { checkComparable, proportionalClasses, spreadSubset, type Embedded, type Report } from '../src/eval/evaluate.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { spawnNestar } from './cliRun.js';

let net: FeatureNet;
let featureDir = '';
before(async () => {
  await setup();
  featureDir = mkdtempSync(join(tmpdir(), 'nestar-features-'));
  net = ensureFeatureNet(featureDir, undefined, { epochs: 1, limit: 1280 }).net;
});

test('feature-net training is deterministic for a seed (same weight hash twice)', () => {
  const ds = loadMnist({ split: 'train', limit: 256 });
  const hashes = [0, 1].map(() => {
    const n = new FeatureNet({ ...defaultFeatureNetConfig, epochs: 1 });
    n.train(ds);
    const h = n.hash();
    n.dispose();
    return h;
  });
  assert.equal(hashes[0], hashes[1]);
  assert.match(hashes[0]!, /^[0-9a-f]{64}$/);
});

test('FD grows monotonically as test images are noised, and as they are blurred (a briefly trained net)', () => {
  const { noise, blur } = degradationFds(net, { source: 'mnist', imageSize: 32, channels: 1 }, 600);
  for (const [name, fds] of [['noise', noise], ['blur', blur]] as const) {
    for (let i = 1; i < fds.length; i++) assert.ok(fds[i]! > fds[i - 1]!, `${name} FDs ${fds.map((v) => v.toFixed(2))}`);
  }
});

test('the real-data row takes training images spread over the split: a class-sorted split gives every class its share', () => {
  // 90 rows sorted by class (30 of each of 3 classes), as emoji and folder training splits are; row i's feature is i.
  const n = 90, K = 3, labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / 30));
  const probs = new Float32Array(n * K).map((_, j) => (j % K === labels[Math.floor(j / K)] ? 1 : 0));
  const e: Embedded = { features: { data: Float32Array.from({ length: n * 2 }, (_, j) => Math.floor(j / 2)), count: n, dim: 2 }, probs, labels, classes: K };
  const s = spreadSubset(e, 15);
  assert.deepEqual(Array.from(s.labels), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
  // Each picked row keeps its own features and class probabilities.
  for (let i = 0; i < 15; i++) {
    const j = i * 6;
    assert.deepEqual(Array.from(s.features.data.subarray(i * 2, i * 2 + 2)), [j, j]);
    assert.equal(s.probs[i * K + labels[j]!], 1);
  }
  assert.equal(spreadSubset(e, n).features.data.length, n * 2);
  assert.throws(() => spreadSubset(e, n + 1), /1\.\.90/);
});

test('sample classes follow the training split\'s proportions, interleaved; a balanced split gives the classes in turn', () => {
  const labels = Int32Array.from([...Array(60).fill(0), ...Array(30).fill(1), ...Array(10).fill(2), -1, 7]);
  const cls = proportionalClasses(labels, 3, 100);
  for (let t = 1; t <= 100; t++) {
    const prefix = cls.subarray(0, t);
    [0.6, 0.3, 0.1].forEach((p, c) => assert.ok(Math.abs(prefix.filter((x) => x === c).length - p * t) < 1, `class ${c} after ${t}: ${Array.from(prefix)}`));
  }
  assert.deepEqual(Array.from(proportionalClasses(Int32Array.from([2, 1, 0, 2, 1, 0]), 3, 7)), [0, 1, 2, 0, 1, 2, 0]);
  assert.deepEqual(Array.from(proportionalClasses(Int32Array.from([-1, -1]), 0, 3)), [-1, -1, -1], 'an unlabelled folder: unconditional');
});

test('reports made with different feature nets are refused side by side', () => {
  const a = { featureNet: { sha256: 'a'.repeat(64) } } as Report, b = { featureNet: { sha256: 'b'.repeat(64) } } as Report;
  assert.throws(() => checkComparable(a, b, 'other.json'), /other.json was made with feature net bbbbbbbbbbbb.*not comparable/);
  assert.doesNotThrow(() => checkComparable(a, { ...b, featureNet: { sha256: 'a'.repeat(64) } } as Report, 'x'));
});

test('nestar eval writes report.json/report.md with every metric, settings and both hashes', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'nestar-evalrun-'));
  const t = Trainer.create(resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, train: { steps: 1, batchSize: 8 } }),
    { runDir, data: loadMnist({ split: 'train', limit: 16 }) });
  t.trainStep();
  t.saveCheckpoint();
  const params = t.model.params.count(), calls = t.model.sequentialSteps;
  t.dispose();
  const out = join(runDir, 'eval');
  const r = spawnNestar(['eval', '--checkpoint', runDir, '--n', '40', '--cfg', '1,2',
    '--ode-steps', '2', '--batch', '20', '--test-limit', '200', '--train-limit', '300', '--features', featureDir, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  assert.equal(rep.rows.length, 2);
  assert.equal(rep.featureNet.sha256, net.hash());
  assert.match(rep.source.checkpointSha256!, /^[0-9a-f]{64}$/);
  // The model's size and sequential calls travel with the scores (RESULTS.md's ablation table reads them).
  assert.equal(rep.source.params, params);
  assert.equal(rep.source.sequentialCalls, calls);
  assert.deepEqual(rep.settings.cfg, [1, 2]);
  for (const row of [...rep.rows, rep.realData]) {
    for (const k of ['fd', 'is', 'precision', 'recall', 'density', 'coverage'] as const) assert.ok(Number.isFinite(row[k]), `${row.label} ${k}`);
    assert.equal(row.classHistogram.reduce((a, b) => a + b), row.n);
  }
  // Real data scores far better than an untrained model's samples.
  assert.ok(rep.realData.fd < rep.rows[0]!.fd && rep.realData.recall > 0.5, JSON.stringify(rep.realData));
  for (const f of ['report.md', 'samples.png', 'fd-vs-cfg.svg', 'fd-vs-recall.svg']) assert.ok(existsSync(join(out, f)), f);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /real data/);
});
