// The weight average used for sampling (issue #23, mutation scope): its warm-started decay, its update on
// both paths (the native pack's fused kernel and the op-by-op fallback) against the formula in float64, that
// the shadow is a frozen copy, and that withWeights swaps weights in and always restores them.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { float64Of as read, maxAbsDiff, randnTensor, setup, tf } from './helpers.js';
import { Ema, withWeights } from '../src/train/ema.js';
import { engineFlags } from '../src/engine/flags.js';
import { Rng } from '../src/util/rng.js';

before(setup);

function randomVars(seed: number): Map<string, tf.Variable> {
  const rng = new Rng(seed);
  const shapes: Record<string, number[]> = { 'a.w': [3, 5], 'a.b': [7], 'c.g': [1] };
  return new Map(Object.entries(shapes).map(([k, s]) => [k, tf.variable(randnTensor(rng, s), true)]));
}

test('EMA decay warms up as (1 + step) / (10 + step) and is capped at the configured decay', () => {
  const ema = new Ema(new Map(), 0.9);
  for (const [step, want] of [[0, 0.1], [3, 4 / 13], [10, 11 / 20], [50, 51 / 60], [81, 0.9], [10_000, 0.9]] as const) {
    assert.ok(Math.abs(ema.effectiveDecay(step) - want) < 1e-12, `step ${step}: ${ema.effectiveDecay(step)} vs ${want}`);
  }
});

for (const fused of [true, false]) {
  test(`EMA update (${fused ? 'fused kernel where built' : 'op-by-op path'}) = d·shadow + (1 − d)·weights; the shadow is a frozen copy`, () => {
    engineFlags.fusedOptimizer = fused;
    const vars = randomVars(1);
    try {
      const ema = new Ema(vars, 0.99);
      for (const [name, v] of vars) {
        const s = ema.shadow.get(name)!;
        assert.equal(s.trainable, false, `${name}: the shadow must not be trainable (optimisers and grads would pick it up)`);
        assert.deepEqual(read(s), read(v));
      }
      let expected = new Map([...vars].map(([n, v]) => [n, read(v)]));
      const rng = new Rng(2);
      for (const step of [0, 4, 200]) {
        // New weights, then one update: shadow ← d·shadow + (1 − d)·weights with d the warm-started decay.
        const shadowBefore = new Map([...ema.shadow].map(([n, s]) => [n, read(s)]));
        for (const v of vars.values()) v.assign(randnTensor(rng, v.shape));
        for (const [n, s] of shadowBefore) assert.deepEqual(read(ema.shadow.get(n)!), s, `${n}: the shadow is a copy, unchanged when the weights change`);
        const d = ema.effectiveDecay(step);
        ema.update(step);
        expected = new Map([...expected].map(([n, s]) => { const p = read(vars.get(n)!); return [n, s.map((x, i) => d * x + (1 - d) * p[i]!)]; }));
        for (const [n, want] of expected) {
          const got = read(ema.shadow.get(n)!);
          const err = maxAbsDiff(got, want);
          assert.ok(err < 1e-5, `${n} after step ${step}: max error ${err}`);
        }
      }
      const before = tf.memory().numTensors;
      ema.dispose();
      assert.equal(tf.memory().numTensors, before - vars.size, 'dispose frees one shadow per weight');
      for (const s of ema.shadow.values()) assert.ok(s.isDisposed);
    } finally {
      engineFlags.fusedOptimizer = true;
      for (const v of vars.values()) v.dispose();
    }
  });
}

test('withWeights runs with the given weights in place (others untouched) and restores every weight, also after a throw', async () => {
  const vars = randomVars(3);
  const original = new Map([...vars].map(([n, v]) => [n, read(v)]));
  // Weights for two of the three variables; 'c.g' has none and must keep its value.
  const weights = new Map([['a.w', tf.fill([3, 5], 0.25)], ['a.b', tf.fill([7], -2)]]);
  const before = tf.memory().numTensors;
  const inside = await withWeights(vars, weights, async () => new Map([...vars].map(([n, v]) => [n, read(v)])));
  assert.ok(inside.get('a.w')!.every((x) => x === 0.25));
  assert.ok(inside.get('a.b')!.every((x) => x === -2));
  assert.deepEqual(inside.get('c.g'), original.get('c.g'));
  for (const [n, v] of vars) assert.deepEqual(read(v), original.get(n), `${n} restored`);
  assert.equal(tf.memory().numTensors, before, 'the saved copies are freed');

  await assert.rejects(withWeights(vars, weights, async () => { throw new Error('sampling failed'); }), /sampling failed/);
  for (const [n, v] of vars) assert.deepEqual(read(v), original.get(n), `${n} restored after a throw`);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([...weights.values(), ...vars.values()]);
});
