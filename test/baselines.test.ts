import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr } from './helpers.js';
import { RasterAR } from '../src/model/rasterAR.js';
import { NextScaleAR, downsampleMorton, upsampleMorton } from '../src/model/nextScaleAR.js';
import { NestAR } from '../src/model/nestar.js';
import { createGenerator } from '../src/model/factory.js';
import { baselineParams, nestarParams, resolveBaselineConfig } from '../src/model/baselineConfig.js';
import { resolveNestARConfig } from '../src/model/config.js';
import { mortonToRowCol } from '../src/model/zorder.js';
import { loadMnist } from '../src/data/mnist.js';
import { PatchTokenizer } from '../src/tokenizer/patchTokenizer.js';
import { Rng } from '../src/util/rng.js';
import { AdamW } from '../src/train/optimizer.js';

before(setup);
const tiny = { tokenDim: 2, width: 16, depth: 2, heads: 2, headWidth: 16, headDepth: 1, mlpRatio: 2 };

/** Max |difference| per output slot between two [B, L, C] arrays. */
function slotDiffs(a: number[][][], b: number[][][]): number[] {
  return a[0]!.map((_, s) => Math.max(...a.flatMap((r, bi) => r[s]!.map((v, c) => Math.abs(v - b[bi]![s]![c]!)))));
}

test('raster AR: causal through the real forward pass, and n sequential calls', async () => {
  const m = new RasterAR({ ...tiny, gridSize: 4 }, 1);
  const T = 15;
  const x = tf.randomNormal([2, T, 2], 0, 1, 'float32', 3) as tf.Tensor3D;
  const oh = tf.oneHot(tf.tensor1d([1, 2], 'int32'), 11).toFloat() as tf.Tensor2D;
  const base = m.backbone.forward(x, oh).arraySync() as number[][][];
  for (const j of [0, 6, 14]) {
    const d = x.arraySync() as number[][][];
    for (const row of d) row[j] = row[j]!.map((v) => v + 2);
    const diffs = slotDiffs(base, m.backbone.forward(tf.tensor3d(d), oh).arraySync() as number[][][]);
    diffs.forEach((v, s) => {
      // slot s = condition (0) or input token s-1: it may see input token j only when s-1 >= j.
      if (s - 1 < j) assert.ok(v < 1e-6, `slot ${s} changed by ${v} after editing token ${j}`);
      else assert.ok(v > 1e-4, `slot ${s} ignored token ${j}`);
    });
  }
  const r = await m.sample({ count: 2, classes: 3, cfg: 2, odeSteps: 2 });
  assert.equal(r.backboneCalls, 16);
  assert.equal(r.tokens.length, 2 * 16 * 2);
  m.dispose();
});

test('next-scale AR: mask over scales, log2(side)+1 calls, down/upsampling shapes', async () => {
  for (const g of [4, 8]) {
    const m = new NextScaleAR({ ...tiny, gridSize: g }, 2);
    assert.deepEqual(m.sides, Array.from({ length: Math.log2(g) + 1 }, (_, i) => 2 ** i));
    const r = await m.sample({ count: 3, classes: [0, 1, -1], cfg: 1.5, odeSteps: 2 });
    assert.equal(r.backboneCalls, Math.log2(g) + 1);
    assert.equal(r.tokens.length, 3 * g * g * 2);
    m.dispose();
  }
  const m = new NextScaleAR({ ...tiny, gridSize: 4 }, 2);
  // Inputs: upsampled scale 0 (4 tokens, block 0), upsampled scale 1 (16 tokens, block 1).
  const x = tf.randomNormal([1, 20, 2], 0, 1, 'float32', 5) as tf.Tensor3D;
  const oh = tf.oneHot(tf.tensor1d([4], 'int32'), 11).toFloat() as tf.Tensor2D;
  const base = m.backbone.forward(x, oh).arraySync() as number[][][];
  const d = x.arraySync() as number[][][];
  d[0]![2] = d[0]![2]!.map((v) => v + 2); // a token of block 0 (scale 1's input)
  const diffs = slotDiffs(base, m.backbone.forward(tf.tensor3d(d), oh).arraySync() as number[][][]);
  assert.ok(diffs[0]! < 1e-6, 'the condition slot (predicting scale 0) cannot see scale inputs');
  diffs.slice(1).forEach((v, i) => assert.ok(v > 1e-4, `slot ${i + 1} (block ${i < 4 ? 0 : 1}) should see block 0`));
  const d2 = x.arraySync() as number[][][];
  d2[0]![10] = d2[0]![10]!.map((v) => v + 2); // a token of block 1
  const diffs2 = slotDiffs(base, m.backbone.forward(tf.tensor3d(d2), oh).arraySync() as number[][][]);
  diffs2.slice(0, 5).forEach((v, s) => assert.ok(v < 1e-6, `slot ${s} (scale <= 1) saw a scale-2 input`));
  // Area downsampling in Morton order equals averaging the grid's aligned squares.
  const grid = tf.randomNormal([2, 64, 3], 0, 1, 'float32', 6) as tf.Tensor3D;
  const g = grid.arraySync() as number[][][];
  const down = downsampleMorton(grid, 2);
  assert.deepEqual(down.shape, [2, 4, 3]);
  const got = down.arraySync() as number[][][];
  for (let q = 0; q < 4; q++) {
    const [r0, c0] = mortonToRowCol(q);
    const mean = [0, 0, 0];
    for (let i = 0; i < 64; i++) {
      const [r, c] = mortonToRowCol(i);
      if (Math.floor(r / 4) === r0 && Math.floor(c / 4) === c0) g[1]![i]!.forEach((v, ch) => { mean[ch]! += v / 16; });
    }
    mean.forEach((v, ch) => assert.ok(Math.abs(v - got[1]![q]![ch]!) < 1e-5));
  }
  const up = upsampleMorton(down);
  assert.deepEqual(up.shape, [2, 16, 3]);
  assert.deepEqual((up.arraySync() as number[][][])[0]![5], got[0]![1]);
  m.dispose();
});

