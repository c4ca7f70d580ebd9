// Numerics against PyTorch: fixtures made by scripts/make_reference_fixtures.py (Debian python3-torch).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setup, tf, maxRelErr } from './helpers.js';
import { ParamStore } from '../src/model/params.js';
import { BlockCausalTransformer } from '../src/model/transformer.js';
import { FlowHead } from '../src/flow/flowHead.js';
import { assignVariables } from '../src/train/weights.js';

before(setup);
const ref = JSON.parse(readFileSync(new URL('./fixtures/reference.json', import.meta.url), 'utf8'));
const arrays = (w: Record<string, { shape: number[]; data: number[] }>) =>
  Object.fromEntries(Object.entries(w).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]));

test('a block-causal transformer block matches PyTorch to 1e-5 relative', () => {
  const r = ref.transformer, s = r.spec;
  const ps = new ParamStore(0);
  const T = s.maxInputTokens;
  const t = new BlockCausalTransformer(ps, 't', { ...s, ownPositions: Array.from({ length: T }, () => [0, 0]),
    targetPositions: Array.from({ length: T + 1 }, () => null), gridSize: 4 });
  assignVariables(ps.vars, arrays(r.weights), 'reference.json');
  const onehot = tf.oneHot(tf.tensor1d(r.labels, 'int32'), s.numClasses + 1).toFloat() as tf.Tensor2D;
  const out = t.forward(tf.tensor3d(Float32Array.from(r.x), r.xShape), onehot);
  assert.deepEqual(out.shape, r.outShape);
  const err = maxRelErr(out.dataSync(), r.out);
  assert.ok(err < 1e-5, `relative error ${err}`);
  t.dispose();
  ps.dispose();
});

test('the flow head matches PyTorch to 1e-5 relative', () => {
  const r = ref.flowHead;
  const ps = new ParamStore(0);
  const head = new FlowHead(ps, 'h', r.spec);
  assignVariables(ps.vars, arrays(r.weights), 'reference.json');
  const out = head.forward(tf.tensor2d(Float32Array.from(r.y), [r.n, r.spec.tokenDim]), Float32Array.from(r.t),
    tf.tensor2d(Float32Array.from(r.z), [r.n, r.spec.condDim]));
  const err = maxRelErr(out.dataSync(), r.out);
  assert.ok(err < 1e-5, `relative error ${err}`);
  ps.dispose();
});
