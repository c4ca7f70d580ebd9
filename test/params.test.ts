// The parameter store (issue #23, mutation scope): initialisers as PyTorch/MAR use them (xavier-uniform
// bounds, normal std, ones, given values), names that become checkpoint keys, and its bookkeeping.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { ParamStore } from '../src/model/params.js';

before(setup);

test('initialisers: xavier-uniform within ±√(6/(fan_in+fan_out)) filling the range, normal with its std, zeros, ones, values', () => {
  const ps = new ParamStore(3);
  const stats = (v: tf.Tensor) => {
    const d = Array.from(v.dataSync()), n = d.length, mean = d.reduce((a, b) => a + b, 0) / n;
    return { min: Math.min(...d), max: Math.max(...d), mean, std: Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / n) };
  };
  // 2-D and 3-D (fans from the last two dims) and 1-D (fan_in = fan_out = its length).
  for (const [shape, bound] of [[[40, 60], Math.sqrt(6 / 100)], [[5, 30, 70], Math.sqrt(6 / 100)], [[300], Math.sqrt(6 / 600)]] as const) {
    const s = stats(ps.create(`x${shape.join('x')}`, [...shape], { kind: 'xavier' }));
    assert.ok(s.max <= bound && s.min >= -bound, `${shape}: values within ±${bound}`);
    assert.ok(s.max > 0.95 * bound && s.min < -0.95 * bound, `${shape}: values fill ±${bound} (got ${s.min}..${s.max})`);
    assert.ok(Math.abs(s.std - bound / Math.sqrt(3)) < 0.08 * bound, `${shape}: uniform std ${s.std}`);
  }
  const nrm = stats(ps.create('n', [4000], { kind: 'normal', std: 0.02 }));
  assert.ok(Math.abs(nrm.std - 0.02) < 0.001 && Math.abs(nrm.mean) < 0.002, `normal: mean ${nrm.mean} std ${nrm.std}`);
  assert.ok(ps.create('z', [3, 2], { kind: 'zeros' }).dataSync().every((x) => x === 0));
  assert.ok(ps.create('o', [5], { kind: 'ones' }).dataSync().every((x) => x === 1));
  assert.deepEqual(Array.from(ps.create('v', [2, 2], { kind: 'values', values: Float32Array.of(1, -2, 3, 0.5) }).dataSync()), [1, -2, 3, 0.5]);
  const z = ps.get('z');
  assert.deepEqual(z.shape, [3, 2]);
  assert.equal(z.trainable, true);
  assert.equal(z.dtype, 'float32');
  ps.dispose();
});

test('the same seed gives the same initial weights; names are unique, looked up, counted and freed', () => {
  const a = new ParamStore(7), b = new ParamStore(7), c = new ParamStore(8);
  for (const ps of [a, b, c]) { ps.create('m.w', [6, 5], { kind: 'xavier' }); ps.create('m.b', [5], { kind: 'zeros' }); }
  assert.deepEqual(Array.from(a.get('m.w').dataSync()), Array.from(b.get('m.w').dataSync()));
  assert.notDeepEqual(Array.from(a.get('m.w').dataSync()), Array.from(c.get('m.w').dataSync()));
  assert.notEqual(a.get('m.w').name, b.get('m.w').name, 'tfjs variable names are process-global: each store prefixes its own');
  assert.ok(a.get('m.w').name.endsWith('m.w'));
  assert.throws(() => a.create('m.w', [1], { kind: 'zeros' }), /parameter 'm\.w' defined twice/);
  assert.throws(() => a.get('m.x'), /unknown parameter 'm\.x'/);
  assert.equal(a.count(), 35);
  assert.deepEqual(a.list().map((v) => v.shape), [[6, 5], [5]]);
  // Gradients come back keyed by parameter name, and only for parameters the loss uses.
  a.create('unused', [2], { kind: 'ones' });
  const { value, grads } = a.grads(() => tf.sum(tf.mul(a.get('m.b'), 3)) as tf.Scalar);
  assert.deepEqual([...grads.keys()], ['m.b']);
  assert.deepEqual(Array.from(grads.get('m.b')!.dataSync()), [3, 3, 3, 3, 3]);
  tf.dispose([value, ...grads.values()]);
  const before = tf.memory().numTensors;
  a.dispose();
  assert.equal(tf.memory().numTensors, before - 3);
  assert.equal(a.vars.size, 0);
  b.dispose(); c.dispose();
});
