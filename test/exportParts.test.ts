// `nestar export` in-process and fast (src/train/exportCheckpoint.ts): what an export holds, F16 storage,
// which targets it may replace and which it refuses (naming what is there), and a failed write that leaves
// the previous export byte for byte. hostile.test.ts and diskFull.test.ts drive the same through the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { createGenerator } from '../src/model/factory.js';
import { resolveRunConfig } from '../src/train/config.js';
import { CHECKPOINT_FORMAT, saveCheckpoint } from '../src/train/checkpoint.js';
import { exportVariables } from '../src/train/weights.js';
import { EXPORT_FILES, exportCheckpoint, isPreviousExport } from '../src/train/exportCheckpoint.js';
import { decodeSafetensors } from '../src/util/safetensors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-export-'));
let ck = '';

before(async () => {
  await setup();
  const config = resolveRunConfig({ model: { width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2 } });
  const model = createGenerator(config.model, 1);
  const w = exportVariables(model.params.vars);
  ck = saveCheckpoint(tmp(), { format: CHECKPOINT_FORMAT, config, step: 3, losses: [[0, 1.5]] } as never, { model: w, ema: w, optimizer: {} }, 1);
  model.dispose();
});
after(() => { delete process.env.NESTAR_TEST_DISK_FULL; });

test('an export holds state.json and the EMA weights as they were, F16 on request, and records where it came from', () => {
  const out = join(tmp(), 'a', 'exp');
  const r = exportCheckpoint(ck, out);
  assert.deepEqual(r, { dir: out, files: ['state.json', 'ema.safetensors'] });
  assert.deepEqual(readdirSync(out).sort(), ['ema.safetensors', 'state.json']);
  assert.deepEqual(readFileSync(join(out, 'ema.safetensors')), readFileSync(join(ck, 'ema.safetensors')), 'F32: the validated file byte for byte');
  const st = JSON.parse(readFileSync(join(out, 'state.json'), 'utf8'));
  assert.deepEqual(st.exportedFrom, { checkpoint: ck, step: 3, storage: 'F32' });
  assert.deepEqual(st.losses, []);
  assert.equal(st.format, CHECKPOINT_FORMAT);
  assert.equal(st.step, 3);
  assert.ok(isPreviousExport(out));
  assert.deepEqual([...EXPORT_FILES], ['state.json', 'ema.safetensors', 'tokenizer.safetensors']);
  // Over the previous export, in F16: half the weight bytes, values within F16 rounding, the old files gone.
  exportCheckpoint(ck, out, { dtype: 'F16' });
  const f16 = readFileSync(join(out, 'ema.safetensors')), f32 = readFileSync(join(ck, 'ema.safetensors'));
  assert.ok(f16.length < 0.6 * f32.length, `${f16.length} vs ${f32.length} bytes`);
  const a = decodeSafetensors(f16).tensors, b = decodeSafetensors(f32).tensors;
  for (const [k, v] of Object.entries(b)) v.data.forEach((x, i) => assert.ok(Math.abs(a[k]!.data[i]! - x) <= 1e-3 * Math.abs(x) + 1e-7, `${k}[${i}]`));
  assert.equal(JSON.parse(readFileSync(join(out, 'state.json'), 'utf8')).exportedFrom.storage, 'F16');
  assert.deepEqual(readdirSync(join(out, '..')), ['exp'], 'no temporary or set-aside folder left next to it');
  // An empty folder is a fine target too.
  const empty = tmp();
  exportCheckpoint(ck, empty);
  assert.deepEqual(readdirSync(empty).sort(), ['ema.safetensors', 'state.json']);
});

