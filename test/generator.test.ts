// The sampling and loss pieces every generator shares (src/model/generator.ts): labels and guidance
// doubling, the shared option checks, canvas gather/write, and the per-group baseline loss.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxAbsDiff, randomiseParams } from './helpers.js';
import { beginSampling, canvasGather, checkSampleOptions, classOneHot, groupedHeadLoss, sampleHead, samplingLabels, writeTokens } from '../src/model/generator.js';
import { FlowHead } from '../src/flow/flowHead.js';
import { flowMatchingErrors, timeGrid } from '../src/flow/flowMatching.js';
import { singleSegment, type VelocityHead } from '../src/flow/head.js';
import { ParamStore } from '../src/model/params.js';
import { Rng } from '../src/util/rng.js';
import { setNativeKernels } from '../src/engine/backend.js';

before(setup);

test('sampling labels: one class or one per sample, -1 as the null class, doubled with null classes only when guidance is on', () => {
  const K = 10;
  assert.deepEqual(Array.from(samplingLabels({ count: 3 }, K).labels), [10, 10, 10]);
  assert.deepEqual(Array.from(samplingLabels({ count: 3, classes: null }, K).labels), [10, 10, 10]);
  assert.deepEqual(Array.from(samplingLabels({ count: 2, classes: 4 }, K).labels), [4, 4]);
  assert.deepEqual(Array.from(samplingLabels({ count: 3, classes: [0, -1, 9] }, K).labels), [0, 10, 9]);
  const g = samplingLabels({ count: 2, classes: [3, 7], cfg: 2 }, K);
  assert.equal(g.useCfg, true);
  assert.equal(g.B, 2);
  assert.deepEqual(Array.from(g.labels), [3, 7, 10, 10]);
  // Guidance needs a class to guide towards, and scale 1 is no guidance at all.
  assert.equal(samplingLabels({ count: 2, cfg: 2 }, K).useCfg, false);
  assert.equal(samplingLabels({ count: 2, classes: [-1, -1], cfg: 3 }, K).labels.length, 2);
  assert.equal(samplingLabels({ count: 2, classes: 1, cfg: 1 }, K).useCfg, false);
  assert.equal(samplingLabels({ count: 2, classes: 1 }, K).useCfg, false);
  assert.equal(samplingLabels({ count: 2, classes: [-1, 0], cfg: 1.5 }, K).useCfg, true);
});

test('sampling labels: a bad count or class names what is wrong', () => {
  for (const count of [0, -2, 1.5, NaN]) assert.throws(() => samplingLabels({ count }, 10), /count must be a positive integer/);
  assert.throws(() => samplingLabels({ count: 3, classes: [1, 2] }, 10), /2 classes given for 3 samples/);
  for (const c of [10, -2, 0.5]) assert.throws(() => samplingLabels({ count: 1, classes: c }, 10), new RegExp(`class ${c} is out of range 0..9`));
  assert.equal(samplingLabels({ count: 1, classes: 9 }, 10).labels[0], 9);
  assert.equal(samplingLabels({ count: 1, classes: 0 }, 10).labels[0], 0);
});

test('class one-hot rows have the null class as the extra column; beginSampling seeds its RNG from the options', () => {
  const oh = classOneHot([2, 0, 3], 3);
  assert.deepEqual(oh.shape, [3, 4]);
  assert.deepEqual(oh.arraySync(), [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]);
  oh.dispose();
  const a = beginSampling({ count: 2, classes: 1, cfg: 2, seed: 5 }, 3), b = beginSampling({ count: 2, classes: 1, cfg: 2, seed: 5 }, 3);
  const c = beginSampling({ count: 2, classes: 1, cfg: 2 }, 3), d = beginSampling({ count: 2, classes: 1, cfg: 2, seed: 0 }, 3);
  assert.deepEqual(a.onehot.shape, [4, 4]);
  assert.deepEqual(Array.from(a.labels), [1, 1, 3, 3]);
  assert.equal(a.rng.next(), b.rng.next());
  assert.equal(c.rng.next(), d.rng.next(), 'no seed means seed 0');
  assert.notEqual(new Rng(5).next(), new Rng(0).next());
  tf.dispose([a.onehot, b.onehot, c.onehot, d.onehot]);
  assert.throws(() => beginSampling({ count: 1, timeShift: 0 }, 3), /timeShift/, 'the shared checks run first');
});

