// The small pure pieces of module coordination and position features (issue #23, mutation scope): the coord
// config's defaults and every rejection (naming the setting), the per-step coordination with its ramp, the
// per-module loss weights, the prefix estimate and the per-sample prefix swap, and the 2-D sin-cos features
// against the formula written out independently.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { COORD_MODES, coordinatedInput, coordStepAt, defaultCoordConfig, moduleWeightValues, prefixActive, prefixEstimate, resolveCoordConfig, usesNoise, usesPrefix } from '../src/model/coord.js';
import { singleSegment, type VelocityHead } from '../src/flow/head.js';
import { Rng } from '../src/util/rng.js';
import { ConfigError } from '../src/model/config.js';
import { sinCos2d } from '../src/model/posEmbed.js';

before(setup);

const rejects = (input: object, pattern: RegExp) => assert.throws(() => resolveCoordConfig(input as never), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), `${JSON.stringify(input)} must be rejected with ${pattern}`);

test('coord config: defaults fill what is left out; every field is checked and the error names it', () => {
  assert.deepEqual(resolveCoordConfig(), defaultCoordConfig);
  assert.deepEqual(resolveCoordConfig({ mode: 'both', prefixRampSteps: 7 }), { ...defaultCoordConfig, mode: 'both', prefixRampSteps: 7 });
  // The ends of each range are allowed.
  for (const f of ['noiseMax', 'noiseZeroProb', 'prefixProb'] as const) {
    for (const v of [0, 1]) assert.equal(resolveCoordConfig({ [f]: v })[f], v);
    for (const bad of [-0.01, 1.01, NaN, '0.5']) rejects({ [f]: bad }, new RegExp(`^coord\\.${f} must be in \\[0, 1\\], got `));
  }
  assert.equal(resolveCoordConfig({ prefixRampSteps: 0 }).prefixRampSteps, 0);
  for (const bad of [-1, 2.5, '3']) rejects({ prefixRampSteps: bad }, /^coord\.prefixRampSteps must be a non-negative integer, got /);
  rejects({ mode: 'noisy' }, /^coord\.mode must be one of none, noisy-context, generated-prefix, both, got "noisy"$/);
  rejects({ noiseMx: 0.2 }, /^coord\.noiseMx is not a known setting; known: mode, noiseMax, noiseZeroProb, prefixProb, prefixRampSteps$/);
  for (const mode of COORD_MODES) assert.equal(resolveCoordConfig({ mode }).mode, mode);
});

test('coord step: noise and prefix follow the mode; the prefix probability ramps linearly, then holds', () => {
  const want = { none: [false, false], 'noisy-context': [true, false], 'generated-prefix': [false, true], both: [true, true] } as const;
  for (const mode of COORD_MODES) {
    assert.deepEqual([usesNoise(mode), usesPrefix(mode)], want[mode], mode);
    const step = coordStepAt({ ...defaultCoordConfig, mode, noiseMax: 0.4, noiseZeroProb: 0.2, prefixProb: 0.8 }, 3);
    assert.deepEqual(step.noise, want[mode][0] ? { max: 0.4, zeroProb: 0.2 } : undefined, `${mode}: noise`);
    assert.equal(step.prefixProb, want[mode][1] ? 0.8 : undefined, `${mode}: prefix`);
    assert.equal(prefixActive(step), want[mode][1]);
  }
  const ramp = { ...defaultCoordConfig, mode: 'generated-prefix' as const, prefixProb: 0.6, prefixRampSteps: 10 };
  for (const [s, p] of [[0, 0], [4, 0.24], [10, 0.6], [25, 0.6]] as const) {
    assert.ok(Math.abs(coordStepAt(ramp, s).prefixProb! - p) < 1e-12, `step ${s}: ${coordStepAt(ramp, s).prefixProb} vs ${p}`);
  }
  assert.equal(prefixActive(coordStepAt(ramp, 0)), false, 'probability 0 at the ramp start is off');
  assert.equal(coordStepAt({ ...ramp, prefixRampSteps: 0 }, 0).prefixProb, 0.6, 'no ramp: the full probability from step 0');
  assert.equal(prefixActive(undefined), false);
  assert.equal(prefixActive({}), false);
});

test('module weights: tokens = share of the tokens, modules = one each, a list is checked and named', () => {
  assert.deepEqual(moduleWeightValues(undefined, [1, 3, 12]), [1 / 16, 3 / 16, 12 / 16]);
  assert.deepEqual(moduleWeightValues('tokens', [2, 6]), [0.25, 0.75]);
  assert.deepEqual(moduleWeightValues('modules', [1, 3, 12]), [1, 1, 1]);
  assert.deepEqual(moduleWeightValues([0, 2.5], [1, 3]), [0, 2.5]);
  for (const bad of [[1], [1, 2, 3], [1, -1], [1, NaN], [1, Infinity], [1, '2'], 'all']) {
    assert.throws(() => moduleWeightValues(bad as never, [1, 3]), (e: unknown) => e instanceof ConfigError
      && /^model\.lossWeights must be 'tokens', 'modules' or 2 non-negative numbers \(one per module\), got /.test(e.message), JSON.stringify(bad));
  }
  assert.throws(() => moduleWeightValues([1], [1, 3], 'scales'), /one per scale\)/);
});

