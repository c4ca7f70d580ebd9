import { test, before } from 'node:test';
import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr, referenceLossCurve } from './helpers.js';
import { applyOpenBlasCoreType, coreTypeForFlags, openBlasThreads } from '../src/engine/openblasEnv.js';
import { nativeAddon, setNativeKernels } from '../src/engine/backend.js';
import { gelu, geluComposite } from '../src/model/layers.js';

let backend = '';
before(async () => { backend = await setup(); });

test('OpenBLAS core type follows the CPU flags and never overrides the environment', () => {
  assert.equal(coreTypeForFlags(new Set(['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx2', 'fma'])), 'SkylakeX');
  assert.equal(coreTypeForFlags(new Set(['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_bf16'])), 'Cooperlake');
  assert.equal(coreTypeForFlags(new Set(['avx', 'avx2', 'fma'])), 'Haswell');
  assert.equal(coreTypeForFlags(new Set(['sse2'])), undefined);
  const preset: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: 'Prescott', OPENBLAS_L2_SIZE: '512' };
  assert.deepEqual(applyOpenBlasCoreType(preset, new Set(['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'])), { coreType: 'Prescott', source: 'environment' });
  assert.deepEqual(preset, { OPENBLAS_CORETYPE: 'Prescott', OPENBLAS_L2_SIZE: '512' });
  const unset: NodeJS.ProcessEnv = {};
  assert.deepEqual(applyOpenBlasCoreType(unset, new Set(['avx2', 'fma'])), { coreType: 'Haswell', source: 'cpu-flags' });
  assert.equal(unset.OPENBLAS_CORETYPE, 'Haswell');
});

test('BLAS threads: the environment’s OPENBLAS_NUM_THREADS / OMP_NUM_THREADS win, else one per core', () => {
  assert.equal(openBlasThreads({}, 8), 8);
  assert.equal(openBlasThreads({ OPENBLAS_NUM_THREADS: '1' }, 8), 1);
  assert.equal(openBlasThreads({ OMP_NUM_THREADS: '3' }, 8), 3);
  assert.equal(openBlasThreads({ OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '3' }, 8), 2);
  assert.throws(() => openBlasThreads({ OPENBLAS_NUM_THREADS: 'many' }, 8), /OPENBLAS_NUM_THREADS="many": expected a positive integer/);
  if (backend === 'native') {
    // The running addon reports what the environment asked for (or one per core).
    assert.equal(nativeAddon()!.info().threads, openBlasThreads(process.env, availableParallelism()));
  }
});

// Awkward shapes: odd sizes, size 1, both transposes, batch > 1, batch broadcasting.
const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean; forwardOnly?: boolean }> = [
  { a: [7, 5], b: [5, 3], ta: false, tb: false },
  { a: [5, 7], b: [5, 3], ta: true, tb: false },
  { a: [7, 5], b: [3, 5], ta: false, tb: true },
  { a: [5, 7], b: [3, 5], ta: true, tb: true },
  { a: [1, 1], b: [1, 1], ta: false, tb: false },
  { a: [1, 9], b: [9, 1], ta: false, tb: false },
  { a: [3, 4, 13, 6], b: [3, 4, 6, 11], ta: false, tb: false },
  { a: [2, 3, 6, 13], b: [2, 3, 11, 6], ta: true, tb: true },
  // Batch broadcasting: forward only, since tfjs's own BatchMatMul gradient rejects broadcast shapes.
  { a: [4, 13, 6], b: [6, 5], ta: false, tb: false, forwardOnly: true },
  { a: [4, 6, 13], b: [5, 6], ta: true, tb: true, forwardOnly: true },
  { a: [1, 13, 6], b: [4, 6, 5], ta: false, tb: false, forwardOnly: true },
  // Big enough for the pack to cut the product into row blocks, with ragged last blocks, each transpose; a small
  // output over a long inner size (a weight gradient), cut along K.
  { a: [301, 70], b: [70, 90], ta: false, tb: false },
  { a: [70, 301], b: [90, 70], ta: true, tb: true },
  { a: [41, 70], b: [603, 70], ta: false, tb: true },
  { a: [70, 41], b: [70, 603], ta: true, tb: false },
  { a: [2500, 30], b: [2500, 45], ta: true, tb: false },
  // Fewer rows than columns over a long inner size: made as the transposed product, then transposed.
  { a: [2100, 70], b: [2100, 1000], ta: true, tb: false },
  { a: [70, 2100], b: [1000, 2100], ta: false, tb: true },
];

