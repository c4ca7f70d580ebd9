// Samplers against closed forms: Euler and Heun on the exact velocity of Gaussian data (Heun's error
// shrinks quadratically in the step), the time grid, the Euler–Maruyama SDE's marginal, and the
// classifier-free guidance combination, its interval and its linear schedule.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { integrateFlow, timeGrid, type OdeSolver } from '../src/flow/flowMatching.js';
import { guide, guidanceAt, sampleHead } from '../src/model/generator.js';
import { prepareByForward, singleSegment, type VelocityHead } from '../src/flow/head.js';
import { readSamplingFlags } from '../src/cli/samplingFlags.js';

before(setup);

// x ~ N(mu, s^2) on the path y_t = (1-t)·eps + t·x: v(y, t) = mu + (t·s² − (1−t))/σ_t² · (y − t·mu), σ_t² = (1−t)² + t²s²,
// and the flow carries y_0 to y_1 = mu + s·y_0 exactly.
const mu = 1.5, s = 0.4;
const exactV = (y: tf.Tensor2D, t: number) => tf.tidy(() => {
  const sig2 = (1 - t) ** 2 + t * t * s * s;
  return tf.add(mu, tf.mul(tf.sub(y, t * mu), (t * s * s - (1 - t)) / sig2)) as tf.Tensor2D;
});

function maxError(solver: OdeSolver, steps: number, timeShift = 1): number {
  const N = 64;
  const y0 = tf.randomNormal([N, 1], 0, 1, 'float32', 3).dataSync();
  const { y } = integrateFlow(exactV, [N, 1], { steps, solver, temperature: 1, seed: 3, timeShift });
  const out = y.dataSync();
  y.dispose();
  let e = 0;
  for (let i = 0; i < N; i++) e = Math.max(e, Math.abs(out[i]! - (mu + s * y0[i]!)));
  return e;
}

test('Euler converges at first order and Heun at second order to the exact flow map', () => {
  const e1 = [8, 16, 32].map((n) => maxError('euler', n)), h = [8, 16, 32].map((n) => maxError('heun', n));
  for (let i = 1; i < 3; i++) {
    const re = e1[i - 1]! / e1[i]!, rh = h[i - 1]! / h[i]!;
    assert.ok(re > 1.6 && re < 2.6, `Euler error ratio on halving the step: ${re} (errors ${e1})`);
    assert.ok(rh > 3 && rh < 5.5, `Heun error ratio on halving the step: ${rh} (errors ${h})`);
  }
  assert.ok(h[2]! < e1[2]! / 10, `Heun ${h[2]} vs Euler ${e1[2]} at 32 steps`);
  // A shifted grid converges too (first order for Euler).
  const r3 = maxError('euler', 32, 3) / maxError('euler', 64, 3);
  assert.ok(r3 > 1.6 && r3 < 2.6, `Euler on a shift-3 grid: error ratio ${r3}`);
  assert.notEqual(maxError('euler', 32, 3), maxError('euler', 32), 'the shifted grid is the one integrated');
});

test('the time grid runs 0 -> 1, is uniform at shift 1 and front-loads the noise end for shift > 1', () => {
  const u = timeGrid(4);
  assert.deepEqual(Array.from(u), [0, 0.25, 0.5, 0.75, 1]);
  const g = timeGrid(8, 3);
  assert.equal(g[0], 0); assert.equal(g[8], 1);
  for (let i = 1; i <= 8; i++) assert.ok(g[i]! > g[i - 1]!);
  assert.ok(g[1]! - g[0]! < g[8]! - g[7]!, 'shift 3: smaller steps near the noise end');
  assert.throws(() => timeGrid(4, 0), /positive/);
});

