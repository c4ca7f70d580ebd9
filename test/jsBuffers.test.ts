// The JS-buffer backend ('native-js', src/engine/kernelHost.ts): the native kernels on JS-owned tensor buffers,
// so there is no 4 GiB wasm32 cap. Compared in one process with the path in use (tf.setBackend), and in a child
// process for the cap itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { referenceLossCurve, setup, tf } from './helpers.js';
import { addJsBufferBackend, nativeAddon, setNativeKernels } from '../src/engine/backend.js';
import { JsBufferBackend } from '../src/engine/kernelHost.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { exportVariables } from '../src/train/weights.js';
import { root } from './cliRun.js';

let base = '', js = '';
before(async () => {
  const name = await setup();
  base = tf.getBackend();
  if (name === 'native' && nativeAddon()) js = addJsBufferBackend();
});
after(() => { if (base) void tf.setBackend(base); });

const on = async <T>(backend: string, f: () => T | Promise<T>): Promise<T> => {
  await tf.setBackend(backend);
  try { return await f(); } finally { await tf.setBackend(base); }
};
const skipWithoutPack = (t: { skip: (m: string) => void }) => { if (!js) t.skip('native kernel pack not built on this machine'); return !js; };

test('its strided kernels (broadcasting binary ops, Slice, SplitV, PadV2, Sum) give the CPU kernels’ exact values on awkward shapes', async (t) => {
  if (skipWithoutPack(t)) return;
  let seed = 1;
  const pairs: Array<[number[], number[]]> = [[[3, 4], [3, 4]], [[3, 4], [4]], [[4], [3, 4]], [[2, 3, 4], [2, 1, 4]], [[2, 1, 4], [2, 3, 1]], [[1], [5, 2]],
    [[], [3]], [[2, 3, 4, 5], [3, 1, 5]], [[0, 3], [3]], [[5, 1], [1, 6]], [[5, 1], [5, 1]], [[2, 1, 3, 1], [2, 4, 1, 1]]];
  const x = tf.randomNormal([3, 5, 7, 2], 0, 1, 'float32', 99);
  const cases: Array<[string, () => tf.Tensor | tf.Tensor[]]> = [];
  for (const [sa, sb] of pairs) {
    const a = tf.randomNormal(sa, 0, 1, 'float32', seed++), b = tf.randomNormal(sb, 1, 1, 'float32', seed++);
    for (const op of ['add', 'sub', 'mul', 'div'] as const) cases.push([`${op} [${sa}] [${sb}]`, () => tf[op](a, b)]);
  }
  cases.push(['slice', () => tf.slice(x, [1, 0, 2, 0], [2, 5, 3, 2])], ['slice inner', () => tf.slice(x, [0, 2, 0, 1], [3, 2, 7, 1])],
    ['slice one', () => tf.slice(x, [2, 4, 6, 1], [1, 1, 1, 1])], ['slice empty', () => tf.slice(x, [0, 0, 0, 0], [0, 5, 7, 2])],
    ['split sizes', () => tf.split(x, [1, 3, 3], 2)], ['split even', () => tf.split(x, 3, 0)],
    ['pad', () => tf.pad(x, [[0, 0], [1, 0], [2, 1], [0, 3]], 0.5)], ['pad 1-d', () => tf.pad(tf.range(0, 5), [[2, 3]])],
    ['sum leading', () => tf.sum(x, [0, 1], true)], ['sum trailing', () => tf.sum(x, [2, 3])], ['sum middle', () => tf.sum(x, 1)], ['sum all', () => tf.sum(x)],
    ['slice gradient', () => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.slice(v, [1, 1, 0, 0], [2, 3, 7, 2]), 2)))(x)],
    ['int32 add (CPU kernel)', () => tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32'))]);
  for (const [what, f] of cases) {
    const got = await on(js, () => [f()].flat().map((r) => ({ shape: r.shape, values: Array.from(r.dataSync()) })));
    const want = await on('cpu', () => [f()].flat().map((r) => ({ shape: r.shape, values: Array.from(r.dataSync()) })));
    assert.deepEqual(got, want, what);
  }
});

test('the reference transformer trains to the WASM path’s loss curve (1e-4 over 20 steps)', async (t) => {
  if (skipWithoutPack(t)) return;
  setNativeKernels(false);
  const ref = await on(base, () => referenceLossCurve());
  setNativeKernels(true);
  const got = await on(js, () => referenceLossCurve());
  assert.ok(ref.at(-1)! < 0.9 * ref[0]!, 'the loss moves, so the comparison means something');
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(got[i]! - ref[i]!) / ref[i]! <= 1e-4, `step ${i}: native-js ${got[i]} vs wasm ${ref[i]}`);
});

