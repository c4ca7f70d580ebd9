// Module coordination (issue #11): noisy context, generated prefixes, module weights, exposure-gap diagnostic.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, tf } from './helpers.js';
import { NestAR } from '../src/model/nestar.js';
import { createGenerator } from '../src/model/factory.js';
import { Rng } from '../src/util/rng.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { exportVariables } from '../src/train/weights.js';
import type { CoordStep } from '../src/model/coord.js';
import { METHODS } from '../src/model/generator.js';
import { spawnNestar } from './cliRun.js';

before(setup);
// Z-order: the probes compare a module's input with the Morton-ordered data directly.
const tiny = { gridSize: 4, tokenDim: 4, width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1, order: 'zorder' as const };
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-coord-'));

function randomTokens(B: number, n: number, D: number, seed: number): Float32Array {
  const r = new Rng(seed), a = new Float32Array(B * n * D);
  for (let i = 0; i < a.length; i++) a[i] = r.normal() * 0.5 + 0.2;
  return a;
}

/** Runs one loss evaluation (no gradients) and returns what each module's backbone was given. */
function probeInputs(model: { loss: NestAR['loss'] }, x: Float32Array, shape: [number, number, number], coord: CoordStep): Map<number, { input: Float32Array; s: Float32Array | null }> {
  const seen = new Map<number, { input: Float32Array; s: Float32Array | null }>();
  tf.tidy(() => {
    const labels = new Int32Array(shape[0]).fill(1);
    model.loss(tf.tensor3d(x, shape), labels, new Rng(3), { coord: { ...coord, probe: (i, inp, s) => seen.set(i, { input: inp.dataSync() as Float32Array, s }) } });
  });
  return seen;
}

test('noisy context: the prefix a module sees has the configured noise statistics, and s = 0 gives ground truth exactly', () => {
  const model = new NestAR({ ...tiny, contextNoise: true });
  const B = 1024, n = 16, D = 4, x = randomTokens(B, n, D, 1);
  const max = 0.6, zeroProb = 0.25;
  const seen = probeInputs(model, x, [B, n, D], { noise: { max, zeroProb } });
  assert.equal(seen.size, model.modules.length);
  for (const [i, { input, s }] of seen) {
    const T = model.modules[i]!.inputTokens;
    assert.ok(s && s.length === B, `module ${i + 1}: one noise level per sample`);
    // s: 0 with probability zeroProb, else U(0, max).
    const nonzero = Array.from(s).filter((v) => v > 0);
    const zeros = B - nonzero.length;
    assert.ok(Math.abs(zeros / B - zeroProb) < 0.05, `module ${i + 1}: ${zeros}/${B} samples with s = 0, expected ${zeroProb}`);
    const sMean = nonzero.reduce((a, b) => a + b, 0) / nonzero.length;
    const sVar = nonzero.reduce((a, b) => a + (b - sMean) ** 2, 0) / nonzero.length;
    assert.ok(Math.abs(sMean - max / 2) < 0.02 && Math.abs(sVar - max * max / 12) < 0.006, `module ${i + 1}: s mean ${sMean} var ${sVar}`);
    assert.ok(Math.max(...nonzero) <= max);
    // Given s, the input is (1−s)·x + s·ε: the standardised residual must be N(0, 1); s = 0 rows are exactly x.
    let sum = 0, sq = 0, count = 0;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < T * D; j++) {
        const gt = x[b * n * D + j]!, got = input[b * T * D + j]!;
        if (s[b] === 0) { assert.equal(got, gt); continue; }
        const e = (got - (1 - s[b]!) * gt) / s[b]!;
        sum += e; sq += e * e; count++;
      }
    }
    const mean = sum / count, variance = sq / count - mean * mean;
    assert.ok(Math.abs(mean) < 4 / Math.sqrt(count) && Math.abs(variance - 1) < 0.05, `module ${i + 1}: residual mean ${mean} variance ${variance} over ${count} values`);
  }
  // Noise switched off (max 0): every module sees exactly the ground-truth prefix.
  for (const [i, { input }] of probeInputs(model, x, [B, n, D], { noise: { max: 0, zeroProb: 0 } })) {
    const T = model.modules[i]!.inputTokens;
    for (let b = 0; b < B; b += 97) assert.deepEqual(Array.from(input.subarray(b * T * D, (b + 1) * T * D)), Array.from(x.subarray(b * n * D, b * n * D + T * D)));
  }
  model.dispose();
});

