import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr } from './helpers.js';
import { applyOpenBlasCoreType, coreTypeForFlags } from '../src/engine/openblasEnv.js';
import { nativeAddon, setNativeMatMul } from '../src/engine/backend.js';

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
    setNativeMatMul(false);
    const ref = run();
    setNativeMatMul(true);
    const got = run();
    ['forward', 'grad a', 'grad b'].slice(0, ref.length).forEach((what, i) => {
      const err = maxRelErr(got[i]!, ref[i]!);
      assert.ok(err <= 1e-5, `${what} for ${JSON.stringify(c)}: relative error ${err}`);
    });
  }
});