test('the Euler–Maruyama SDE sampler reaches the data marginal and is stochastic per seed', () => {
  const N = 20000;
  // The residual y_1 − (mu + s·y_0) is what the SDE's noise adds: an ODE solver leaves it at its (tiny) error.
  const residuals: Float32Array[] = [];
  const run = (seed: number, sdeNoise?: number) => {
    let y0: ArrayLike<number> = [];
    const { y } = integrateFlow(exactV, [N, 1], { steps: 200, solver: 'sde', temperature: 1, seed, sdeNoise, onStart: (s0) => { y0 = s0.dataSync().slice() as Float32Array; } });
    const d = y.dataSync() as Float32Array;
    y.dispose();
    residuals.push(d.map((v, i) => v - (mu + s * y0[i]!)));
    return d;
  };
  const a = run(1, 1), b = run(1), c = run(2, 1);
  assert.deepEqual(a, b, 'same seed, same samples; sdeNoise defaults to 1');
  assert.notDeepEqual(a, c);
  const [ra, , rc] = residuals as [Float32Array, Float32Array, Float32Array];
  const rms = (r: Float32Array) => Math.sqrt(r.reduce((q, v) => q + v * v, 0) / r.length);
  assert.ok(rms(ra) > 0.1, `the SDE injects noise: residual rms ${rms(ra)} against the ODE flow map`);
  // Two seeds draw independent noise along the path, so their residuals are uncorrelated.
  const corr = ra.reduce((q, v, i) => q + v * rc[i]!, 0) / (ra.length * rms(ra) * rms(rc));
  assert.ok(Math.abs(corr) < 0.05, `residuals of seeds 1 and 2 correlate: ${corr}`);
  let m = 0, v = 0;
  for (const x of a) m += x / N;
  for (const x of a) v += (x - m) ** 2 / (N - 1);
  assert.ok(Math.abs(m - mu) < 0.03, `SDE mean ${m} vs ${mu}`);
  assert.ok(Math.abs(Math.sqrt(v) - s) < 0.03, `SDE std ${Math.sqrt(v)} vs ${s}`);
});

/** A head whose velocity is the first column of its condition: v_c = a, v_u = b makes guidance exact arithmetic. */
const constantHead: VelocityHead = {
  kind: 'token', name: 'const',
  forward: (y, _t, z) => tf.tidy(() => tf.add(tf.mul(y, 0), tf.slice(z, [0, 0], [-1, 1])) as tf.Tensor2D),
  prepare: (z, layout) => prepareByForward(constantHead, z, layout),
};

test('guidance combines v = v_u + w (v_c − v_u), only inside its interval; the linear schedule ramps w from 1', () => {
  const a = 0.7, b = -0.2, w = 3;
  const z = tf.tensor2d([[a], [b]]);
  const one = (opts: object) => {
    const { y } = sampleHead(constantHead, z, 1, true, w, { count: 1, odeSteps: 1, temperature: 0, ...opts }, 0, singleSegment(1));
    const v = y.dataSync()[0]!;
    y.dispose();
    return v;
  };
  assert.ok(Math.abs(one({}) - (b + w * (a - b))) < 1e-6, `guided ${one({})}`);
  // One Euler step is taken at t = 0: an interval that starts later leaves it unguided (the conditional velocity).
  assert.ok(Math.abs(one({ cfgInterval: [0.5, 1] }) - a) < 1e-6);
  assert.ok(Math.abs(one({ cfgInterval: [0, 0.5] }) - (b + w * (a - b))) < 1e-6);
  z.dispose();
  // The plain-ops combination (engines without the fused guidance kernel) on its own: v = [v_c; v_u].
  const vv = tf.tensor2d([[a, 2 * a], [b, 2 * b]]);
  const g = guide(vv, w).dataSync();
  assert.ok(Math.abs(g[0]! - (b + w * (a - b))) < 1e-6 && Math.abs(g[1]! - 2 * (b + w * (a - b))) < 1e-6, `plain guidance ${g}`);
  vv.dispose();
  assert.equal(guidanceAt({ count: 1, cfg: 3 }, 0.5), 3);
  assert.equal(guidanceAt({ count: 1, cfg: 3, cfgSchedule: 'linear' }, 0), 1);
  assert.equal(guidanceAt({ count: 1, cfg: 3, cfgSchedule: 'linear' }, 0.5), 2);
});

test('--solver takes each of euler, heun and sde, defaults to euler, and refuses anything else naming the choices', () => {
  for (const solver of ['euler', 'heun', 'sde'] as const) assert.equal(readSamplingFlags({ solver }).solver, solver);
  assert.equal(readSamplingFlags({}).solver, 'euler');
  assert.throws(() => readSamplingFlags({ solver: 'rk4' }), /--solver expects one of euler, heun, sde, got 'rk4'/);
});
