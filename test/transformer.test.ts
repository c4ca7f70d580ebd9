// The block-causal transformer's own contract (issue #23, mutation scope): its mask for equal and unequal
// blocks written out, the errors that name what is wrong, the KV cache's bookkeeping across calls, and the
// context-noise input fed as [s, s²], the position tables' initial values.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr } from './helpers.js';
import { ParamStore } from '../src/model/params.js';
import { BlockCausalTransformer, disposeCache, type TransformerSpec } from '../src/model/transformer.js';
import { sinCos2d } from '../src/model/posEmbed.js';

before(setup);

const T = 6;
const spec = (over: Partial<TransformerSpec> = {}): TransformerSpec => ({
  width: 16, depth: 2, heads: 2, mlpRatio: 2, tokenDim: 3, numClasses: 4, maxInputTokens: T, blockSize: 2,
  ownPositions: Array.from({ length: T }, (_, i) => [i >> 2, i & 3]), targetPositions: Array.from({ length: T + 1 }, (_, j) => (j < T ? [j >> 2, j & 3] : null)), gridSize: 4,
  ...over,
});
const onehot = (labels: number[]) => tf.oneHot(tf.tensor1d(labels, 'int32'), 5).toFloat() as tf.Tensor2D;

test('the mask lets slot q see slot k iff block(k) <= block(q), the condition slot being block −1 (equal blocks and block ids)', () => {
  const cases: Array<[Partial<TransformerSpec>, (j: number) => number]> = [
    [{ blockSize: 2 }, (j) => Math.floor(j / 2)], [{ blockSize: 1 }, (j) => j], [{ blockIds: [0, 1, 1, 1, 2, 2] }, (j) => [0, 1, 1, 1, 2, 2][j]!],
  ];
  for (const [over, blockOfToken] of cases) {
    const t = new BlockCausalTransformer(new ParamStore(1), 't', spec(over));
    const m = t.mask.arraySync();
    const block = (slot: number) => (slot === 0 ? -1 : blockOfToken(slot - 1));
    for (let q = 0; q <= T; q++) for (let k = 0; k <= T; k++) assert.equal(m[q]![k], block(k) <= block(q) ? 0 : -1e9, `${JSON.stringify(over)}: mask[${q}][${k}]`);
    t.dispose();
    assert.ok(t.mask.isDisposed);
  }
});

test('errors name the transformer and what is wrong: block ids, too many tokens, nothing to process, noise levels', () => {
  assert.throws(() => new BlockCausalTransformer(new ParamStore(1), 'm2', spec({ blockIds: [0, 1, 2] })), /^Error: m2: 3 block ids for 6 input tokens$/);
  const ps = new ParamStore(2), t = new BlockCausalTransformer(ps, 'm3', spec({ noiseInput: true }));
  const c = onehot([1, 2]);
  assert.throws(() => t.forward(tf.zeros([2, T + 1, 3]) as tf.Tensor3D, c), /^Error: m3: 7 input tokens exceed the maximum 6$/);
  assert.equal(t.forward(tf.zeros([2, T, 3]) as tf.Tensor3D, c).shape[1], T + 1, 'the full length is allowed');
  assert.throws(() => t.forward(tf.zeros([2, 1, 3]) as tf.Tensor3D, c, new Float32Array(3)), /^Error: m3: 3 noise levels for 2 samples$/);
  const cache = t.newCache();
  t.extend(cache, tf.zeros([2, 4, 3]) as tf.Tensor3D, c);
  assert.throws(() => t.extend(cache, tf.zeros([2, 3, 3]) as tf.Tensor3D, c), /^Error: m3: 7 input tokens exceed the maximum 6$/);
  assert.throws(() => t.extend(cache, null, c), /^Error: m3: nothing to process$/);
  disposeCache(cache);
  ps.dispose(); t.dispose(); c.dispose();
});

