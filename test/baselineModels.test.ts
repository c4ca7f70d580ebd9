// The baselines' bookkeeping (src/model/rasterAR.ts, nextScaleAR.ts), fast: loss parts and the weighted
// total, the raster order, next-scale's head segments and its progress canvas, and that dispose frees every
// tensor. Causality, KV caches and training are in baselines.test.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomiseParams, setup, tf } from './helpers.js';
import { RasterAR } from '../src/model/rasterAR.js';
import { NextScaleAR, downsampleMorton, upsampleMorton } from '../src/model/nextScaleAR.js';
import { mortonToRowCol } from '../src/model/zorder.js';
import { Rng } from '../src/util/rng.js';
import type { Generator, SampleProgress } from '../src/model/generator.js';
import type { PatchFlowHead } from '../src/flow/patchFlowHead.js';

before(setup);

const tiny = { gridSize: 4, tokenDim: 2, width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2, mlpRatio: 2, numClasses: 3 };

const randomise = (g: Generator, seed: number) => randomiseParams(g.params, new Rng(seed));

test('raster AR: one loss part over all tokens, raster order mapped to the Morton canvas, a per-token head', () => {
  const m = new RasterAR({ ...tiny, headKind: 'patch' }, 0);
  assert.deepEqual(m.lossParts, [{ name: 'all tokens', tokens: 16, hasPrefix: true }]);
  assert.equal(m.sequentialSteps, 16);
  assert.equal(m.numTokens, 16);
  assert.equal(m.head.kind, 'token');
  assert.equal(m.method, 'raster');
  Array.from(m.rasterToMorton).forEach((q, r) => assert.deepEqual(mortonToRowCol(q), [Math.floor(r / 4), r % 4], `raster position ${r}`));
  assert.equal(m.backbone.spec.blockSize, 1);
  m.dispose();
});

test('next-scale AR: a loss part per scale, the total their weighted sum, one head segment per scale', () => {
  for (const lossWeights of ['tokens', [1, 2, 0.5]] as const) {
    const m = new NextScaleAR({ ...tiny, headKind: 'patch', lossWeights: lossWeights as never }, 1);
    assert.deepEqual(m.lossParts, [{ name: 'scale 1x1', tokens: 1, hasPrefix: false }, { name: 'scale 2x2', tokens: 4, hasPrefix: true }, { name: 'scale 4x4', tokens: 16, hasPrefix: true }]);
    assert.equal(m.sequentialSteps, 3);
    assert.equal(m.method, 'nextscale');
    assert.equal(m.head.kind, 'patch');
    randomise(m, 2);
    const r = new Rng(3);
    const x = tf.tensor3d(Float32Array.from({ length: 2 * 16 * 2 }, () => r.normal()), [2, 16, 2]);
    const { total, perModule } = m.loss(x, Int32Array.from([0, 3]), new Rng(4));
    const parts = perModule.map((l) => l.dataSync()[0]!);
    const w = lossWeights === 'tokens' ? [1 / 21, 4 / 21, 16 / 21] : lossWeights;
    assert.equal(parts.length, 3);
    assert.ok(new Set(parts).size === 3 && parts.every((p) => p > 0));
    const want = parts.reduce((s, p, i) => s + w[i]! * p, 0);
    assert.ok(Math.abs(total.dataSync()[0]! - want) < 1e-5 * Math.max(1, want), `${JSON.stringify(lossWeights)}: ${total.dataSync()[0]} vs ${want}`);
    tf.dispose([x, total, ...perModule]);
    m.dispose();
  }
  const raster = new RasterAR({ ...tiny, lossWeights: [3] }, 1);
  randomise(raster, 2);
  const x = tf.tensor3d(Float32Array.from({ length: 2 * 16 * 2 }, (_, i) => Math.sin(i)), [2, 16, 2]);
  const { total, perModule } = raster.loss(x, Int32Array.from([1, 2]), new Rng(4));
  assert.ok(Math.abs(total.dataSync()[0]! - 3 * perModule[0]!.dataSync()[0]!) < 1e-5);
  tf.dispose([x, total, ...perModule]);
  raster.dispose();
});

test('down- and upsampling in Morton order: a constant block averages to itself, upsampling repeats each cell four times in place', () => {
  const vals = Float32Array.from({ length: 16 }, (_, i) => Math.floor(i / 4) * 10 + (i % 4));
  const x = tf.tensor3d(vals, [1, 16, 1]);
  assert.deepEqual(Array.from(downsampleMorton(x, 2).dataSync()), [1.5, 11.5, 21.5, 31.5]);
  assert.deepEqual(Array.from(downsampleMorton(x, 1).dataSync()), [16.5]);
  assert.equal(downsampleMorton(x, 4), x, 'full size is the grid itself');
  assert.throws(() => downsampleMorton(tf.zeros([1, 12, 1]) as tf.Tensor3D, 3), /^Error: downsample: 12 tokens do not split into 9 cells$/);
  const up = upsampleMorton(tf.tensor3d([[[1], [2]]]));
  assert.deepEqual(Array.from(up.dataSync()), [1, 1, 1, 1, 2, 2, 2, 2]);
  assert.deepEqual(Array.from(upsampleMorton(tf.tensor3d([[[1, 5]]]), 16).dataSync()), new Array(16).fill([1, 5]).flat());
});

