// The flow-matching loss's draws (method.md §4): one t per patch for a patch head and one per token for a
// per-token head, in the recorded order; logit-normal times concentrate around 1/2, uniform ones do not; the
// loss is the squared error against the target velocity x − ε on y_t = (1 − t)ε + t x.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { maxRelErr, setup, tf } from './helpers.js';
import { nativeAddon, setNativeKernels } from '../src/engine/backend.js';
import { flowMatchingErrors } from '../src/flow/flowMatching.js';
import { layoutRows, prepareByForward, timeGroups, type HeadLayout, type VelocityHead } from '../src/flow/head.js';
import { FlowHead, T_FREQ, TimeTable, timeEmbedding, timeFeatures, timeRuns } from '../src/flow/flowHead.js';
import { ParamStore } from '../src/model/params.js';
import { applyLinear, applyLinearNoInputGrad, linear, silu, type Linear } from '../src/model/layers.js';
import { Rng } from '../src/util/rng.js';

before(setup);

/** A head that returns y itself, so the error is readable: (y − (x − ε))². */
const echo = (kind: 'token' | 'patch'): VelocityHead => {
  const h: VelocityHead = {
    kind, name: `echo-${kind}`,
    forward: (y) => tf.clone(y),
    prepare: (z, layout) => prepareByForward(h, z, layout),
  };
  return h;
};

function draws(kind: 'token' | 'patch', layout: HeadLayout, samples: number, time?: 'uniform' | 'logit-normal') {
  const rows = samples * layoutRows(layout);
  const x = tf.randomNormal([rows, 2], 0, 1, 'float32', 5) as tf.Tensor2D, z = tf.zeros([rows, 3]) as tf.Tensor2D;
  let t: Float32Array = new Float32Array(0), eps: Float32Array = new Float32Array(0);
  const err = flowMatchingErrors(echo(kind), x, z, new Rng(9), { layout, time, repeats: 2, record: (tt, e) => { t = tt.slice(); eps = e.dataSync().slice() as Float32Array; } });
  const out = { t, eps, x: x.dataSync().slice() as Float32Array, err: err.dataSync().slice() as Float32Array };
  tf.dispose([x, z, err]);
  return out;
}

test('a patch head gets one t per patch, a per-token head one t per token', () => {
  const layout: HeadLayout = { segments: [{ slot: 0, length: 3 }, { slot: 3, length: 2 }] };
  const p = draws('patch', layout, 4), k = draws('token', layout, 4);
  assert.equal(p.t.length, 4 * 5 * 2);
  for (let g = 0, row = 0; row < p.t.length; g++) {
    const len = g % 2 === 0 ? 3 : 2;
    const seg = Array.from(p.t.subarray(row, row + len));
    assert.ok(seg.every((v) => v === seg[0]), `patch ${g}: one t (${seg})`);
    assert.ok(seg[0]! > 0 && seg[0]! < 1);
    row += len;
  }
  assert.equal(new Set(p.t).size, 4 * 2 * 2, 'a fresh t for every patch of every sample and repeat');
  assert.equal(new Set(k.t).size, k.t.length, 'a fresh t for every token');
  // The error is (y_t − (x − ε))² with y_t = (1 − t)ε + t·x, row by row (repeat-major copies of x).
  const R = p.x.length / 2;
  for (let i = 0; i < p.t.length; i++) for (let d = 0; d < 2; d++) {
    const x = p.x[(i % R) * 2 + d]!, e = p.eps[i * 2 + d]!, t = p.t[i]!;
    const want = ((1 - t) * e + t * x - (x - e)) ** 2;
    assert.ok(Math.abs(p.err[i * 2 + d]! - want) < 1e-4 * (1 + want), `row ${i}: ${p.err[i * 2 + d]} vs ${want}`);
  }
});