test('KV cache: the first call adds the condition slot, later ones only their tokens; outputs equal the full pass; disposeCache frees and resets', () => {
  const ps = new ParamStore(4), t = new BlockCausalTransformer(ps, 't', spec());
  // Random weights everywhere (zero biases and unit norms would hide offsets between slots).
  let seed = 11;
  for (const v of ps.list()) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', seed++));
  const x = tf.randomNormal([2, T, 3], 0, 1, 'float32', 5) as tf.Tensor3D, c = onehot([0, 3]);
  const full = t.forward(x, c).arraySync();
  const cache = t.newCache();
  assert.deepEqual([cache.k.length, cache.length], [0, 0]);
  const first = t.extend(cache, null, c);
  assert.deepEqual(first.shape, [2, 1, 16], 'the first call with no tokens returns the condition slot only');
  assert.equal(cache.length, 1);
  const rows: number[][][] = [[...first.arraySync()[0]!], [...first.arraySync()[1]!]];
  for (const [from, len] of [[0, 2], [2, 2], [4, 2]] as const) {
    const out = t.extend(cache, tf.slice(x, [0, from, 0], [2, len, 3]), c);
    assert.equal(out.shape[1], len);
    assert.equal(cache.length, 1 + from + len);
    assert.deepEqual(cache.k.map((k) => k.shape[1]), [cache.length, cache.length], 'each layer caches every slot so far');
    out.arraySync().forEach((r, b) => rows[b]!.push(...r));
  }
  assert.ok(maxRelErr(rows.flat(2), full.flat(2)) < 1e-4, `cached outputs vs full pass: ${maxRelErr(rows.flat(2), full.flat(2))}`);
  const before = tf.memory().numTensors;
  disposeCache(cache);
  assert.equal(tf.memory().numTensors, before - 4, 'k and v of both layers freed');
  assert.deepEqual([cache.k.length, cache.v.length, cache.length], [0, 0, 0]);
  ps.dispose(); t.dispose(); tf.dispose([x, c]);
});

test('position tables start as the sin-cos features: own position per input token (none for the condition slot), target position per slot', () => {
  const ps = new ParamStore(8), sp = spec({ targetPositions: [[0, 0], null, [1, 3], [0, 2], null, [1, 1], [1, 0]] }), t = new BlockCausalTransformer(ps, 't', sp);
  const own = ps.get('t.pos_own').arraySync() as number[][], tgt = ps.get('t.pos_target').arraySync() as number[][];
  assert.equal(own.length, T + 1);
  const close = (a: number[], b: Float32Array, what: string) => assert.ok(a.every((v, i) => Math.abs(v - b[i]!) < 1e-6), what);
  for (let j = 0; j <= T; j++) {
    close(own[j]!, sinCos2d(j === 0 ? null : sp.ownPositions[j - 1]!, 16, 4), `own position of slot ${j}`);
    close(tgt[j]!, sinCos2d(sp.targetPositions[j] ?? null, 16, 4), `target position of slot ${j}`);
  }
  assert.ok(own[3]!.some((v) => v !== 0) && tgt[2]!.some((v) => v !== 0) && tgt[1]!.every((v) => v === 0));
  ps.dispose(); t.dispose();
});

test('context noise enters as a zero-initialised embedding of [s, s²] on every slot', () => {
  const ps = new ParamStore(6), t = new BlockCausalTransformer(ps, 't', spec({ noiseInput: true, depth: 1 }));
  const emb = ps.get('t.ctx_noise.w');
  assert.deepEqual(emb.shape, [2, 16]);
  assert.ok(emb.dataSync().every((v) => v === 0), 'zero-initialised: a fresh model ignores s');
  const x = tf.randomNormal([2, 3, 3], 0, 1, 'float32', 2) as tf.Tensor3D, c = onehot([1, 1]);
  const s = new Float32Array([0.5, 0.2]);
  const plain = t.forward(x, c).arraySync();
  assert.deepEqual(t.forward(x, c, s).arraySync(), plain);
  // Sample b's slots move by s_b·w1 + s_b²·w2: compare with a model whose in-projection bias carries it.
  emb.assign(tf.tensor2d([Array.from({ length: 16 }, (_, i) => Math.sin(i)), Array.from({ length: 16 }, (_, i) => (i % 3) - 1)]));
  const noisy = t.forward(x, c, s).arraySync();
  const bias = ps.get('t.in.b'), cls = ps.get('t.class.w');
  for (let b = 0; b < 2; b++) {
    // Shift the class embedding (the condition slot) and the input bias (token slots) by s_b²·w2 instead.
    const shift = tf.tidy(() => tf.add(tf.mul(s[b]!, emb.slice([0, 0], [1, 16]).reshape([16])), tf.mul(s[b]! * s[b]!, emb.slice([1, 0], [1, 16]).reshape([16]))));
    const b0 = bias.clone(), c0 = cls.clone();
    bias.assign(tf.add(b0, shift)); cls.assign(tf.add(c0, shift));
    const want = t.forward(x, c).arraySync()[b]!;
    assert.ok(maxRelErr(noisy[b]!.flat(), want.flat()) < 1e-4, `sample ${b}: ${maxRelErr(noisy[b]!.flat(), want.flat())}`);
    bias.assign(b0); cls.assign(c0); tf.dispose([shift, b0, c0]);
  }
  ps.dispose(); t.dispose(); tf.dispose([x, c]);
});