test('progress: raster reports each token, next-scale each scale shown at full size; dispose frees every tensor of both', async () => {
  const before = tf.memory().numTensors;
  const raster = new RasterAR(tiny, 2);
  const seen: Array<Omit<SampleProgress, 'canvas'>> = [];
  const rr = await raster.sample({ count: 1, classes: 1, cfg: 2, odeSteps: 3, onStep: ({ canvas, ...p }) => { seen.push(p); } });
  assert.deepEqual(seen, Array.from({ length: 16 }, (_, r) => ({ module: 1, patch: r + 1, tokensSoFar: r + 1, calls: r + 1, totalCalls: 16 })));
  assert.equal(rr.headEvals, 16 * 3, 'one head evaluation per ODE step, per token');
  raster.dispose();
  const ns = new NextScaleAR({ ...tiny, headKind: 'patch' }, 2);
  randomise(ns, 5);
  const steps: Array<Omit<SampleProgress, 'canvas'> & { canvas: number[] }> = [];
  const res = await ns.sample({ count: 2, classes: [0, 1], cfg: 2, odeSteps: 2, onStep: (p) => { steps.push({ ...p, canvas: Array.from(p.canvas) }); } });
  assert.deepEqual(steps.map(({ canvas, ...p }) => p), [1, 2, 3].map((j) => ({ module: j, patch: 1, tokensSoFar: 4 ** (j - 1), calls: j, totalCalls: 3 })));
  for (const s of steps) assert.equal(s.canvas.length, 2 * 16 * 2, 'every scale is shown on the whole grid');
  // The 1x1 scale fills the grid with one value per sample and channel; the 2x2 scale with four Morton blocks.
  const first = steps[0]!.canvas;
  for (let b = 0; b < 2; b++) for (let t = 0; t < 16; t++) for (let d = 0; d < 2; d++) assert.equal(first[(b * 16 + t) * 2 + d], first[b * 32 + d]);
  const second = steps[1]!.canvas;
  for (let t = 0; t < 16; t++) assert.equal(second[t * 2], second[Math.floor(t / 4) * 4 * 2]);
  assert.notEqual(second[0], second[4 * 2], 'the 2x2 scale has more than one value');
  assert.deepEqual(Array.from(res.tokens), steps[2]!.canvas, 'the last scale is the result');
  assert.equal(res.backboneCalls, 3);
  assert.equal(res.headEvals, 3 * 2, 'one head evaluation per ODE step, per scale');
  ns.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('positions: raster slots hold the raster grid positions; next-scale cells sit at their centres on the full grid, one block per scale', () => {
  const raster = new RasterAR(tiny, 0);
  const rc = (r: number): [number, number] => [Math.floor(r / 4), r % 4];
  assert.deepEqual(raster.backbone.spec.ownPositions, Array.from({ length: 15 }, (_, i) => rc(i)));
  assert.deepEqual(raster.backbone.spec.targetPositions, Array.from({ length: 16 }, (_, j) => rc(j)));
  assert.equal(raster.backbone.spec.maxInputTokens, 15);
  // Parameter names are checkpoint keys (read by the PyTorch twin): the raster model's all start 'ar.', its head's 'ar.head.'.
  assert.ok([...raster.params.vars.keys()].every((k) => k.startsWith('ar.')));
  assert.ok(raster.params.vars.has('ar.head.final.out.w') && raster.params.vars.has('ar.pos_own'), [...raster.params.vars.keys()].join(' '));
  assert.equal(raster.config.kind, 'raster');
  raster.dispose();
  const ns = new NextScaleAR({ ...tiny, headKind: 'patch' }, 0);
  // 4x4 grid: the 1x1 cell's centre is (1.5, 1.5); a 2x2 cell's (0.5 or 2.5, 0.5 or 2.5) in Morton order; 4x4 cells are the grid itself.
  const two: Array<[number, number]> = [[0.5, 0.5], [0.5, 2.5], [2.5, 0.5], [2.5, 2.5]];
  const four = Array.from({ length: 16 }, (_, q) => mortonToRowCol(q));
  assert.deepEqual(ns.backbone.spec.ownPositions, [...two, ...four]);
  assert.deepEqual(ns.backbone.spec.targetPositions, [[1.5, 1.5], ...two, ...four]);
  assert.deepEqual(ns.backbone.spec.blockIds, [0, 0, 0, 0, ...new Array(16).fill(1)]);
  assert.deepEqual((ns.head as PatchFlowHead).spec.slotPositions, [[1.5, 1.5], ...two, ...four], 'the head\'s slots are the output rows');
  assert.ok([...ns.params.vars.keys()].every((k) => k.startsWith('ns.')));
  assert.ok(ns.params.vars.has('ns.head.pos') && ns.params.vars.has('ns.pos_target'), [...ns.params.vars.keys()].join(' '));
  assert.equal(ns.config.kind, 'nextscale');
  ns.dispose();
});