test('2-D sin-cos position features match the formula: quarter of the channels per (axis, sin|cos), frequencies grid^(i/(q−1))', () => {
  const reference = (pos: [number, number], dim: number, grid: number) => {
    const q = Math.floor(dim / 4), out = new Array<number>(dim).fill(0);
    for (let axis = 0; axis < 2; axis++) {
      for (let i = 0; i < q; i++) {
        const freq = q === 1 ? 1 : grid ** (i / (q - 1));
        out[axis * 2 * q + i] = Math.sin(pos[axis]! * Math.PI * freq / grid);
        out[axis * 2 * q + q + i] = Math.cos(pos[axis]! * Math.PI * freq / grid);
      }
    }
    return out;
  };
  for (const [pos, dim, grid] of [[[1, 2], 8, 4], [[3, 0], 16, 8], [[0, 5], 10, 8], [[2, 1], 6, 4], [[7, 7], 4, 8]] as const) {
    const got = sinCos2d([pos[0], pos[1]], dim, grid);
    assert.equal(got.length, dim);
    const want = reference([pos[0], pos[1]], dim, grid);
    for (let k = 0; k < dim; k++) assert.ok(Math.abs(got[k]! - want[k]!) < 1e-6, `pos ${pos} dim ${dim} grid ${grid} channel ${k}: ${got[k]} vs ${want[k]}`);
  }
  // Row and column are told apart, and the no-position slot (the start token) is all zeros.
  assert.notDeepEqual(Array.from(sinCos2d([1, 2], 8, 4)), Array.from(sinCos2d([2, 1], 8, 4)));
  assert.deepEqual(Array.from(sinCos2d(null, 8, 4)), new Array(8).fill(0));
});

test('prefix estimate: one step from noise is ε + v(ε, 0, z); the ODE source integrates with Euler for its steps', () => {
  // v(y, t, z) = z − y: one Euler step over the whole path lands on z exactly; k Euler steps leave (1 − 1/k)^k of the noise.
  const head = { kind: 'token', forward: (y: tf.Tensor2D, _t: number | Float32Array, z: tf.Tensor2D) => tf.sub(z, y) } as unknown as VelocityHead;
  const N = 4000, z = tf.tidy(() => tf.mul(tf.ones([N, 1]), tf.tensor2d([[0, 0.5]]))) as tf.Tensor2D;
  const one = prefixEstimate(head, z, 2, { kind: 'one-step' }, 3, singleSegment(1));
  assert.deepEqual(one.shape, [N, 2]);
  assert.ok(Math.max(...Array.from(tf.abs(tf.sub(one, z)).dataSync())) < 1e-5, 'one step from noise with v = z − y gives z');
  const ode = prefixEstimate(head, z, 2, { kind: 'ode', steps: 4 }, 3, singleSegment(1));
  // y = z + 0.75⁴·(ε − z): the part left after the mean z·(1 − 0.75⁴) is 0.75⁴·ε.
  const r = tf.tidy(() => tf.sub(ode, tf.mul(z, 1 - 0.75 ** 4)).dataSync());
  const variance = Array.from(r).reduce((a, b) => a + b * b, 0) / r.length;
  // Euler: 0.75^8 = 0.100; Heun would leave 0.78125^8 = 0.139; no steps would leave 1.
  assert.ok(Math.abs(variance - 0.75 ** 8) < 0.01, `ODE prefix residual variance ${variance}, expected ${0.75 ** 8}`);
  tf.dispose([z, one, ode]);
});

test('coordinated input: each sample takes the generated prefix with the given probability; no noise level for a module without input', () => {
  const B = 2000, T = 3, D = 2;
  const gt = tf.zeros([B, T, D]) as tf.Tensor3D, gen = tf.ones([B, T, D]) as tf.Tensor3D;
  const { x, s } = coordinatedInput(1, gt, gen, { prefixProb: 0.3 }, new Rng(1));
  assert.equal(s, null);
  const v = x.dataSync();
  let generated = 0;
  for (let b = 0; b < B; b++) {
    const row = v.subarray(b * T * D, (b + 1) * T * D);
    assert.ok(row.every((e) => e === row[0]) && (row[0] === 0 || row[0] === 1), 'a sample takes the whole prefix from one source');
    generated += row[0]!;
  }
  assert.ok(Math.abs(generated / B - 0.3) < 0.04, `${generated}/${B} samples took the generated prefix, expected 30 %`);
  const empty = tf.zeros([4, 0, D]) as tf.Tensor3D;
  assert.equal(coordinatedInput(0, empty, null, { noise: { max: 0.5, zeroProb: 0 } }, new Rng(2)).s, null, 'no input tokens: no noise level');
  tf.dispose([gt, gen, x, empty]);
});