test('native BatchMatMul matches the WASM reference kernel, forward and gradient (rel. err <= 1e-5)', (t) => {
  if (backend !== 'native' || !nativeAddon()) {
    // Not a pass: this run has no native pack (no OpenBLAS/compiler), so the comparison cannot run.
    t.skip('native kernel pack not built on this machine');
    return;
  }
  let seed = 1;
  for (const c of cases) {
    const a = tf.randomNormal(c.a, 0, 1, 'float32', seed++), b = tf.randomNormal(c.b, 0, 1, 'float32', seed++);
    const dy = tf.tidy(() => tf.randomNormal(tf.matMul(a, b, c.ta, c.tb).shape, 0, 1, 'float32', seed++));
    const run = () => {
      if (c.forwardOnly) return [tf.matMul(a, b, c.ta, c.tb).dataSync()];
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, c.ta, c.tb), dy));
      const [ga, gb] = tf.grads(f)([a, b]);
      return [tf.matMul(a, b, c.ta, c.tb).dataSync(), ga!.dataSync(), gb!.dataSync()];
    };
    setNativeKernels(false);
    const ref = run();
    setNativeKernels(true);
    const got = run();
    ['forward', 'grad a', 'grad b'].slice(0, ref.length).forEach((what, i) => {
      const err = maxRelErr(got[i]!, ref[i]!);
      assert.ok(err <= 1e-5, `${what} for ${JSON.stringify(c)}: relative error ${err}`);
    });
  }
});

test('native path: Slice, SplitV and Concat are strided native copies over tfjs WASM\'s (its values exactly) and Sum over leading axes native column sums (1e-6), awkward boxes, other axes and dtypes included', (t) => {
  if (backend !== 'native' || !nativeAddon()) return void t.skip('native kernel pack not built on this machine');
  const x = tf.randomNormal([5, 7, 9], 0, 1, 'float32', 3), xi = tf.range(0, 60, 1, 'int32').reshape([6, 10]);
  const run = () => [
    tf.slice(x, [1, 2, 3], [3, 4, 5]), tf.slice(x, [0, 6, 0], [5, 1, 9]), tf.slice(x, [4, 0, 8], [1, 7, 1]),
    ...tf.split(x, [2, 4, 3], 2), ...tf.split(x, 5, 0), ...tf.split(tf.reshape(x, [35, 9]), 3, 1), tf.slice(xi, [1, 3], [4, 5]), ...tf.split(xi, 2, 1),
    tf.concat([x, tf.slice(x, [0, 0, 0], [5, 7, 2]), x], 2), tf.concat([x, x], 0), tf.concat([tf.reshape(x, [35, 9]), tf.ones([35, 1])], 1), tf.concat([xi, xi], 1),
  ].map((y) => { const v = Array.from(y.dataSync()); y.dispose(); return v; });
  const names = ['Slice', 'SplitV', 'Concat', 'Sum'], funcs = () => names.map((k) => tf.getKernel(k, tf.getBackend())!.kernelFunc);
  const wrapped = funcs();
  setNativeKernels(false);
  const ref = run(), stock = funcs();
  setNativeKernels(true);
  stock.forEach((f, i) => {
    assert.notEqual(wrapped[i], f, `the native path registers its own ${names[i]}`);
    assert.notEqual(funcs()[i], f, 'and registers it again');
  });
  assert.deepEqual(run(), ref);
  // Sums: leading axes (kept dims, keepDims) run native; all axes, trailing or inner axes and ints fall back.
  const sums = () => [tf.sum(x, 0), tf.sum(x, [0, 1]), tf.sum(x, [0, 1], true), tf.sum(x), tf.sum(x, 2), tf.sum(x, 1), tf.sum(xi, 0)].map((y) => { const v = y.dataSync().slice(); y.dispose(); return v; });
  setNativeKernels(false);
  const sref = sums();
  setNativeKernels(true);
  sums().forEach((v, i) => assert.ok(v.length === sref[i]!.length && maxRelErr(v, sref[i]!) < 1e-6, `sum ${i}: ${maxRelErr(v, sref[i]!)}`));
  // The native sum is the rows added in order in float32.
  const xv = x.dataSync(), seq = new Float32Array(9);
  for (let r = 0; r < 35; r++) for (let c = 0; c < 9; c++) seq[c] = r === 0 ? xv[c]! : Math.fround(seq[c]! + xv[r * 9 + c]!);
  const s01 = tf.sum(x, [0, 1]);
  assert.deepEqual(Array.from(s01.shape), [9]);
  assert.deepEqual(s01.dataSync(), seq);
  s01.dispose();
  tf.dispose([x, xi]);
});