test('noisy context: s = 0 leaves a noise-conditioned backbone exactly as without the noise input', () => {
  const model = new NestAR({ ...tiny, contextNoise: true });
  // Give the noise embedding non-zero weights, so only s = 0 can make it vanish.
  for (const [name, v] of model.params.vars) if (name.includes('ctx_noise')) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', 5));
  const x = tf.tensor3d(randomTokens(2, 3, 4, 2), [2, 3, 4]);
  const a = model.backboneOutputs(0, x, new Int32Array([1, 2])).dataSync();
  const b = model.backbones[0]!.forward(x, model.oneHot([1, 2]), new Float32Array([0, 0])).dataSync();
  const c = model.backbones[0]!.forward(x, model.oneHot([1, 2]), new Float32Array([0.3, 0.3])).dataSync();
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.ok(a.some((v, i) => Math.abs(v - c[i]!) > 1e-4), 'a non-zero s must change the backbone output');
  tf.dispose(x);
  model.dispose();
});

test('generated prefix: module m sees the model\'s own estimate of its prefix, and no gradient flows into making it', () => {
  const model = new NestAR({ ...tiny, lossWeights: [0, 1] });
  // Perturb every parameter: zero-initialised output layers would otherwise block every gradient to the backbones.
  let seed = 100;
  for (const v of model.params.list()) v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', seed++))));
  const B = 8, n = 16, D = 4, xs = randomTokens(B, n, D, 4);
  const seen = probeInputs(model, xs, [B, n, D], { prefixProb: 1 });
  // Module 2's input: tokens [0, 4) are module 1's estimates (not ground truth), the rest ground truth.
  const { input } = seen.get(1)!;
  const T = model.modules[1]!.inputTokens, P = model.modules[1]!.patch;
  let prefixDiff = 0;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < T * D; j++) {
      const d = Math.abs(input[b * T * D + j]! - xs[b * n * D + j]!);
      if (j < P * D) prefixDiff = Math.max(prefixDiff, d); else assert.equal(d, 0);
    }
  }
  assert.ok(prefixDiff > 1e-3, 'the prefix must be the generated one');
  // Module 1's loss has weight 0, so module 1's parameters get gradient only through the prefix path: it must be zero.
  const x = tf.tensor3d(xs, [B, n, D]);
  const { value, grads } = model.params.grads(() => model.loss(x, new Int32Array(B).fill(1), new Rng(9), { coord: { prefixProb: 1 } }).total);
  let m1 = 0, m2 = 0;
  for (const [name, g] of grads) {
    const mx = Math.max(...Array.from(g.dataSync()).map(Math.abs));
    if (name.startsWith('m1.')) m1 = Math.max(m1, mx); else if (name.startsWith('m2.blocks')) m2 = Math.max(m2, mx);
  }
  assert.equal(m1, 0, 'module 1 parameters received gradient through the generated prefix');
  assert.ok(m2 > 0, "module 2's backbone must still train");
  tf.dispose([x, value, ...grads.values()]);
  model.dispose();
});

