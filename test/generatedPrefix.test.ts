// Generated-prefix coordination as each generator wires it (nestar.ts, rasterAR.ts, nextScaleAR.ts): the
// default estimate is the one-step one, and NestAR makes an estimate for every module but the last, whose
// tokens no later module reads (three modules, so the middle module's estimate is shaped and used too).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomiseParams, setup, tf } from './helpers.js';
import { createGenerator } from '../src/model/factory.js';
import type { Generator } from '../src/model/generator.js';
import type { CoordStep } from '../src/model/coord.js';
import type { NestAR } from '../src/model/nestar.js';
import { Rng } from '../src/util/rng.js';

before(setup);

const tiny = { gridSize: 8, tokenDim: 2, width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2, mlpRatio: 2, numClasses: 3 };

function randomModel(kind: 'nestar' | 'raster' | 'nextscale'): Generator {
  const g = createGenerator({ ...tiny, kind }, 0);
  randomiseParams(g.params, new Rng(7));
  return g;
}

const lossOf = (g: Generator, x: tf.Tensor3D, coord: CoordStep) => tf.tidy(() => g.loss(x, Int32Array.from([0, 2]), new Rng(3), { coord }).total.dataSync()[0]!);

test('the default prefix estimate is the one-step one, for every method', () => {
  for (const kind of ['nestar', 'raster', 'nextscale'] as const) {
    const g = randomModel(kind);
    const r = new Rng(1);
    const x = tf.tensor3d(Float32Array.from({ length: 2 * 64 * 2 }, () => r.normal()), [2, 64, 2]);
    const byDefault = lossOf(g, x, { prefixProb: 1 }), oneStep = lossOf(g, x, { prefixProb: 1, prefixSource: { kind: 'one-step' } });
    const ode = lossOf(g, x, { prefixProb: 1, prefixSource: { kind: 'ode', steps: 3 } }), none = lossOf(g, x, {});
    assert.equal(byDefault, oneStep, `${kind}: the default source`);
    assert.notEqual(byDefault, ode, `${kind}: the source matters`);
    assert.notEqual(byDefault, none, `${kind}: the prefix matters`);
    x.dispose();
    g.dispose();
  }
});

test('NestAR estimates the prefix of every module but the last: each head runs twice in the loss, the last once', () => {
  const g = randomModel('nestar') as NestAR;
  assert.equal(g.modules.length, 3);
  const calls = g.heads.map(() => 0);
  g.heads.forEach((h, i) => {
    const forward = h.forward.bind(h);
    Object.assign(h, { forward: (...a: Parameters<typeof h.forward>) => { calls[i]!++; return forward(...a); } });
  });
  const r = new Rng(2);
  const x = tf.tensor3d(Float32Array.from({ length: 2 * 64 * 2 }, () => r.normal()), [2, 64, 2]);
  const l = lossOf(g, x, { prefixProb: 1 });
  assert.ok(Number.isFinite(l));
  assert.deepEqual(calls, [2, 2, 1], 'the loss and the estimate for modules 1 and 2; the loss alone for module 3');
  x.dispose();
  g.dispose();
});