test('native Tanh matches the WASM kernel (rel. err <= 1e-5), forward and gradient, NaN and large inputs included', (t) => {
  if (backend !== 'native' || !nativeAddon()) {
    t.skip('native kernel pack not built on this machine');
    return;
  }
  const xs = [tf.randomNormal([1000], 0, 3, 'float32', 3), tf.tensor1d([0, 1e-5, -3e-4, 4e-4, 0.5, -2, 9, -30, 1e30]), tf.randomNormal([3, 7, 5], 0, 1, 'float32', 4)];
  const run = () => xs.map((x) => [tf.tanh(x).dataSync(), tf.grad((v: tf.Tensor) => tf.sum(tf.tanh(v)))(x).dataSync()]);
  setNativeKernels(false);
  const ref = run();
  setNativeKernels(true);
  const got = run();
  ref.forEach((r, i) => r.forEach((a, j) => {
    const err = maxRelErr(got[i]![j]!, a);
    assert.ok(err <= 1e-5, `input ${i} ${j ? 'gradient' : 'forward'}: relative error ${err}`);
  }));
  assert.ok(Number.isNaN(tf.tanh(tf.tensor1d([NaN])).dataSync()[0]!), 'NaN propagates');
});

test('fused native GELU matches the composite tfjs GELU (rel. err <= 1e-5), forward and gradient', (t) => {
  if (backend !== 'native' || !nativeAddon()) {
    t.skip('native kernel pack not built on this machine');
    return;
  }
  const x = tf.concat([tf.randomNormal([4000], 0, 3, 'float32', 9), tf.tensor1d([0, 1e-5, -4e-4, 6, -6, 12, -40])]);
  const fused = [gelu(x).dataSync(), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(gelu(v), v)))(x).dataSync()];
  const ref = [geluComposite(x).dataSync(), tf.grad((v: tf.Tensor) => tf.sum(tf.mul(geluComposite(v), v)))(x).dataSync()];
  assert.ok(tf.engine().state.numTensors > 0);
  ['forward', 'gradient'].forEach((what, i) => {
    const err = maxRelErr(fused[i]!, ref[i]!);
    assert.ok(err <= 1e-5, `${what}: relative error ${err}`);
  });
  setNativeKernels(false);
  assert.deepEqual(gelu(x).dataSync(), geluComposite(x).dataSync(), 'without the pack, gelu falls back to the composite');
  setNativeKernels(true);
});

test('training the reference transformer gives the same loss curve on the native and WASM matmul paths (1e-4 over 20 steps)', async (t) => {
  if (backend !== 'native' || !nativeAddon()) {
    t.skip('native kernel pack not built on this machine');
    return;
  }
  setNativeKernels(false);
  const ref = await referenceLossCurve();
  setNativeKernels(true);
  const got = await referenceLossCurve();
  setNativeKernels(true);
  assert.ok(ref.at(-1)! < 0.9 * ref[0]!, 'the loss moves, so the comparison means something');
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(got[i]! - ref[i]!) / ref[i]! <= 1e-4, `step ${i}: native ${got[i]} vs wasm ${ref[i]}`);
});

test('WASM alias kernels: Identity and same-dtype Cast share the buffer (no copy), stay valid after the source is disposed, and other casts still convert', (t) => {
  if (tf.getBackend() !== 'wasm') return void t.skip(`backend is ${tf.getBackend()}, not wasm`);
  const x = tf.tensor2d([[1.5, -2.25], [3, 4.75]]);
  const buffers = tf.memory().numDataBuffers;
  const c = tf.clone(x), same = tf.cast(x, 'float32');
  assert.equal(tf.memory().numDataBuffers, buffers, 'no data buffer allocated for the aliases');
  assert.equal(c.dataId, x.dataId);
  assert.equal(same.dataId, x.dataId);
  x.dispose();
  assert.deepEqual(c.arraySync(), [[1.5, -2.25], [3, 4.75]], 'the alias outlives its source (reference counted)');
  const i = tf.cast(c, 'int32');
  assert.notEqual(i.dataId, c.dataId);
  assert.deepEqual(i.arraySync(), [[1, -2], [3, 4]]);
  // Gradients through saved (cloned) tensors are what they are without aliasing: d/dx sum(x^2 * sin x).
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.square(v), tf.sin(v))))(c);
  const want = [1.5, -2.25, 3, 4.75].map((v) => 2 * v * Math.sin(v) + v * v * Math.cos(v));
  assert.ok(maxRelErr(g.dataSync(), want) < 1e-5);
  tf.dispose([c, same, i, g]);
});

