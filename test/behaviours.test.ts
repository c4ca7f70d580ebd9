// README behaviours that had no value test (issue #23): class dropout in training, the memorisation rate and
// per-class metrics of a report, and crop/resize on an image that is not one colour.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { scoreSet, type Embedded } from '../src/eval/evaluate.js';
import { jsDistanceRows } from '../src/eval/metrics.js';
import { cropResize } from '../src/data/imageDecode.js';

before(async () => { await setup(); });

test('class dropout replaces the label by the null class with train.classDropProb, never otherwise', () => {
  const data = loadMnist({ split: 'train', limit: 64 });
  for (const p of [0, 0.5, 1]) {
    const t = Trainer.create(resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, tokenizer: { patch: 8 },
      train: { steps: 10, batchSize: 32, classDropProb: p } }), { runDir: mkdtempSync(join(tmpdir(), 'nestar-drop-')), data });
    const seen: number[] = [];
    const loss = t.model.loss.bind(t.model);
    t.model.loss = (x, labels, rng, opts) => { seen.push(...labels); return loss(x, labels, rng, opts); };
    for (let i = 0; i < 6; i++) t.trainStep();
    t.dispose();
    const dropped = seen.filter((l) => l === 10).length / seen.length;
    assert.ok(seen.every((l) => l === 10 || (l >= 0 && l < 10)));
    if (p === 0) assert.equal(dropped, 0);
    else if (p === 1) assert.equal(dropped, 1);
    else assert.ok(Math.abs(dropped - 0.5) < 0.12, `dropped fraction ${dropped} for p = 0.5 over ${seen.length} labels`);
  }
});

/** An embedded set: `count` points per class around class centres (dim 4), with one-hot class probabilities. */
function clusters(perClass: number[], seed: number, jitter = 0.3): Embedded {
  const dim = 4, K = perClass.length, n = perClass.reduce((a, b) => a + b);
  const data = new Float32Array(n * dim), probs = new Float32Array(n * K), labels = new Int32Array(n);
  let i = 0, s = seed;
  const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
  perClass.forEach((m, c) => {
    for (let j = 0; j < m; j++, i++) {
      for (let d = 0; d < dim; d++) data[i * dim + d] = (d === c % dim ? 10 * (1 + Math.floor(c / dim)) : 0) + jitter * rnd();
      probs[i * K + c] = 1;
      labels[i] = c;
    }
  });
  return { features: { data, count: n, dim }, probs, labels, classes: K };
}

test('memorisation counts samples closer to a training image than any test image comes; per-class recall sees a missing class', () => {
  const real = clusters([40, 40, 40], 1), train = clusters([60, 60, 60], 2);
  const testToTrain = new Float64Array(real.features.count);
  for (let i = 0; i < real.features.count; i++) {
    let best = Infinity;
    for (let j = 0; j < train.features.count; j++) {
      let d = 0;
      for (let k = 0; k < 4; k++) d += (real.features.data[i * 4 + k]! - train.features.data[j * 4 + k]!) ** 2;
      best = Math.min(best, Math.sqrt(d));
    }
    testToTrain[i] = best;
  }
  const memo = { train: train.features, testToTrain };
  // Fresh samples sit 1 unit off every training point (test images come much closer); then 20 of 40 are exact copies.
  const gen = clusters([10, 10, 10], 3);
  for (let i = 0; i < gen.features.count; i++) gen.features.data[i * 4 + 3]! += 1;
  const copies = { ...gen, features: { ...gen.features, data: Float32Array.from(gen.features.data) } };
  for (let i = 0; i < 10; i++) copies.features.data.set(train.features.data.subarray((i * 17) * 4, (i * 17) * 4 + 4), i * 4);
  const withCopies: Embedded = { ...copies, features: { data: new Float32Array([...copies.features.data, ...train.features.data.subarray(0, 10 * 4)]), count: 40, dim: 4 },
    probs: new Float32Array([...copies.probs, ...train.probs.subarray(0, 30)]), labels: new Int32Array([...copies.labels, ...train.labels.subarray(0, 10)]) };
  const fresh = scoreSet('fresh', real, gen, jsDistanceRows, memo);
  const copied = scoreSet('copies', real, withCopies, jsDistanceRows, memo);
  assert.equal(fresh.memorisation, 0);
  assert.ok(Math.abs(copied.memorisation! - 20 / 40) < 1e-9, `memorisation ${copied.memorisation}`);
  // Samples of two classes only: the class histogram says so, recall drops, and per-class recall scores the two present classes.
  const twoClasses = clusters([20, 20, 0], 4);
  const r = scoreSet('two', real, twoClasses, jsDistanceRows);
  assert.deepEqual(r.classHistogram, [20, 20, 0]);
  assert.ok(r.recall < 0.75 && r.perClassRecall! > 0.9, `recall ${r.recall}, per-class ${r.perClassRecall}`);
  assert.ok(scoreSet('all', real, clusters([20, 20, 20], 5), jsDistanceRows).recall > 0.9);
  // Mode collapse inside a class: every sample of class 0 one point -> that class's pairs are all near-duplicates.
  const collapsed = clusters([10, 10, 10], 3);
  for (let i = 0; i < collapsed.features.count; i++) if (collapsed.labels[i] === 0) collapsed.features.data.set(collapsed.features.data.subarray(0, 4), i * 4);
  const spread = scoreSet('spread', real, clusters([10, 10, 10], 3), jsDistanceRows).nearDuplicates!;
  const oneMode = scoreSet('collapsed', real, collapsed, jsDistanceRows).nearDuplicates!;
  assert.ok(Math.abs(oneMode - spread) > 0.2 && oneMode > 1 / 3 - 1e-9, `near-duplicates ${spread} -> ${oneMode}`);
});

test('crop/resize takes the centre square of a non-square image and box-averages each output pixel', () => {
  // 6 wide × 4 high, grey value = 10·x + y (alpha 255): the centre 4×4 square is columns 1..4.
  const w = 6, h = 4, rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.set([10 * x + y, 10 * x + y, 10 * x + y, 255], (y * w + x) * 4);
  const out = new Uint8Array(4);
  cropResize(rgba, w, h, { size: 2, channels: 1, background: [0, 0, 0] }, out, 0);
  // Output (0,0) averages columns 1-2, rows 0-1: mean of 10x+y over x in {1,2}, y in {0,1} = 15.5 -> 16 (grey weights sum to 1).
  const box = (xs: number[], ys: number[]) => Math.round(xs.flatMap((x) => ys.map((y) => 10 * x + y)).reduce((a, b) => a + b) / 4);
  assert.deepEqual([...out], [box([1, 2], [0, 1]), box([3, 4], [0, 1]), box([1, 2], [2, 3]), box([3, 4], [2, 3])]);
  // Colour: channels kept apart.
  const c = new Uint8Array(2 * 2 * 4);
  c.set([200, 0, 0, 255, 0, 100, 0, 255, 0, 0, 50, 255, 10, 20, 30, 255]);
  const o3 = new Uint8Array(3);
  cropResize(c, 2, 2, { size: 1, channels: 3, background: [0, 0, 0] }, o3, 0);
  assert.deepEqual([...o3], [Math.round(210 / 4), Math.round(120 / 4), Math.round(80 / 4)]);
});