test('shared sampling options: the guidance interval, time shift and SDE noise are checked and the error names the option', () => {
  for (const ok of [{}, { cfgInterval: [0, 1] }, { cfgInterval: [0.2, 1] }, { cfgInterval: [0, 0.5] }, { timeShift: 2 }, { timeShift: 0.5 }, { sdeNoise: 0 }, { sdeNoise: 1.5 }]) {
    assert.doesNotThrow(() => checkSampleOptions({ count: 1, ...ok } as never), JSON.stringify(ok));
  }
  for (const iv of [[0.5, 0.5], [0.6, 0.4], [-0.1, 1], [0, 1.01], [0.2], [0.1, 0.2, 0.3]]) {
    assert.throws(() => checkSampleOptions({ count: 1, cfgInterval: iv as [number, number] }), /cfgInterval must be \[lo, hi\] with 0 <= lo < hi <= 1/, JSON.stringify(iv));
  }
  assert.throws(() => checkSampleOptions({ count: 1, cfgInterval: 'x' as never }), /cfgInterval/);
  for (const s of [0, -1, Infinity, NaN]) assert.throws(() => checkSampleOptions({ count: 1, timeShift: s }), /timeShift must be a positive number/, String(s));
  for (const s of [-0.1, Infinity, NaN]) assert.throws(() => checkSampleOptions({ count: 1, sdeNoise: s }), /sdeNoise must be a non-negative number/, String(s));
});

test('canvas gather reads the tokens at given indices in that order (duplicated for guidance); writeTokens puts them back', () => {
  const B = 2, n = 5, D = 3;
  const canvas = Float32Array.from({ length: B * n * D }, (_, i) => i);
  const idx = [4, 1, 2];
  const g = canvasGather(canvas, B, n, D, idx, false);
  assert.deepEqual(g.shape, [B, 3, D]);
  const want: number[] = [];
  for (let b = 0; b < B; b++) for (const j of idx) for (let d = 0; d < D; d++) want.push((b * n + j) * D + d);
  assert.deepEqual(Array.from(g.dataSync()), want);
  const dup = canvasGather(canvas, B, n, D, idx, true);
  assert.deepEqual(dup.shape, [2 * B, 3, D]);
  assert.deepEqual(Array.from(dup.dataSync()), [...want, ...want]);
  // Writing the gathered rows into an empty canvas restores exactly those slots and nothing else.
  const out = new Float32Array(B * n * D).fill(-1);
  writeTokens(out, g.dataSync() as Float32Array, B, n, D, idx);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < n; j++) {
      for (let d = 0; d < D; d++) {
        const k = (b * n + j) * D + d;
        assert.equal(out[k], idx.includes(j) ? canvas[k] : -1, `sample ${b}, token ${j}, channel ${d}`);
      }
    }
  }
  tf.dispose([g, dup]);
});

test('the baselines\' grouped loss: each group the mean of its rows\' flow-matching errors, the total weighted by group', () => {
  const ps = new ParamStore(2);
  const head = new FlowHead(ps, 'h', { tokenDim: 2, condDim: 3, width: 8, depth: 1 });
  // Random weights everywhere, so the head's errors differ from row to row.
  const r = new Rng(3);
  randomiseParams(ps, r, 0.5);
  const B = 2, L = 5, D = 2, C = 3, groups = [1, 4], weights = [2, 3];
  const targets = tf.tensor3d(Float32Array.from({ length: B * L * D }, () => r.normal()), [B, L, D]);
  const h = tf.tensor3d(Float32Array.from({ length: B * L * C }, () => r.normal()), [B, L, C]);
  const { total, perModule } = groupedHeadLoss(head, targets, h, new Rng(9), {}, groups, weights, singleSegment(1));
  const err = flowMatchingErrors(head, tf.reshape(targets, [-1, D]) as tf.Tensor2D, tf.reshape(h, [-1, C]) as tf.Tensor2D, new Rng(9), { layout: singleSegment(1) });
  const e = err.arraySync() as number[][];
  const groupMean = (lo: number, len: number) => {
    let s = 0;
    for (let b = 0; b < B; b++) for (let j = lo; j < lo + len; j++) for (let d = 0; d < D; d++) s += e[b * L + j]![d]!;
    return s / (B * len * D);
  };
  const want = [groupMean(0, 1), groupMean(1, 4)];
  assert.ok(Math.abs(want[0]! - want[1]!) > 1e-3, 'the two groups differ');
  assert.equal(perModule.length, 2);
  assert.ok(maxAbsDiff(perModule.map((l) => l.dataSync()[0]!), want) < 1e-5, `per group ${perModule.map((l) => l.dataSync()[0])} vs ${want}`);
  assert.ok(Math.abs(total.dataSync()[0]! - (2 * want[0]! + 3 * want[1]!)) < 1e-4);
  // One group: the plain mean, times its weight.
  const one = groupedHeadLoss(head, targets, h, new Rng(9), {}, [L], [0.5], singleSegment(1));
  const all = (want[0]! * 1 + want[1]! * 4) / 5;
  assert.ok(Math.abs(one.perModule[0]!.dataSync()[0]! - all) < 1e-5);
  assert.ok(Math.abs(one.total.dataSync()[0]! - 0.5 * all) < 1e-5);
  tf.dispose([targets, h, err, total, ...perModule, one.total, ...one.perModule]);
  ps.dispose();
});

