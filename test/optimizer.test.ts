// AdamW, gradient clipping and the learning-rate schedule against their formulas written out in float64
// (issue #23, mutation scope). test/fusedOptimizer.test.ts shows the two AdamW paths give the same bits; this
// shows what both compute is AdamW: bias-corrected moments, decoupled decay on weight matrices only.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { float64Of as read, maxAbsDiff as maxAbs, randnTensor, setup, tf } from './helpers.js';
import { AdamW, clipByGlobalNorm, globalNormScale, learningRate, type AdamWConfig } from '../src/train/optimizer.js';
import { engineFlags } from '../src/engine/flags.js';
import { Rng } from '../src/util/rng.js';

before(setup);


/** One AdamW step in float64: the reference the optimiser is checked against. */
function referenceStep(p: Float64Array, m: Float64Array, v: Float64Array, g: Float64Array, t: number, lr: number, scale: number, decays: boolean, c: AdamWConfig) {
  const c1 = 1 - c.beta1 ** t, c2 = 1 - c.beta2 ** t, decay = decays && c.weightDecay > 0 ? 1 - lr * c.weightDecay : 1;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]! * scale;
    m[i] = c.beta1 * m[i]! + (1 - c.beta1) * gi;
    v[i] = c.beta2 * v[i]! + (1 - c.beta2) * gi * gi;
    p[i] = p[i]! * decay - lr * (m[i]! / c1) / (Math.sqrt(v[i]! / c2) + c.eps);
  }
}

for (const fused of [true, false]) {
  test(`AdamW (${fused ? 'fused kernel where built' : 'op-by-op path'}) = the float64 formula: bias correction, decay on '.w' only, gradient scale, missing gradients skipped`, () => {
    engineFlags.fusedOptimizer = fused;
    const rng = new Rng(5);
    const shapes: Record<string, number[]> = { 'fc.w': [3, 4], 'fc.b': [4], 'norm.g': [5], 'frozen.w': [2] };
    const vars = new Map(Object.entries(shapes).map(([k, s]) => [k, tf.variable(randnTensor(rng, s), true)]));
    const cfg: AdamWConfig = { beta1: 0.8, beta2: 0.9, eps: 1e-3, weightDecay: 0.5 };
    const opt = new AdamW(vars, cfg);
    try {
      for (const n of vars.keys()) {
        for (const mom of [opt.m.get(n)!, opt.v.get(n)!]) { assert.equal(mom.trainable, false, `${n}: moments are not trainable`); assert.ok(read(mom).every((x) => x === 0)); }
      }
      const ref = new Map([...vars].map(([n, v]) => [n, { p: read(v), m: new Float64Array(v.size), v: new Float64Array(v.size) }]));
      for (const [step, lr, scale] of [[1, 0.1, 1], [2, 0.05, 0.5], [3, 0.2, 1]] as const) {
        // 'frozen.w' never gets a gradient: it must keep its value and its moments (no decay either).
        const grads = new Map([...vars].filter(([n]) => n !== 'frozen.w').map(([n, v]) => [n, randnTensor(rng, v.shape, 2)]));
        for (const [n, g] of grads) { const r = ref.get(n)!; referenceStep(r.p, r.m, r.v, read(g), step, lr, scale, n.endsWith('.w'), cfg); }
        opt.apply(grads, lr, scale);
        assert.equal(opt.t, step);
        tf.dispose([...grads.values()]);
        for (const [n, r] of ref) {
          assert.ok(maxAbs(read(vars.get(n)!), r.p) < 2e-5, `${n} after step ${step}: ${maxAbs(read(vars.get(n)!), r.p)}`);
          assert.ok(maxAbs(read(opt.m.get(n)!), r.m) < 2e-5, `${n} m after step ${step}`);
          assert.ok(maxAbs(read(opt.v.get(n)!), r.v) < 2e-5, `${n} v after step ${step}`);
        }
      }
      // Moments round-trip through the checkpoint's named arrays, with the update count.
      const saved = opt.exportMoments();
      assert.deepEqual(Object.keys(saved).sort(), [...vars.keys()].flatMap((n) => [`m.${n}`, `v.${n}`]).sort());
      const other = new AdamW(vars, cfg);
      other.restore(saved, opt.t, 'optimizer.safetensors');
      assert.equal(other.t, 3);
      for (const n of vars.keys()) { assert.deepEqual(read(other.m.get(n)!), read(opt.m.get(n)!)); assert.deepEqual(read(other.v.get(n)!), read(opt.v.get(n)!)); }
      other.dispose();
      const before = tf.memory().numTensors;
      opt.dispose();
      assert.equal(tf.memory().numTensors, before - 2 * vars.size, 'dispose frees both moments of every parameter');
    } finally {
      engineFlags.fusedOptimizer = true;
      for (const v of vars.values()) v.dispose();
    }
  });
}

