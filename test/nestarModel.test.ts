// NestAR's own bookkeeping (src/model/nestar.ts), fast: the loss parts and heads of its modules, the
// total loss as the weighted sum of the module losses, the progress each sequential call reports, and that
// dispose frees what the model made.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomiseParams, setup, tf } from './helpers.js';
import { NestAR } from '../src/model/nestar.js';
import { sequenceToMorton } from '../src/model/tokenOrder.js';
import { Rng } from '../src/util/rng.js';
import type { SampleProgress } from '../src/model/generator.js';
import { mortonToRowCol } from '../src/model/zorder.js';
import { sinCos2d } from '../src/model/posEmbed.js';
import type { PatchFlowHead } from '../src/flow/patchFlowHead.js';

before(setup);

const tiny = { gridSize: 8, tokenDim: 2, width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2, mlpRatio: 2, numClasses: 3 };

test('modules: loss parts, tokens and prefixes, per-token head in module 1 only, the configured token order', () => {
  for (const [headKind, order] of [['patch', 'interleaved'], ['token', 'zorder']] as const) {
    const model = new NestAR({ ...tiny, headKind, order }, 0);
    assert.deepEqual(model.lossParts, [{ name: 'module 1', tokens: 4, hasPrefix: false }, { name: 'module 2', tokens: 12, hasPrefix: true }, { name: 'module 3', tokens: 48, hasPrefix: true }]);
    assert.deepEqual(model.heads.map((h) => h.kind), ['token', headKind, headKind]);
    assert.deepEqual(model.heads.map((h) => h.name), ['m1.head', 'm2.head', 'm3.head']);
    assert.deepEqual(Array.from(model.seqToMorton), Array.from(sequenceToMorton(order, 8)));
    assert.equal(model.numTokens, 64);
    assert.equal(model.nullClass, 3);
    assert.equal(model.sequentialSteps, 4 + 2 * 3);
    assert.equal(model.method, 'nestar');
    assert.deepEqual(model.backbones.map((b) => b.spec.blockSize), [1, 4, 16], 'each module\'s mask is block-causal over its own patch size');
    model.dispose();
  }
});

test('the total loss is the loss weights times the module losses, whatever the weighting', async () => {
  for (const lossWeights of ['tokens', 'modules', [0.5, 2, 3]] as const) {
    const model = new NestAR({ ...tiny, lossWeights: lossWeights as never }, 1);
    const r = new Rng(2);
    randomiseParams(model.params, r);
    const x = tf.tensor3d(Float32Array.from({ length: 2 * 64 * 2 }, () => r.normal()), [2, 64, 2]);
    const { total, perModule } = model.loss(x, Int32Array.from([0, 3]), new Rng(4));
    const w = lossWeights === 'tokens' ? [4 / 64, 12 / 64, 48 / 64] : lossWeights === 'modules' ? [1, 1, 1] : lossWeights;
    const parts = perModule.map((l) => l.dataSync()[0]!);
    assert.equal(parts.length, 3);
    assert.ok(parts.every((p) => p > 0 && Number.isFinite(p)));
    assert.ok(new Set(parts).size === 3, 'the modules\' losses differ');
    const want = parts.reduce((s, p, i) => s + w[i]! * p, 0);
    assert.ok(Math.abs(total.dataSync()[0]! - want) < 1e-5 * Math.max(1, want), `${JSON.stringify(lossWeights)}: ${total.dataSync()[0]} vs ${want}`);
    tf.dispose([x, total, ...perModule]);
    model.dispose();
  }
});

test('each sequential call reports its module, patch, tokens so far and call count; dispose frees every tensor the model made', async () => {
  const before = tf.memory().numTensors;
  const model = new NestAR({ ...tiny }, 2);
  const seen: Array<Omit<SampleProgress, 'canvas'>> = [];
  let canvasLength = 0;
  const res = await model.sample({ count: 2, classes: [0, 2], cfg: 2, odeSteps: 2, onStep: (p) => { const { canvas, ...rest } = p; canvasLength = canvas.length; seen.push(rest); } });
  const want: Array<[number, number, number]> = [[1, 1, 1], [1, 2, 2], [1, 3, 3], [1, 4, 4], [2, 1, 8], [2, 2, 12], [2, 3, 16], [3, 1, 32], [3, 2, 48], [3, 3, 64]];
  assert.deepEqual(seen, want.map(([module, patch, tokensSoFar], i) => ({ module, patch, tokensSoFar, calls: i + 1, totalCalls: 10 })));
  assert.equal(canvasLength, 2 * 64 * 2);
  assert.equal(res.tokens.length, 2 * 64 * 2);
  assert.equal(res.backboneCalls, 10);
  const shape = tf.tidy(() => model.backboneOutputs(1, tf.zeros([1, 12, 2]) as tf.Tensor3D, Int32Array.from([1])).shape);
  assert.deepEqual(shape, [1, 13, 8], 'module 2: the condition slot and one output per input token');
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('positions: each module\'s backbone slots and patch-head slots hold the grid positions of the tokens the token order puts there', () => {
  for (const order of ['interleaved', 'zorder'] as const) {
    const model = new NestAR({ ...tiny, headKind: 'patch', order }, 0);
    const pos = (i: number) => mortonToRowCol(sequenceToMorton(order, 8)[i]!);
    const range = (n: number, f: (j: number) => [number, number] | null) => Array.from({ length: n }, (_, j) => f(j));
    for (const [i, mod] of model.modules.entries()) {
      const spec = model.backbones[i]!.spec;
      assert.equal(spec.maxInputTokens, mod.inputTokens);
      assert.deepEqual(spec.ownPositions, range(mod.inputTokens, pos), `${order}, module ${mod.m}: input j sits at the position of token j`);
      // Slot 0 is the condition: in module 1 it predicts token 0 and slot j token j; later modules' slot j predicts token j - 1 + P.
      assert.deepEqual(spec.targetPositions, range(mod.inputTokens + 1, (j) => (mod.m === 1 ? pos(j) : j === 0 ? null : pos(j - 1 + mod.patch))), `${order}, module ${mod.m} targets`);
      if (mod.m > 1) assert.deepEqual((model.heads[i] as PatchFlowHead).spec.slotPositions, range(mod.patch, pos), `${order}, module ${mod.m}: head slots are patch 1's positions`);
    }
    // The position tables start at those positions' sin-cos features (what the spec is for).
    const tgt = model.params.vars.get('m3.pos_target')!.dataSync();
    assert.deepEqual(Array.from(tgt.slice(8, 16)), Array.from(sinCos2d(pos(16), 8, 8)));
    model.dispose();
  }
});