/**
 * A head whose velocity is its condition's first column (1 for the conditional rows, 0 for the unconditional
 * ones below them), counting how it is bound: the guided solve's result then reads off which steps were guided.
 */
function stubHead() {
  const log = { prepared: [] as number[], disposed: 0, times: [] as number[][] };
  const head: VelocityHead = {
    kind: 'token', name: 'stub',
    forward: () => { throw new Error('the solver binds the head, it does not call forward'); },
    prepare: (z, _layout, times) => {
      log.prepared.push(z.shape[0]);
      log.times.push(Array.from(times));
      const c = tf.keep(tf.slice(z, [0, 0], [-1, 1]));
      return { velocity: (y) => tf.mul(tf.onesLike(y), c) as tf.Tensor2D, dispose: () => { log.disposed++; c.dispose(); } };
    },
  };
  return { head, log };
}

test('guided head solves: v = v_u + w (v_c - v_u) exactly on the guidance interval, its ends included; each binding made once and freed', () => {
  const z = tf.tensor2d([[1], [1], [0], [0]]); // two conditional rows, then their unconditional copies
  // Euler on the grid 0, .25, .5, .75 with temperature 0: y(1) = 0.25 · Σ v(t_i), v = w where guided, 1 (v_c) elsewhere.
  const cases: Array<[[number, number] | undefined, number]> = [[undefined, 4 * 3], [[0.25, 1], 1 + 3 * 3], [[0, 0.5], 3 * 3 + 1], [[0.3, 0.7], 1 + 1 + 3 + 1], [[0.5, 0.5001], 1 + 1 + 3 + 1]];
  for (const [cfgInterval, sum] of cases) {
    const { head, log } = stubHead();
    const before = tf.memory().numTensors;
    const r = sampleHead(head, z, 1, true, 3, { count: 2, odeSteps: 4, temperature: 0, cfgInterval }, 1, singleSegment(1));
    assert.deepEqual(Array.from(r.y.dataSync()), [0.25 * sum, 0.25 * sum], `interval ${JSON.stringify(cfgInterval)}`);
    assert.deepEqual(r.y.shape, [2, 1], 'the conditional rows only');
    assert.equal(r.evals, 4);
    const guidedEverywhere = cfgInterval === undefined;
    assert.deepEqual(log.prepared.sort(), guidedEverywhere ? [4] : [2, 4], 'bound once per kind of step: guided (all rows) and plain (conditional rows)');
    assert.equal(log.disposed, log.prepared.length);
    assert.deepEqual(log.times[0], [0, 0.25, 0.5, 0.75, 1], 'bound to the solver\'s time grid');
    r.y.dispose();
    assert.equal(tf.memory().numTensors, before, 'nothing left behind');
  }
  // The same guided solve with the plain-ops guidance (engines without the fused kernel).
  setNativeKernels(false);
  try {
    const r = sampleHead(stubHead().head, z, 1, true, 3, { count: 2, odeSteps: 4, temperature: 0 }, 1, singleSegment(1));
    assert.deepEqual(Array.from(r.y.dataSync()), [3, 3]);
    r.y.dispose();
  } finally { setNativeKernels(true); }
  // Without guidance the head is bound once to the given rows, and the time shift reaches the grid.
  const { head, log } = stubHead();
  const r = sampleHead(head, tf.tensor2d([[1], [1]]), 1, false, 3, { count: 2, odeSteps: 2, temperature: 0, timeShift: 3, solver: 'heun' }, 1, singleSegment(1));
  assert.deepEqual(Array.from(r.y.dataSync()), [1, 1], 'v = v_c = 1 over unit time');
  assert.equal(r.evals, 4, 'Heun: two evaluations a step');
  assert.deepEqual(log.prepared, [2]);
  assert.deepEqual(log.times[0], Array.from(timeGrid(2, 3)));
  assert.notDeepEqual(log.times[0], [0, 0.5, 1]);
  tf.dispose([z, r.y]);
});