test('logit-normal times concentrate around 1/2; uniform ones fill (0, 1) evenly', () => {
  const layout: HeadLayout = { segments: [{ slot: 0, length: 1 }] };
  const frac = (t: Float32Array) => t.filter((v) => v > 0.25 && v < 0.75).length / t.length;
  const ln = draws('token', layout, 2000, 'logit-normal').t, un = draws('token', layout, 2000, 'uniform').t;
  // P(0.25 < σ(n) < 0.75) = P(|n| < ln 3) = 0.728 for n ~ N(0, 1); 0.5 for uniform t. N = 4000 each: sd ≈ 0.008.
  assert.ok(Math.abs(frac(ln) - 0.728) < 0.03, `logit-normal: ${frac(ln)} of t in (1/4, 3/4)`);
  assert.ok(Math.abs(frac(un) - 0.5) < 0.03, `uniform: ${frac(un)} of t in (1/4, 3/4)`);
  assert.ok(ln.every((v) => v > 0 && v < 1));
});

test('timeGroups: a patch head groups by segment, a per-token head by row; rows that are not whole samples are refused', () => {
  const layout: HeadLayout = { segments: [{ slot: 0, length: 3 }, { slot: 3, length: 2 }] };
  assert.deepEqual(timeGroups(echo('patch'), layout, 10), [3, 2, 3, 2]);
  assert.deepEqual(timeGroups(echo('token'), layout, 5), [1, 1, 1, 1, 1]);
  assert.throws(() => timeGroups(echo('patch'), layout, 7), /echo-patch: 7 rows do not split into samples of 5 rows/);
});

test('a fresh per-token head modulates nothing: with its output layer set, velocities ignore t and z (zero-initialised AdaLN)', () => {
  const ps = new ParamStore(3);
  const head = new FlowHead(ps, 'h', { tokenDim: 2, condDim: 3, width: 8, depth: 2 });
  ps.get('h.final.out.w').assign(tf.randomNormal([8, 2], 0, 1, 'float32', 4));
  const y = tf.randomNormal([4, 2], 0, 1, 'float32', 5) as tf.Tensor2D;
  const z1 = tf.randomNormal([4, 3], 0, 1, 'float32', 6) as tf.Tensor2D, z2 = tf.randomNormal([4, 3], 0, 1, 'float32', 7) as tf.Tensor2D;
  const same = (what: string) => {
    const a = head.forward(y, 0.1, z1).dataSync(), b = head.forward(y, 0.9, z2).dataSync();
    assert.ok(a.some((v) => Math.abs(v) > 1e-3), 'the output layer is live');
    assert.deepEqual(Array.from(a), Array.from(b), what);
  };
  same('gates and the final modulation start at zero');
  // Constant, non-zero gates make the blocks visible: their shift and scale must start at zero too.
  for (let i = 0; i < 2; i++) ps.get(`h.blocks.${i}.ada_gate.b`).assign(tf.randomNormal([8], 0, 1, 'float32', 10 + i));
  same('the blocks\' shift and scale start at zero');
  tf.dispose([y, z1, z2]);
});