test('AdamW decays weight matrices only, and no decay at weightDecay 0', () => {
  assert.deepEqual(['a.w', 'a.b', 'ln.g', 'pos', 'w', 'a.w.b'].map(AdamW.decays), [true, false, false, false, false, false]);
  const p = tf.variable(tf.tensor([1, -2]), true), vars = new Map([['x.w', p]]);
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
  opt.apply(new Map([['x.w', tf.zeros([2])]]), 0.1);
  assert.deepEqual(Array.from(p.dataSync()), [1, -2], 'zero gradient and no decay leave the weights');
  opt.dispose(); p.dispose();
});

for (const fused of [true, false]) {
  test(`global gradient norm (${fused ? 'fused kernel where built' : 'op-by-op'}) and clipping: √Σg², scale maxNorm/(norm + 1e-6) only when above and finite`, () => {
    engineFlags.fusedOptimizer = fused;
    try {
      const grads = new Map([['a', tf.tensor([3, 0, -4])], ['b', tf.tensor([[12]])]]);
      assert.ok(Math.abs(globalNormScale(grads, 100).norm - 13) < 1e-5);
      assert.equal(globalNormScale(grads, 100).scale, 1, 'within the bound: unchanged');
      assert.equal(globalNormScale(grads, 13).scale, 1, 'at the bound: unchanged');
      assert.equal(globalNormScale(grads, 0).scale, 1, 'maxNorm 0 switches clipping off');
      assert.ok(Math.abs(globalNormScale(grads, 6.5).scale - 6.5 / (13 + 1e-6)) < 1e-9);
      const inf = new Map([['a', tf.tensor([Infinity, 1])]]);
      assert.equal(globalNormScale(inf, 1).scale, 1, 'a non-finite norm is not scaled (the trainer reports it)');
      const before = tf.memory().numTensors;
      assert.ok(Math.abs(clipByGlobalNorm(grads, 6.5) - 13) < 1e-5, 'returns the norm before clipping');
      assert.equal(tf.memory().numTensors, before, 'clipping replaces the gradients without leaking');
      assert.ok(Math.abs(globalNormScale(grads, 100).norm - 6.5) < 1e-4, 'after clipping the norm is maxNorm');
      assert.ok(maxAbs(read(grads.get('a')!), [1.5, 0, -2]) < 1e-5);
      const kept = grads.get('b')!;
      assert.equal(clipByGlobalNorm(grads, 100), globalNormScale(grads, 100).norm);
      assert.equal(grads.get('b'), kept, 'no clipping: the same tensors stay');
      tf.dispose([...grads.values(), ...inf.values()]);
    } finally {
      engineFlags.fusedOptimizer = true;
    }
  });
}

test('learning rate: linear warm-up to base, then cosine to minRatio·base at the last step', () => {
  const base = 2e-3, warm = 4, total = 24, min = 0.1;
  const lr = (s: number) => learningRate(s, total, base, warm, min);
  for (const [s, want] of [[0, base / 4], [1, base / 2], [3, base], [4, base], [14, base * (min + (1 - min) * 0.5)], [24, base * min], [40, base * min]] as const) {
    assert.ok(Math.abs(lr(s) - want) < 1e-12, `step ${s}: ${lr(s)} vs ${want}`);
  }
  const p = 7 / 20;
  assert.ok(Math.abs(lr(11) - base * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * p)))) < 1e-12);
  assert.equal(learningRate(0, 10, 1, 0, 0), 1, 'no warm-up starts at base');
  assert.ok(Math.abs(learningRate(5, 5, 1, 5, 0.2) - 1) < 1e-12, 'total = warm-up: the decay span is at least one step');
});
