import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { NestAR } from '../src/model/nestar.js';

before(setup);

const tiny = { tokenDim: 2, width: 8, depth: 1, heads: 1, headWidth: 8, headDepth: 1, mlpRatio: 2 };

test('sampler makes exactly n1 + (M-1)(k-1) sequential backbone calls', async () => {
  for (const [gridSize, k, n1] of [[4, 4, 4], [8, 4, 4], [8, 4, 1], [8, 4, 16], [16, 4, 4], [4, 2, 2], [8, 2, 1], [4, 16, 1]] as const) {
    const model = new NestAR({ ...tiny, gridSize, k, n1 }, 0);
    const M = model.modules.length;
    assert.equal(gridSize * gridSize, n1 * k ** (M - 1));
    const steps: Array<[number, number, number]> = [];
    const res = await model.sample({ count: 2, classes: [0, 1], cfg: 1.5, odeSteps: 2, onStep: (p) => { steps.push([p.module, p.patch, p.tokensSoFar]); } });
    assert.equal(res.backboneCalls, n1 + (M - 1) * (k - 1), `grid ${gridSize} k ${k} n1 ${n1}`);
    assert.equal(steps.length, res.backboneCalls);
    assert.equal(steps.at(-1)![2], gridSize * gridSize, 'the last step completes the canvas');
    assert.equal(res.headEvals, res.backboneCalls * 2, 'Euler: one head evaluation per ODE step');
    model.dispose();
  }
});

test('sampling is deterministic for a seed, differs across seeds, and does not leak tensors', async () => {
  const model = new NestAR({ ...tiny, gridSize: 4 }, 1);
  const opts = { count: 3, classes: 2, cfg: 2, odeSteps: 3, solver: 'heun' as const };
  await model.sample({ ...opts, seed: 5 });
  const before = tf.memory().numTensors;
  const a = await model.sample({ ...opts, seed: 5 });
  const b = await model.sample({ ...opts, seed: 5 });
  const c = await model.sample({ ...opts, seed: 6 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
  assert.equal(a.headEvals, a.backboneCalls * 3 * 2, 'Heun: two head evaluations per ODE step');
  assert.ok(a.tokens.every(Number.isFinite));
  await assert.rejects(model.sample({ count: 1, classes: 10 }), /class 10 is out of range 0..9/);
  model.dispose();
});

test('every head kind and token order: calls as the formula says, deterministic, flat tensor count, and each step writes exactly its new canvas slots', async () => {
  const { createGenerator } = await import('../src/model/factory.js');
  const configs = [
    { kind: 'nestar', headKind: 'patch', order: 'interleaved' }, { kind: 'nestar', headKind: 'patch', order: 'zorder' },
    { kind: 'nestar', headKind: 'token', order: 'interleaved' }, { kind: 'nextscale', headKind: 'patch' }, { kind: 'raster' },
  ] as const;
  for (const extra of configs) {
    const model = createGenerator({ ...tiny, headHeads: 2, gridSize: 8, ...extra }, 2);
    const D = 2, n = 64;
    const opts = { count: 2, classes: [1, 2], cfg: 2, odeSteps: 2, cfgInterval: [0.3, 1] as [number, number], seed: 4 };
    await model.sample(opts);
    const before = tf.memory().numTensors;
    const written: number[] = [];
    const a = await model.sample({ ...opts, onStep: (p) => {
      let nz = 0;
      for (let t = 0; t < n; t++) if (p.canvas[t * D] !== 0 || p.canvas[t * D + 1] !== 0) nz++;
      written.push(nz);
      if (extra.kind !== 'nextscale') assert.equal(nz, p.tokensSoFar, `${JSON.stringify(extra)}: ${nz} canvas slots written after ${p.tokensSoFar} tokens`);
    } });
    const b = await model.sample(opts);
    assert.equal(tf.memory().numTensors, before, JSON.stringify(extra));
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.backboneCalls, model.sequentialSteps);
    assert.equal(written.length, model.sequentialSteps);
    assert.equal(written.at(-1), n, `${JSON.stringify(extra)}: the finished canvas has every slot`);
    model.dispose();
  }
});

test('temperature scales the starting noise: an untrained (zero-velocity) model returns exactly temperature × the noise', async () => {
  // Heads start as the zero velocity field (zero-initialised output layers), so the ODE leaves y_0 unchanged.
  const model = new NestAR({ ...tiny, gridSize: 4 }, 1);
  const opts = { count: 2, classes: 1, cfg: 1, odeSteps: 2, seed: 8 };
  const one = await model.sample({ ...opts, temperature: 1 }), half = await model.sample({ ...opts, temperature: 0.5 }), zero = await model.sample({ ...opts, temperature: 0 });
  assert.ok(one.tokens.some((v) => v !== 0));
  one.tokens.forEach((v, i) => assert.ok(Math.abs(half.tokens[i]! - 0.5 * v) < 1e-6, `token value ${i}: ${half.tokens[i]} vs 0.5 × ${v}`));
  assert.ok(zero.tokens.every((v) => v === 0));
  model.dispose();
});
