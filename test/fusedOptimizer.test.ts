// Issue #19: the native pack's fused AdamW and EMA kernels give the op-by-op path's bits (same float32
// arithmetic, same order) on awkward shapes, with and without weight decay and gradient scaling, and the
// training step really runs them (one kernel per parameter instead of ~15).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randnTensor, setup, tf } from './helpers.js';
import { ADAMW_KERNEL, EMA_KERNEL, SUM_SQUARES_KERNEL } from '../src/engine/fusedOps.js';
import { AdamW, globalNormScale } from '../src/train/optimizer.js';
import { Ema } from '../src/train/ema.js';
import { Rng } from '../src/util/rng.js';
import { engineFlags } from '../src/engine/flags.js';

let backend = '';
before(async () => { backend = await setup(); });

// Names decide weight decay (".w" decays); shapes include a scalar-like vector, odd sizes and an empty tensor.
const SHAPES: Record<string, number[]> = { 'a.w': [3, 5], 'a.b': [7], 'c.w': [1, 1, 13], 'n.gain': [1], 'e.w': [2, 0], 'big.w': [33, 17] };

function setupRun(seed: number) {
  const rng = new Rng(seed);
  const randn = (shape: number[], s: number) => randnTensor(rng, shape, s);
  const vars = new Map(Object.entries(SHAPES).map(([k, s]) => [k, tf.variable(randn(s, 0.5), true)]));
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 });
  const ema = new Ema(vars, 0.995);
  const dispose = () => { opt.dispose(); ema.dispose(); for (const v of vars.values()) v.dispose(); };
  return { randn, vars, opt, ema, dispose };
}

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

function run(fused: boolean): Record<'p0' | 'p' | 'm' | 'v' | 'ema', Float32Array[]> {
  const { randn, vars, opt, ema, dispose } = setupRun(11);
  const snap = (m: Map<string, tf.Variable>) => [...m.values()].map((x) => x.dataSync() as Float32Array);
  const p0 = snap(vars);
  engineFlags.fusedOptimizer = fused;
  try {
    for (let step = 0; step < 6; step++) {
      const grads = new Map([...vars].map(([k, v]) => [k, randn(v.shape, step === 3 ? 40 : 1)]));
      // Alternate unscaled and clipped-style scaled updates, with a learning rate that changes every step.
      opt.apply(grads, 3e-3 * (1 + step), step % 2 ? 0.37 : 1);
      ema.update(step);
      tf.dispose([...grads.values()]);
    }
    return { p0, p: snap(vars), m: snap(opt.m), v: snap(opt.v), ema: snap(ema.shadow) };
  } finally {
    engineFlags.fusedOptimizer = true;
    dispose();
  }
}

test('fused AdamW and EMA give the bits of the op-by-op path on awkward shapes (decay, gradient scale, changing lr)', () => {
  if (backend !== 'native') {
    assert.equal(tf.getKernel(ADAMW_KERNEL, tf.getBackend()), undefined, 'only the native pack registers the fused kernels');
    return;
  }
  const a = run(true), b = run(false);
  for (const key of ['p', 'm', 'v', 'ema'] as const) {
    a[key].forEach((x, i) => assert.ok(bytes(x).equals(bytes(b[key][i]!)), `${key} of ${Object.keys(SHAPES)[i]} differs between the fused and op-by-op paths`));
  }
  a.p.forEach((x, i) => assert.ok(x.length === 0 || !bytes(x).equals(bytes(a.p0[i]!)), `${Object.keys(SHAPES)[i]} was updated`));
});

test('the fused path runs one AdamW and one EMA kernel per parameter and none of the op-by-op kernels', async () => {
  if (backend !== 'native') return void assert.equal(tf.getKernel(EMA_KERNEL, tf.getBackend()), undefined);
  const { vars, opt, ema, dispose } = setupRun(3);
  const grads = new Map([...vars].map(([k, v]) => [k, tf.onesLike(v)]));
  const info = await tf.profile(() => { opt.apply(grads, 1e-3, 0.5); ema.update(9); return []; });
  const count = (n: string) => info.kernels.filter((k) => k.name === n).length;
  assert.equal(count(ADAMW_KERNEL), vars.size);
  assert.equal(count(EMA_KERNEL), vars.size);
  assert.deepEqual(['Sqrt', 'RealDiv', 'Multiply', 'Add', 'Sub'].filter((n) => count(n) > 0), []);
  const norm = await tf.profile(() => { globalNormScale(grads, 1); return []; });
  assert.deepEqual(norm.kernels.map((k) => k.name), [SUM_SQUARES_KERNEL], 'the norm is one kernel');
  tf.dispose([...grads.values()]);
  dispose();
});

test('the fused gradient norm gives the bits of tf.sqrt(tf.addN(tf.sum(g²))) and the same clipping scale', () => {
  if (backend !== 'native') return;
  const { randn, vars, dispose } = setupRun(5);
  // A long tensor, where any change of summation order would show in the last bits.
  // Many small ones of magnitudes 1e-3..1e3 too, where adding their sums in double instead of float32 would show.
  const grads = new Map([...[...vars].map(([k, v]): [string, tf.Tensor] => [k, randn(v.shape, 3)]), ['long', randn([100_003], 1)],
    ...Array.from({ length: 300 }, (_, i): [string, tf.Tensor] => [`s${i}`, randn([3], Math.pow(10, (i % 7) - 3))])]);
  const norms = [true, false].map((fused) => {
    engineFlags.fusedOptimizer = fused;
    try { return [globalNormScale(grads, 1), globalNormScale(grads, 1e9)]; } finally { engineFlags.fusedOptimizer = true; }
  });
  assert.deepEqual(norms[0], norms[1]);
  assert.ok(norms[0]![0]!.scale < 1 && norms[0]![1]!.scale === 1, JSON.stringify(norms[0]));
  tf.dispose([...grads.values()]);
  dispose();
});