const tinyModel = { width: 32, depth: 1, heads: 2, headWidth: 32, headDepth: 1 };
const shortCfg = () => resolveRunConfig({ model: { ...tinyModel, headKind: 'patch' }, train: { steps: 8, batchSize: 16, warmupSteps: 2, checkpointEvery: 4, sampleEvery: 1000 } });
const data = () => loadMnist({ split: 'train', limit: 64 });
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-test-'));

test('NestAR training: the native path’s losses (1e-4), a flat tensor count, no fresh buffers at steady state, and exact resume', async (t) => {
  if (skipWithoutPack(t)) return;
  const run = (steps: number) => {
    const tr = Trainer.create(shortCfg(), { runDir: tmp(), data: data() });
    const losses: number[] = [], counts: number[] = [], fresh: number[] = [];
    const be = tf.backend();
    for (let i = 0; i < steps; i++) {
      losses.push(tr.trainStep().loss);
      counts.push(tf.memory().numTensors);
      if (be instanceof JsBufferBackend) fresh.push(be.poolStats.fresh);
    }
    const weights = exportVariables(tr.model.params.vars);
    tr.dispose();
    return { losses, counts, fresh, weights };
  };
  const ref = await on(base, () => run(6));
  const got = await on(js, () => run(6));
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(got.losses[i]! - ref.losses[i]!) <= 1e-4 * Math.abs(ref.losses[i]!), `step ${i}: ${got.losses[i]} vs ${ref.losses[i]}`);
  assert.equal(got.counts[2], got.counts[5], `tensor count grew: ${got.counts.join(', ')}`);
  assert.ok(got.fresh[5]! > 0 && got.fresh[3] === got.fresh[5], `the output pool allocated fresh buffers at steady state: ${got.fresh.join(', ')}`);

  await tf.setBackend(js);
  try {
    const full = run(8).weights;
    const dir = tmp();
    const first = Trainer.create(shortCfg(), { runDir: dir, data: data() });
    for (let i = 0; i < 4; i++) first.trainStep();
    first.saveCheckpoint();
    first.trainStep();
    first.dispose();
    const resumed = Trainer.resume({ runDir: dir, data: data() });
    for (let i = 0; i < 4; i++) resumed.trainStep();
    const got2 = exportVariables(resumed.model.params.vars);
    resumed.dispose();
    for (const [name, arr] of Object.entries(full)) assert.deepEqual(got2[name]!.data, arr.data, `${name} differs after resume`);
  } finally {
    await tf.setBackend(base);
  }
});

test('pooled buffers are never reused while a read-out copy or a view of them is alive', async (t) => {
  if (skipWithoutPack(t)) return;
  await on(js, () => {
    const a = tf.randomNormal([4, 1000], 0, 1, 'float32', 5), b = tf.randomNormal([4, 1000], 0, 1, 'float32', 6);
    const x = tf.add(a, b); // a pooled native output
    const read = x.dataSync(), want = Float32Array.from(read);
    x.dispose();
    tf.dispose(Array.from({ length: 8 }, () => tf.sub(a, b))); // lands in x's buffer, now free
    assert.deepEqual(read, want, 'what dataSync returned is unchanged');
    const y = tf.add(a, b);
    const rows = tf.unstack(y); // the CPU kernel hands out views of y's buffer
    const rowWant = rows.map((r) => Float32Array.from(r.dataSync()));
    y.dispose();
    const later = Array.from({ length: 8 }, () => tf.sub(a, b)); // would land in y's buffer if it had been freed early
    rows.forEach((r, i) => assert.deepEqual(r.dataSync(), rowWant[i], `row ${i} unchanged`));
    tf.dispose([a, b, ...rows, ...later]);
  });
});

test('more than 4 GiB of tensors at once (the wasm32 cap) on native-js, added by the native kernels', (t) => {
  if (skipWithoutPack(t)) return;
  // Three 1.25 GiB tensors and a sum of two, 5 GiB live, in a child process so the memory goes back at once.
  const script = `
    import * as tf from '@tensorflow/tfjs-core';
    import { initBackend } from './src/engine/backend.ts';
    await initBackend('native-js');
    const n = 5 * 2 ** 26, parts = [1, 2, 3].map((v) => tf.fill([n], v));
    const sum = tf.add(parts[0], parts[2]);
    const at = (i) => tf.slice(sum, [i], [1]).dataSync()[0];
    console.log(JSON.stringify({ bytes: tf.memory().numBytes, first: at(0), mid: at(n >> 1), last: at(n - 1) }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { bytes: number; first: number; last: number; mid: number };
  assert.ok(out.bytes > 4 * 2 ** 30, `live tensor bytes ${out.bytes}`);
  assert.deepEqual([out.first, out.mid, out.last], [4, 4, 4]);
});