test('coordination for every method: the training step is deterministic for a seed, differs from an uncoordinated one, and the config is recorded', () => {
  const data = loadMnist({ split: 'train', limit: 32 });
  for (const kind of METHODS) {
    const runs = (['both', 'both', 'none', 'generated-prefix'] as const).map((mode) => {
      const cfg = resolveRunConfig({ model: { kind, width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, tokenizer: { patch: 8 },
        train: { steps: 3, batchSize: 8, seed: 4, checkpointEvery: 100, sampleEvery: 100 }, coord: { mode, prefixProb: 0.7 } });
      const t = Trainer.create(cfg, { runDir: tmp(), data });
      const losses = [t.trainStep().loss, t.trainStep().loss, t.trainStep().loss];
      const weights = exportVariables(t.model.params.vars);
      const state = t.checkpointState();
      t.dispose();
      return { losses, weights, state };
    });
    assert.deepEqual(runs[0]!.losses, runs[1]!.losses, kind);
    assert.ok(runs[0]!.losses.every(Number.isFinite), kind);
    for (const [k, v] of Object.entries(runs[0]!.weights)) assert.deepEqual(Array.from(v.data), Array.from(runs[1]!.weights[k]!.data), `${kind} ${k}`);
    // A trainer that ignored `coord` would give the uncoordinated run's losses (generated prefixes leave the
    // parameters as they are, so only the coordination itself can make the difference).
    assert.notDeepEqual(runs[3]!.losses.slice(1), runs[2]!.losses.slice(1), `${kind}: generated-prefix coordination changes the training losses`);
    assert.equal(runs[0]!.state.config.coord.mode, 'both');
    assert.equal((runs[0]!.state.config.model as { contextNoise?: boolean }).contextNoise, true);
  }
});

test('module weights: default is equal per token; bad weights name the setting', () => {
  const model = createGenerator({ ...tiny, kind: 'nextscale' });
  const x = tf.tensor3d(randomTokens(4, 16, 4, 6), [4, 16, 4]);
  const { total, perModule } = model.loss(x, new Int32Array(4), new Rng(1));
  const parts = model.lossParts, n = parts.reduce((a, p) => a + p.tokens, 0);
  const expected = perModule.reduce((a, l, i) => a + l.dataSync()[0]! * parts[i]!.tokens / n, 0);
  assert.ok(Math.abs(total.dataSync()[0]! - expected) < 1e-5);
  assert.equal(perModule.length, 3, 'next-scale reports one loss per scale');
  tf.dispose([x, total, ...perModule]);
  model.dispose();
  assert.throws(() => createGenerator({ ...tiny, lossWeights: [1, 2, 3] }), /lossWeights.*2 non-negative numbers/);
  assert.throws(() => resolveRunConfig({ coord: { mode: 'sometimes' as never } }), /coord\.mode must be one of/);
  assert.throws(() => resolveRunConfig({ coord: { mode: 'noisy-context' }, model: { contextNoise: false } }), /contradicts coord\.mode/);
});

test('nestar diagnose: a finite gap per module, and the JSON matches the printed table', () => {
  const dir = tmp();
  const cli = (...args: string[]) => spawnNestar(args);
  const t = cli('train', '--out', join(dir, 'run'), '--coord', 'noisy-context', '--steps', '4', '--batch-size', '8', '--limit', '16', '--width', '16',
    '--depth', '1', '--heads', '2', '--patch', '8', '--sample-every', '100', '--module-weights', 'modules');
  assert.equal(t.status, 0, t.stderr);
  const out = join(dir, 'gap.json');
  const r = cli('diagnose', '--checkpoint', join(dir, 'run'), '--n', '24', '--batch', '8', '--ode-steps', '3', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(readFileSync(out, 'utf8')) as { coord: string; batches: number; parts: Array<{ name: string; tokens: number; gtLoss: number; sampledLoss: number; gap: number; hasPrefix: boolean }> };
  assert.equal(report.coord, 'noisy-context');
  assert.equal(report.batches, 3);
  assert.equal(report.parts.length, 2);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('| module'));
  assert.equal(rows.length, report.parts.length);
  report.parts.forEach((p, i) => {
    for (const v of [p.gtLoss, p.sampledLoss, p.gap]) assert.ok(Number.isFinite(v), `${p.name}: ${v}`);
    const cells = rows[i]!.split('|').map((c) => c.trim());
    assert.deepEqual(cells.slice(1, 7), [p.name, String(p.tokens), p.hasPrefix ? 'yes' : 'none', p.gtLoss.toPrecision(4), p.sampledLoss.toPrecision(4), p.gap.toPrecision(4)]);
  });
  assert.equal(report.parts[0]!.gap, 0, 'module 1 has no prefix from other modules');
  assert.notEqual(report.parts[1]!.gap, 0, 'module 2 is conditioned on a sampled prefix');
  assert.match(readFileSync(join(dir, 'gap.md'), 'utf8'), /\| module 2 \|/);
});
