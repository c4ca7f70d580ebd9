import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, tf } from './helpers.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { exportVariables } from '../src/train/weights.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../src/util/safetensors.js';
import { atomicWriteFile } from '../src/util/atomicWrite.js';
import { Rng } from '../src/util/rng.js';

before(setup);
const tiny = { model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, train: { steps: 1000, batchSize: 8, checkpointEvery: 1000, sampleEvery: 1000, warmupSteps: 1 } };
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-rel-'));
const data = () => loadMnist({ split: 'train', limit: 32 });

test('a run folder is locked: a second training gets a clear error; a stale lock is taken over', () => {
  const dir = tmp();
  const a = Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() });
  assert.throws(() => Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() }), /is in use by another training \(pid \d+\)/);
  a.dispose();
  writeFileSync(join(dir, '.lock'), '999999999\n'); // a process that does not exist
  const b = Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() });
  assert.match(readFileSync(join(dir, '.lock'), 'utf8'), new RegExp(`^${process.pid} \\S+ \\S+\\n$`));
  b.dispose();
  assert.ok(!existsSync(join(dir, '.lock')));
});

test('non-finite loss never reaches the weights: steps are skipped and counted; 20 in a row stop the run with the step', () => {
  const bad = data();
  bad.data.fill(NaN);
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: tmp(), data: bad });
  const before = exportVariables(t.model.params.vars);
  for (let i = 0; i < 19; i++) assert.equal(t.trainStep().skipped, true);
  assert.equal(t.skippedSteps, 19);
  assert.throws(() => t.trainStep(), /training diverged: 20 consecutive steps with a non-finite loss or gradient \(last at step 19\)/);
  const after = exportVariables(t.model.params.vars);
  for (const [k, v] of Object.entries(before)) assert.deepEqual(after[k]!.data, v.data, k);
  assert.ok([...t.ema.shadow.values()].every((v) => v.dataSync().every(Number.isFinite)));
  t.dispose();
});

test('disk full while checkpointing: the run stops naming the path, the previous checkpoint stays intact', () => {
  const dir = tmp();
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() });
  t.trainStep();
  t.saveCheckpoint();
  t.trainStep();
  // The next write of latest.json goes through its temporary file: make that /dev/full (ENOSPC).
  symlinkSync('/dev/full', join(dir, `.latest.json.${process.pid}.tmp`));
  assert.throws(() => t.saveCheckpoint(), /could not write checkpoint .*step-0000002 \(ENOSPC.*the previous checkpoint is intact/);
  const { state } = loadCheckpoint(dir);
  assert.equal(state.step, 1);
  t.dispose();
  // atomicWriteFile itself: a failed write leaves the old file untouched.
  const f = join(dir, 'x.json');
  atomicWriteFile(f, 'old');
  symlinkSync('/dev/full', join(dir, `.x.json.${process.pid}.tmp`));
  assert.throws(() => atomicWriteFile(f, 'new'), /ENOSPC/);
  assert.equal(readFileSync(f, 'utf8'), 'old');
});

test('a kill while re-saving a step (old folder set aside, new one not yet in) still resumes from that step, and the next save puts it back', () => {
  const dir = tmp();
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() });
  t.trainStep();
  const ck = t.saveCheckpoint();
  // The state between saveCheckpoint's two renames: latest.json names step-0000001, which is set aside.
  const aside = join(dir, 'checkpoints', `.step-0000001.old-424242`);
  renameSync(ck, aside);
  assert.equal(loadCheckpoint(dir).state.step, 1);
  t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  assert.ok(existsSync(join(ck, 'state.json')) && !existsSync(aside), 'the set-aside checkpoint is back in place');
  assert.equal(loadCheckpoint(ck).state.step, 1);
  assert.equal(loadCheckpoint(dir).state.step, 2);
});

test("a checkpoint's config is validated on load, naming the field", () => {
  const dir = tmp();
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() });
  t.trainStep();
  const ck = t.saveCheckpoint();
  t.dispose();
  const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
  state.config.train.lr = -1;
  writeFileSync(join(ck, 'state.json'), JSON.stringify(state));
  assert.throws(() => Trainer.resume({ runDir: dir, data: data() }), /state.json: train.lr must be a positive number, got -1/);
  assert.ok(!existsSync(join(dir, '.lock')), 'a failed resume leaves no lock');
});

function validFile(): Uint8Array {
  return encodeSafetensors({ 'a.w': { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) }, 'a.b': { shape: [4], data: new Float32Array(4).fill(0.5) } }, { step: '3' });
}
function withHeader(h: string, data = new Uint8Array(64)): Uint8Array {
  const hb = Buffer.from(h, 'utf8'), out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return out;
}