test('targets that are not nestar\'s to replace are refused before anything is written, naming what is there', () => {
  const full = tmp();
  for (const f of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) writeFileSync(join(full, f), f);
  assert.throws(() => exportCheckpoint(ck, full), (e: unknown) => (e as Error).message === `--out ${full} is not empty and is not a previous nestar export (it holds a, b, c, d, e, … (7 entries)); nestar never deletes files it did not write: choose a new or empty folder`);
  const few = tmp();
  writeFileSync(join(few, 'notes.txt'), 'x');
  assert.throws(() => exportCheckpoint(ck, few), /\(it holds notes\.txt\); nestar never deletes/);
  const five = tmp();
  for (const f of ['a', 'b', 'c', 'd', 'e']) writeFileSync(join(five, f), f);
  assert.throws(() => exportCheckpoint(ck, five), (e: unknown) => (e as Error).message.includes('(it holds a, b, c, d, e);'), 'five entries are all named, no ellipsis');
  // A previous export with a file of the user's added to it is no longer nestar's to replace.
  const grown = join(tmp(), 'exp');
  exportCheckpoint(ck, grown);
  writeFileSync(join(grown, 'notes.txt'), 'mine');
  assert.equal(isPreviousExport(grown), false);
  assert.throws(() => exportCheckpoint(ck, grown), /is not a previous nestar export \(it holds /);
  assert.equal(readFileSync(join(grown, 'notes.txt'), 'utf8'), 'mine');
  const file = join(tmp(), 'file');
  writeFileSync(file, 'precious');
  assert.throws(() => exportCheckpoint(ck, file), (e: unknown) => (e as Error).message === `--out ${file} exists and is not a folder; nestar will not replace it`);
  const dangling = join(tmp(), 'link');
  symlinkSync(join(tmp(), 'missing'), dangling);
  assert.throws(() => exportCheckpoint(ck, dangling), /exists and is not a folder/);
  assert.throws(() => exportCheckpoint(ck, join(ck, 'x')), (e: unknown) => (e as Error).message.startsWith(`--out ${join(ck, 'x')} is inside the checkpoint it would export (`));
  assert.throws(() => exportCheckpoint(ck, join(ck, '..')), /contains the checkpoint it would export/);
  assert.equal(readFileSync(file, 'utf8'), 'precious');
  assert.deepEqual(readdirSync(full).length, 7);
});

test('a previous export is recognised by its state.json, not guessed from file names', () => {
  const out = join(tmp(), 'exp');
  exportCheckpoint(ck, out);
  const st = join(out, 'state.json'), saved = readFileSync(st, 'utf8');
  const check = (text: string) => { writeFileSync(st, text); return isPreviousExport(out); };
  assert.equal(check(saved), true);
  assert.equal(check(JSON.stringify({ ...JSON.parse(saved), exportedFrom: undefined })), false, 'a checkpoint, not an export');
  assert.equal(check(JSON.stringify({ ...JSON.parse(saved), exportedFrom: null })), false);
  assert.equal(check(JSON.stringify({ ...JSON.parse(saved), format: 'other' })), false);
  assert.equal(check('{not json'), false);
  writeFileSync(st, saved);
  mkdirSync(join(out, 'tokenizer.safetensors'));
  assert.equal(isPreviousExport(out), false, 'an export file name that is a folder');
  assert.throws(() => exportCheckpoint(ck, out), /is not a previous nestar export/);
  const noState = tmp();
  writeFileSync(join(noState, 'ema.safetensors'), 'x');
  assert.equal(isPreviousExport(noState), false);
});

test('a write that fails mid-export names the export\'s own file and leaves the previous export as it was', () => {
  const out = join(tmp(), 'exp');
  exportCheckpoint(ck, out);
  const before = Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(join(out, f))]));
  process.env.NESTAR_TEST_DISK_FULL = 'ema.safetensors';
  try {
    assert.throws(() => exportCheckpoint(ck, out, { dtype: 'F16' }), (e: unknown) => (e as Error).message === `could not export to ${out}: no space left on the device (ENOSPC) writing ema.safetensors; the previous export there is unchanged`);
    const fresh = join(tmp(), 'new');
    assert.throws(() => exportCheckpoint(ck, fresh), /writing ema\.safetensors; nothing was written$/);
    assert.ok(!existsSync(fresh));
    assert.deepEqual(readdirSync(join(fresh, '..')), [], 'no temporary folder left');
  } finally { delete process.env.NESTAR_TEST_DISK_FULL; }
  assert.deepEqual(Object.fromEntries(readdirSync(out).map((f) => [f, readFileSync(join(out, f))])), before);
  assert.deepEqual(readdirSync(join(out, '..')), ['exp']);
});

test('a latent model\'s export carries its tokenizer, validated with it and byte for byte', () => {
  const src = join(import.meta.dirname, '..', 'checkpoints', 'mnist-latent', 'nestar');
  const out = join(tmp(), 'latent');
  const r = exportCheckpoint(src, out);
  assert.deepEqual(r.files, ['state.json', 'ema.safetensors', 'tokenizer.safetensors']);
  assert.deepEqual(readdirSync(out).sort(), ['ema.safetensors', 'state.json', 'tokenizer.safetensors']);
  assert.deepEqual(readFileSync(join(out, 'tokenizer.safetensors')), readFileSync(join(src, 'tokenizer.safetensors')));
  assert.ok(isPreviousExport(out));
});