test('the KV cache gives the same outputs as a full forward pass, block by block', () => {
  const model = new NestAR({ ...tiny, gridSize: 8 }, 4);
  const bb = model.backbones[2]!;
  const P = model.modules[2]!.patch;
  const x = tf.randomNormal([2, 3 * P, 2], 0, 1, 'float32', 8) as tf.Tensor3D;
  const oh = tf.oneHot(tf.tensor1d([0, 10], 'int32'), 11).toFloat() as tf.Tensor2D;
  const full = bb.forward(x, oh);
  const cache = bb.newCache();
  const parts = [0, 1, 2].map((b) => bb.extend(cache, tf.slice(x, [0, b * P, 0], [2, P, 2]), oh));
  const err = maxRelErr(tf.concat(parts, 1).dataSync(), full.dataSync());
  assert.ok(err < 1e-5, `cached vs full: ${err}`);
  model.dispose();
});

test('presets keep the three methods within 10% in parameters at the same width; closed form = built model', () => {
  for (const width of [64, 128]) {
    for (const gridSize of [4, 8, 16]) {
      const c = { gridSize, tokenDim: 16, width, heads: 4 };
      const nestar = nestarParams(resolveNestARConfig(c).config);
      for (const kind of ['raster', 'nextscale'] as const) {
        const p = baselineParams(resolveBaselineConfig({ ...c, kind }));
        assert.ok(Math.abs(p - nestar) / nestar <= 0.1, `${kind} ${p} vs nestar ${nestar} at width ${width}, grid ${gridSize}`);
      }
    }
  }
  for (const kind of ['nestar', 'raster', 'nextscale'] as const) {
    const g = createGenerator({ ...tiny, kind, gridSize: 4 });
    const predicted = kind === 'nestar' ? nestarParams(resolveNestARConfig({ ...tiny, gridSize: 4 }).config) : baselineParams(resolveBaselineConfig({ ...tiny, gridSize: 4, kind }));
    assert.equal(g.params.count(), predicted, kind);
    g.dispose();
  }
});

test('each method trains on 64 MNIST images with clearly falling loss and samples the right shape', async () => {
  const ds = loadMnist({ split: 'train', limit: 64 });
  const tok = new PatchTokenizer(32, 1, 4);
  const tokens = tf.tensor3d(tok.encode(ds), [64, 64, 16]);
  for (const kind of ['raster', 'nextscale', 'nestar'] as const) {
    const g = createGenerator({ kind, gridSize: 8, tokenDim: 16, width: 32, depth: kind === 'nestar' ? 1 : 3, heads: 2, headWidth: 32, headDepth: 1 }, 0);
    const opt = new AdamW(g.params.vars, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
    const rng = new Rng(0);
    const losses: number[] = [], counts: number[] = [];
    for (let step = 0; step < 60; step++) {
      const { value, grads } = g.params.grads(() => g.loss(tokens, ds.labels, rng, { headRepeats: 2 }).total);
      losses.push(value.dataSync()[0]!);
      opt.apply(grads, 3e-3);
      // The last step's gradients: every parameter must get a non-zero one (a cut-off backbone gets none).
      if (step === 59) {
        const dead = [...g.params.vars.keys()].filter((n) => { const gr = grads.get(n); return !gr || tf.tidy(() => tf.max(tf.abs(gr)).dataSync()[0]!) === 0; });
        assert.deepEqual(dead, [], `${kind}: parameters with an all-zero gradient`);
      }
      tf.dispose([value, ...grads.values()]);
      counts.push(tf.memory().numTensors);
    }
    assert.equal(counts[5], counts.at(-1), `${kind}: tensor count grew from ${counts[5]} to ${counts.at(-1)}`);
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5, last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    assert.ok(last < 0.6 * first, `${kind}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    const r = await g.sample({ count: 2, classes: [1, 7], odeSteps: 2 });
    assert.equal(r.tokens.length, 2 * 64 * 16);
    assert.ok(r.tokens.every(Number.isFinite));
    opt.dispose();
    g.dispose();
  }
});