test('the safetensors reader rejects hostile files with its own error', () => {
  const ok = validFile();
  const cases: Record<string, Uint8Array> = {
    truncated: ok.subarray(0, ok.length - 5),
    'header past the end': (() => { const b = Uint8Array.from(ok); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(),
    'huge declared size': withHeader(JSON.stringify({ x: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 64] } })),
    'offsets out of bounds': withHeader(JSON.stringify({ x: { dtype: 'F32', shape: [2], data_offsets: [60, 68] } })),
    overlapping: withHeader(JSON.stringify({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, y: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } })),
    'unknown dtype': withHeader(JSON.stringify({ x: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } })),
    'shape/bytes mismatch': withHeader(JSON.stringify({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } })),
    'non-UTF-8 header': withHeader('{"x":1}', new Uint8Array(0)).map((v, i) => (i === 9 ? 0xff : v)),
    'deeply nested JSON': withHeader('['.repeat(200000) + ']'.repeat(200000)),
    'not an object': withHeader('[1,2,3]'),
    'negative shape': withHeader(JSON.stringify({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } })),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    assert.throws(() => decodeSafetensors(bytes, name), (e: Error) => e instanceof SafetensorsError && e.message.startsWith(name), name);
  }
  assert.deepEqual(decodeSafetensors(ok).metadata, { step: '3' });
});

test('fuzz: 10,000 random mutations of a valid checkpoint each load or fail with SafetensorsError, each from the check for what was broken', () => {
  const ok = validFile();
  const rng = new Rng(2024);
  let loaded = 0, rejected = 0;
  // What each kind of mutation may be rejected for: a truncated file by a size check, an overwritten length
  // prefix by the header-length check, a damaged header by a header check (never a crash or a NaN-filled load).
  const size = /file too short|header length \d+ is past the end|offsets \[\d+, \d+\] outside the \d+ data bytes/;
  const header = /header is not valid (UTF-8|JSON)|header length|invalid data_offsets|has dtype|invalid shape|has shape \[[\d, ]*\] but \d+ bytes|offsets \[|header must|metadata|not an object|expected/;
  const expected = [header, size, header, /header length \d+ is past the end of the file or over \d+ bytes/];
  const fired = new Map<string, number>();
  for (let i = 0; i < 10000; i++) {
    const b = Uint8Array.from(ok);
    const kind = rng.int(4);
    if (kind === 0) for (let j = 0, m = 1 + rng.int(4); j < m; j++) b[rng.int(b.length)] = rng.int(256);
    let bytes: Uint8Array = b;
    if (kind === 1) bytes = b.subarray(0, rng.int(b.length));
    if (kind === 2) { const p = 8 + rng.int(160); b[p] = '{}[]":,0123456789e-'.charCodeAt(rng.int(19)); }
    if (kind === 3) new DataView(b.buffer).setUint32(rng.int(2) * 4, rng.nextU32(), true);
    try {
      const { tensors } = decodeSafetensors(bytes, 'fuzz');
      for (const [k, v] of Object.entries(tensors)) assert.equal(v.data.length, v.shape.reduce((x, y) => x * y, 1), `mutation ${i}: ${k} has as many values as its shape`);
      loaded++;
    } catch (e) {
      assert.ok(e instanceof SafetensorsError, `mutation ${i}: ${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, expected[kind]!, `mutation ${i} (kind ${kind}) rejected by an unrelated check`);
      const key = `${kind}: ${(e as Error).message.replace(/^fuzz: /, '').replace(/\d+/g, 'N').replace(/'[^']*'/g, 'T').slice(0, 40)}`;
      fired.set(key, (fired.get(key) ?? 0) + 1);
      rejected++;
    }
  }
  assert.equal(loaded + rejected, 10000);
  assert.ok(rejected > 1000 && loaded > 100, `loaded ${loaded}, rejected ${rejected}`);
  // Every check the mutations can reach fired at least once (a check that never fires would be untested).
  for (const want of ['1: file too short', '1: header length N is past', '1: tensor T has offsets', '0: header is not valid UTF-N', '2: header is not valid JSON', '2: tensor T has invalid data_offsets', '2: tensor T has dtype', '2: tensor T has an invalid shape', '3: header length N is past']) {
    assert.ok([...fired.keys()].some((k) => k.startsWith(want)), `no rejection '${want}…' among ${[...fired.keys()].join(' | ')}`);
  }
});

test('a few hundred training steps keep the tensor count, the WASM heap and RSS flat', () => {
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: tmp(), data: data() });
  // RSS is sampled after a full GC (npm test runs node with --expose-gc): without it, V8's garbage swings
  // RSS by ~100 MB between steps and would hide or fake a leak.
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = () => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0;
  const counts: number[] = [], rss: number[] = [], heaps: number[] = [];
  for (let i = 0; i < 300; i++) {
    t.trainStep();
    counts.push(tf.memory().numTensors);
    if (i % 25 === 24) {
      gc?.();
      rss.push(process.memoryUsage().rss);
      heaps.push(heap());
    }
  }
  assert.equal(counts[50], counts[299]);
  assert.equal(heaps[3], heaps.at(-1), 'the WASM heap (where tensors live) grew');
  // A leak raises RSS's floor; allocator and page-cache noise only adds spikes (±80 MB seen on a loaded
  // machine even with the heap flat), so compare the lowest sample of steps 100-150 with that of steps 250-300.
  const floor = (xs: number[]) => Math.min(...xs);
  const growthMB = (floor(rss.slice(-3)) - floor(rss.slice(3, 6))) / 2 ** 20;
  assert.ok(growthMB < 40, `RSS floor grew ${growthMB.toFixed(1)} MB from steps 100-150 to 250-300 (samples ${rss.map((r) => (r / 2 ** 20).toFixed(0)).join(', ')} MB)${gc ? '' : ' (no --expose-gc: GC noise included)'}`);
  t.dispose();
});
