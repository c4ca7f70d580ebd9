// The patch flow head's construction and its refusals (src/flow/patchFlowHead.ts), fast: what it rejects,
// and what it starts as. Its modelling, mixing and PyTorch checks are in patchHead.test.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { PatchFlowHead } from '../src/flow/patchFlowHead.js';
import { singleSegment } from '../src/flow/head.js';
import { ParamStore } from '../src/model/params.js';
import { sinCos2d } from '../src/model/posEmbed.js';
import { Rng } from '../src/util/rng.js';
import { PATCH_HEAD_STEP_KERNEL } from '../src/engine/fusedOps.js';

before(setup);

const slots = (n: number): Array<[number, number]> => Array.from({ length: n }, (_, j) => [0, j]);

test('a patch head refuses a width its attention heads do not divide, rows that do not split into samples, and slots past its table', () => {
  const ps = new ParamStore(1);
  assert.throws(() => new PatchFlowHead(ps, 'bad', { tokenDim: 2, condDim: 3, width: 30, depth: 1, heads: 4, slotPositions: slots(2), gridSize: 4 }), /^Error: bad: head width 30 is not divisible by its 4 attention heads$/);
  const head = new PatchFlowHead(ps, 'ph', { tokenDim: 2, condDim: 3, width: 8, depth: 1, heads: 2, slotPositions: slots(4), gridSize: 4 });
  const y = tf.zeros([6, 2]) as tf.Tensor2D, z = tf.zeros([6, 3]) as tf.Tensor2D;
  assert.throws(() => head.forward(y, 0.5, z, singleSegment(4)), /^Error: ph: 6 rows do not split into samples of 4 rows$/);
  assert.throws(() => head.prepare(z, singleSegment(4), [0, 0.5]), /^Error: ph: 6 rows do not split into samples of 4 rows$/);
  assert.throws(() => head.forward(y, 0.5, z, { segments: [{ slot: 2, length: 3 }] }), /^Error: ph: segment slots 2\.\.5 exceed its 4 positions$/);
  assert.throws(() => head.forward(y, 0.5, z, { segments: [{ slot: -1, length: 3 }] }), /^Error: ph: segment slots -1\.\.2 exceed its 4 positions$/);
  // The last slots of the table are usable: a segment that ends exactly at its end is fine.
  assert.deepEqual(head.forward(y, 0.5, z, { segments: [{ slot: 1, length: 3 }] }).shape, [6, 2]);
  assert.deepEqual(head.forward(y, 0.5, z, singleSegment(2, 2)).shape, [6, 2]);
  tf.dispose([y, z]);
  ps.dispose();
});

test('a patch head starts as the zero velocity field (adaLN-Zero), and its in-patch position table starts at the slots\' sin-cos features', () => {
  const ps = new ParamStore(2);
  const pos: Array<[number, number]> = [[0, 0], [1, 3], [2, 1]];
  const head = new PatchFlowHead(ps, 'ph', { tokenDim: 3, condDim: 4, width: 8, depth: 2, heads: 2, slotPositions: pos, gridSize: 4 });
  const r = new Rng(1);
  const y = tf.tensor2d(Float32Array.from({ length: 6 * 3 }, () => r.normal()), [6, 3]), z = tf.tensor2d(Float32Array.from({ length: 6 * 4 }, () => r.normal()), [6, 4]);
  const v = head.forward(y, Float32Array.from([0.1, 0.1, 0.1, 0.7, 0.7, 0.7]), z, singleSegment(3));
  assert.ok(v.dataSync().every((x) => x === 0), 'zero output before training');
  const table = ps.vars.get('ph.pos')!.dataSync();
  pos.forEach((p, j) => assert.deepEqual(Array.from(table.slice(j * 8, (j + 1) * 8)), Array.from(sinCos2d(p, 8, 4)), `slot ${j}`));
  assert.notDeepEqual(Array.from(table.slice(0, 8)), Array.from(table.slice(8, 16)));
  // Only the modulations and the output start at zero: every other weight matrix has been drawn.
  for (const [name, w] of ps.vars) {
    const zero = w.dataSync().every((x) => x === 0);
    const shouldBeZero = /ada_(shift|scale|gate)|final\.out/.test(name);
    if (!name.endsWith('.b')) assert.equal(zero, shouldBeZero, `${name} ${zero ? 'is' : 'is not'} zero`);
  }
  tf.dispose([y, z, v]);
  ps.dispose();
});

test('bound to its conditions, each velocity is one NestarPatchHeadStep kernel where the engine has it; dispose frees all that prepare made', async () => {
  const ps = new ParamStore(3);
  const head = new PatchFlowHead(ps, 'ph', { tokenDim: 2, condDim: 3, width: 8, depth: 2, heads: 2, slotPositions: slots(4), gridSize: 4 });
  const r = new Rng(2);
  const y = tf.tensor2d(Float32Array.from({ length: 8 * 2 }, () => r.normal()), [8, 2]), z = tf.tensor2d(Float32Array.from({ length: 8 * 3 }, () => r.normal()), [8, 3]);
  for (const layout of [singleSegment(4), { segments: [{ slot: 0, length: 1 }, { slot: 1, length: 3 }] }]) {
    const before = tf.memory().numTensors;
    const bound = head.prepare(z, layout, [0, 0.5]);
    const info = await tf.profile(() => { tf.tidy(() => { bound.velocity(y, 0.5); }); return []; });
    const steps = info.kernels.filter((k) => k.name === PATCH_HEAD_STEP_KERNEL).length;
    assert.equal(steps, tf.getKernel(PATCH_HEAD_STEP_KERNEL, tf.getBackend()) ? 1 : 0, `${layout.segments.length} segments: kernels ${info.kernels.map((k) => k.name)}`);
    bound.dispose();
    assert.equal(tf.memory().numTensors, before, 'dispose frees every tensor prepare made');
  }
  tf.dispose([y, z]);
  ps.dispose();
});
