// The flow-matching loss's draws (method.md §4): one t per patch for a patch head and one per token for a
// per-token head, in the recorded order; logit-normal times concentrate around 1/2, uniform ones do not; the
// loss is the squared error against the target velocity x − ε on y_t = (1 − t)ε + t x.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { flowMatchingErrors } from '../src/flow/flowMatching.js';
import { prepareByForward, type HeadLayout, type VelocityHead } from '../src/flow/head.js';
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
  const rows = samples * layout.segments.reduce((a, s) => a + s.length, 0);
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