test('the time table embeds each grid time once, returns the same row every step, and frees every tensor', () => {
  const ps = new ParamStore(1);
  const fc1 = linear(ps, 'fc1', T_FREQ, 4), fc2 = linear(ps, 'fc2', 4, 4);
  const before = tf.memory().numTensors;
  const table = new TimeTable(fc1, fc2, [0, 0.5, 0.5, 1]);
  assert.equal(tf.memory().numTensors, before + 3, 'one kept row per distinct time');
  assert.equal(table.row(0.5), table.row(0.5));
  const want = tf.tidy(() => timeEmbedding(fc1, fc2, 0.5, 1));
  assert.deepEqual(Array.from(table.row(0.5).dataSync()), Array.from(want.dataSync()));
  want.dispose();
  table.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('time features: the sinusoidal formula row by row, a repeated t copied from the row before (same bits)', () => {
  const ts = Float32Array.from([0.25, 0.25, 0.25, 0.7, 0.25, 0.7, 0.7, 0, 1]);
  const got = timeFeatures(ts, ts.length);
  const data = got.dataSync(), half = T_FREQ / 2;
  for (let r = 0; r < ts.length; r++) {
    for (let i = 0; i < half; i++) {
      const a = ts[r]! * 1000 * Math.exp((-Math.log(10000) * i) / half);
      assert.equal(data[r * T_FREQ + i], Math.fround(Math.cos(a)), `row ${r} cos ${i}`);
      assert.equal(data[r * T_FREQ + half + i], Math.fround(Math.sin(a)), `row ${r} sin ${i}`);
    }
  }
  const one = timeFeatures(0.3, 3).dataSync();
  assert.deepEqual(Array.from(one.subarray(2 * T_FREQ)), Array.from(one.subarray(0, T_FREQ)));
  got.dispose();
});

test('a linear layer on an input without gradient: the same value and weight gradients, one matmul fewer', async () => {
  const ps = new ParamStore(3);
  const l = linear(ps, 'l', 7, 5);
  const x = tf.randomNormal([11, 7], 0, 1, 'float32', 4) as tf.Tensor2D, dy = tf.randomNormal([11, 5], 0, 1, 'float32', 5);
  const run = (f: (l: Linear, x: tf.Tensor2D) => tf.Tensor) => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(l, x), dy)) as tf.Scalar, [l.w, l.b!]);
    const out = [value, grads[l.w.name]!, grads[l.b!.name]!].map((t) => Array.from(t.dataSync()));
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  assert.deepEqual(run(applyLinearNoInputGrad), run(applyLinear));
  const matmuls = async (f: (l: Linear, x: tf.Tensor2D) => tf.Tensor) => (await tf.profile(() => { run(f); return []; }))
    .kernels.filter((k) => k.name === 'BatchMatMul' || k.name === 'NestarLinear').length;
  assert.equal(await matmuls(applyLinearNoInputGrad), (await matmuls(applyLinear)) - 1);
  tf.dispose([x, dy]);
  ps.dispose();
});

test('time embedding of rows in runs of one t: the MLP once a run gives the per-row values and weight gradients', () => {
  const ps = new ParamStore(8);
  const fc1 = linear(ps, 'fc1', T_FREQ, 6), fc2 = linear(ps, 'fc2', 6, 6);
  // Runs of 4, 1, 3 and 4 rows (a value may come back in a later run); 4 runs for 12 rows, so the runs path is taken.
  const t = Float32Array.from([0.2, 0.2, 0.2, 0.2, 0.9, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.2]);
  assert.deepEqual(timeRuns(t, 12).lengths, [4, 1, 3, 4]);
  const dy = tf.randomNormal([12, 6], 0, 1, 'float32', 9);
  const run = (f: () => tf.Tensor) => {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), dy)) as tf.Scalar, [fc1.w, fc1.b!, fc2.w, fc2.b!]);
    const out = [value, ...[fc1.w, fc1.b!, fc2.w, fc2.b!].map((v) => grads[v.name]!)].map((x) => Float32Array.from(x.dataSync()));
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const perRow = run(() => applyLinear(fc2, silu(applyLinear(fc1, timeFeatures(t, 12)))));
  // With the engine's run kernels where this backend has them, and with tfjs's Gather and SparseSegmentSum.
  const paths = nativeAddon() ? [true, false] : [false];
  try {
    for (const native of paths) {
      if (nativeAddon()) setNativeKernels(native);
      const byRuns = run(() => timeEmbedding(fc1, fc2, t, 12));
      perRow.forEach((want, i) => assert.ok(maxRelErr(byRuns[i]!, want) <= 1e-5, `native ${native}, output ${i}: ${maxRelErr(byRuns[i]!, want)}`));
    }
  } finally {
    if (nativeAddon()) setNativeKernels(true);
  }
  const rows = tf.tidy(() => timeEmbedding(fc1, fc2, t, 12).arraySync() as number[][]);
  assert.deepEqual(rows[8], rows[0], 'rows of one t are equal');
  tf.dispose(dy);
  ps.dispose();
});