test('element-wise and row-wise kernels split over the thread pool give the one-thread bits (odd sizes past the split grain)', (t) => {
  const addon = nativeAddon();
  if (backend !== 'native' || !addon) return void t.skip('native kernel pack not built on this machine');
  const n = (1 << 20) + 7;
  const x = new Float32Array(n).map((_, i) => Math.sin(i * 0.37) * 3), dy = new Float32Array(n).map((_, i) => Math.cos(i * 0.11));
  const wide = new Float32Array(2100 * 1000).map((_, i) => Math.cos(i * 0.013));
  const run = (threads: number) => {
    addon.setThreads(threads);
    const out = Array.from({ length: 4 }, () => new Float32Array(n));
    addon.geluFwd(x, out[0]!);
    addon.siluBwd(x, dy, out[1]!);
    addon.gatedAdd(x, dy, x, out[2]!);
    addon.binary(0, out[3]!, x, dy, Float64Array.from([1, n, 1, 1, 1]));
    const N = 1000, C = 1027, yn = new Float32Array(N * C);
    addon.normScaleShift(x.subarray(0, N * C), dy.subarray(0, N * C), x.subarray(5, 5 + N * C), yn, N, C, 3, 1e-6);
    const rows = 2900, y2 = new Float32Array(rows * 350), cp = new Float32Array(1000 * 300);
    addon.binary(2, y2, x, dy.subarray(0, 350), Float64Array.from([2, rows, 350, 350, 1, 350, 1, 0, 1]));
    addon.copy(x, cp, Float64Array.from([2, 0, 17, 1000, 300, 300, 1, 1000, 1]));
    // Row blocks of a tall product, K chunks of a weight gradient; column sums; LayerNorm's gradient with shared gain (column sums
    // over row chunks); attention's (batch, head) pairs, forward and gradient.
    const mm = [new Float32Array(301 * 90), new Float32Array(30 * 45), new Float32Array(70 * 1000)];
    addon.sgemm(x, dy, mm[0]!, 1, 301, 90, 70, false, false, 0, 0, 0);
    addon.sgemm(x, dy, mm[1]!, 1, 30, 45, 2500, true, false, 0, 0, 0);
    addon.sgemm(x, wide, mm[2]!, 1, 70, 1000, 2100, true, false, 0, 0, 0); // made transposed (fewer rows than columns)
    const ng = [N * C, N * C, C, C].map((k) => new Float32Array(k));
    addon.normScaleShiftGrad(dy.subarray(0, N * C), x.subarray(0, N * C), dy.subarray(0, C), ng[0]!, ng[2]!, ng[3]!, N, C, 0, 1e-6);
    const [B, L, H, dh] = [3, 37, 5, 7], m = B * L * H * dh, att = [m, B * H * L * L, m, m, m].map((k) => new Float32Array(k));
    addon.attention(x.subarray(0, m), dy.subarray(0, m), x.subarray(9, 9 + m), new Float32Array(0), att[0]!, att[1]!, B, L, L, H, dh, 1040187392, 0);
    addon.attentionGrad(dy.subarray(3, 3 + m), x.subarray(0, m), dy.subarray(0, m), x.subarray(9, 9 + m), att[1]!, att[2]!, att[3]!, att[4]!, B, L, L, H, dh, 1040187392);
    // The residual stream's: r + x·w + b over row blocks, and the norm gradient plus the stream's with its column sums.
    const lr = new Float32Array(301 * 90), nr = [N * C, C, C, C].map((k) => new Float32Array(k));
    addon.linearResidual(x.subarray(0, 301 * 70), dy.subarray(0, 70 * 90), x.subarray(0, 90), dy.subarray(7, 7 + 301 * 90), lr, 301, 70, 90);
    addon.normResidualGrad(dy.subarray(0, N * C), x.subarray(0, N * C), dy.subarray(0, C), x.subarray(3, 3 + N * C), nr[0]!, nr[1]!, nr[2]!, nr[3]!, N, C, 0, 1e-6);
    const cs = new Float32Array(67);
    addon.sumRows(x.subarray(0, 3001 * 67), cs, 3001, 67);
    const opt = [0, 1, 2].map(() => new Float32Array(n));
    addon.adamw(x, dy, dy.map(Math.abs), dy, opt[0]!, opt[1]!, opt[2]!, Float32Array.from([1, 0.9, 0.1, 0.95, 0.05, 0.5, 0.5, 1e-8, 0.99, 1e-3, 0, 1]));
    return [...out, yn, y2, cp, ...opt, ...mm, ng[0]!, ng[2]!, ng[3]!, ...att, cs, lr, ...nr];
  };
  try {
    const one = run(1), three = run(3);
    one.forEach((r, i) => assert.deepEqual(three[i], r, `output ${i}`));
    assert.ok(one.every((r) => r.some((v) => v !== 0)), 'the kernels wrote their outputs');
  } finally {
    addon.setThreads(openBlasThreads(process.env, availableParallelism()));
  }
});
