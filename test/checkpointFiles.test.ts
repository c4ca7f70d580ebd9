// Checkpoint folders on disk (src/train/checkpoint.ts) without a model: what one save writes, pruning to
// `keep`, re-saving a step, leftovers of killed writers, how a path is resolved and every refusal naming its
// file. Fast and in-process, so mutation testing sees it (the crash tests kill child processes instead).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setup } from './helpers.js';
import { CHECKPOINT_FORMAT, checkpointName, loadCheckpoint, loadSamplingCheckpoint, readCheckpointFiles, resolveCheckpointDir, saveCheckpoint } from '../src/train/checkpoint.js';
import { decodeSafetensors, type NamedArray } from '../src/util/safetensors.js';

before(setup);

const arr = (...v: number[]): Record<string, NamedArray> => ({ w: { shape: [v.length], data: Float32Array.from(v) } });
const tensors = (x: number) => ({ model: arr(x, x + 1), ema: arr(x + 2), optimizer: arr(x + 3) });
const state = (step: number, extra: object = {}) => ({ format: CHECKPOINT_FORMAT, step, config: {}, ...extra });
const runDir = () => mkdtempSync(join(tmpdir(), 'nestar-ck-'));
const steps = (run: string) => readdirSync(join(run, 'checkpoints')).sort();

test('one save writes every tensor file and state.json into step-NNNNNNN, and latest.json names it', () => {
  assert.equal(checkpointName(12), 'step-0000012');
  assert.equal(checkpointName(12345678), 'step-12345678');
  const run = runDir();
  const dir = saveCheckpoint(run, state(3), tensors(1), 2);
  assert.equal(dir, join(run, 'checkpoints', 'step-0000003'));
  assert.deepEqual(readdirSync(dir).sort(), ['ema.safetensors', 'model.safetensors', 'optimizer.safetensors', 'state.json']);
  const st = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')));
  assert.deepEqual(Array.from(st.tensors.w!.data), [1, 2]);
  assert.deepEqual(st.metadata, { format: CHECKPOINT_FORMAT, step: '3' });
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')), state(3));
  assert.deepEqual(JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')), { checkpoint: 'checkpoints/step-0000003', step: 3 });
  const loaded = loadCheckpoint(run);
  assert.equal(loaded.dir, dir);
  assert.equal(loaded.state.step, 3);
  assert.deepEqual(Array.from(loaded.tensors.ema.w!.data), [3]);
  assert.deepEqual(Array.from(loaded.tensors.optimizer.w!.data), [4]);
  assert.equal(loaded.tensors.tokenizer, undefined);
  const s = loadSamplingCheckpoint(dir);
  assert.equal(s.weightsFile, 'ema.safetensors');
  assert.deepEqual(Array.from(s.weights.w!.data), [3]);
  const raw = loadSamplingCheckpoint(dir, 'raw');
  assert.equal(raw.weightsFile, 'model.safetensors');
  assert.deepEqual(Array.from(raw.weights.w!.data), [1, 2]);
  // Any state format is written as given (tokenizer checkpoints have their own).
  const other = saveCheckpoint(runDir(), { format: 'other-v1', step: 1 } as never, { tok: arr(5) }, 1);
  assert.deepEqual(decodeSafetensors(readFileSync(join(other, 'tok.safetensors'))).metadata, { format: 'other-v1', step: '1' });
});

test('pruning keeps the newest `keep` checkpoints and leaves nothing hidden behind', () => {
  const run = runDir();
  for (const s of [1, 2, 3, 4]) saveCheckpoint(run, state(s), tensors(s), 2);
  assert.deepEqual(steps(run), ['step-0000003', 'step-0000004']);
  saveCheckpoint(run, state(10), tensors(10), 1);
  assert.deepEqual(steps(run), ['step-0000010']);
  saveCheckpoint(run, state(11), tensors(11), 3);
  saveCheckpoint(run, state(12), tensors(12), 3);
  assert.deepEqual(steps(run), ['step-0000010', 'step-0000011', 'step-0000012']);
  assert.equal(loadCheckpoint(run).state.step, 12);
});

test('re-saving a step replaces it whole; leftovers of killed writers are cleared, a step set aside comes back', () => {
  const run = runDir();
  saveCheckpoint(run, state(5), tensors(1), 3);
  saveCheckpoint(run, state(5), tensors(7), 3);
  assert.deepEqual(steps(run), ['step-0000005']);
  assert.deepEqual(Array.from(loadCheckpoint(run).tensors.model.w!.data), [7, 8]);
  const ck = join(run, 'checkpoints');
  // A writer killed mid-save (.tmp-), mid-prune (.del-), and between setting step 5 aside and moving its new copy in (.old-).
  mkdirSync(join(ck, '.step-0000006.tmp-999'));
  mkdirSync(join(ck, '.step-0000002.del-999'));
  renameSync(join(ck, 'step-0000005'), join(ck, '.step-0000005.old-999'));
  // A reader in that instant finds the step aside.
  assert.equal(resolveCheckpointDir(run), join(ck, '.step-0000005.old-999'));
  mkdirSync(join(ck, 'keep-me'));
  saveCheckpoint(run, state(6), tensors(2), 3);
  assert.deepEqual(steps(run), ['keep-me', 'step-0000005', 'step-0000006'], 'leftovers gone, step 5 back in place, other names untouched');
  assert.deepEqual(Array.from(loadCheckpoint(join(ck, 'step-0000005')).tensors.model.w!.data), [7, 8]);
  // A set-aside copy whose step folder is complete again is only a leftover.
  mkdirSync(join(ck, '.step-0000006.old-998'));
  writeFileSync(join(ck, '.step-0000006.old-998', 'marker'), 'x');
  saveCheckpoint(run, state(7), tensors(3), 3);
  assert.deepEqual(steps(run), ['keep-me', 'step-0000005', 'step-0000006', 'step-0000007']);
  assert.deepEqual(readdirSync(join(ck, 'step-0000006')).sort(), ['ema.safetensors', 'model.safetensors', 'optimizer.safetensors', 'state.json']);
});

test('a save that cannot write names the folder, says the previous checkpoint is intact, and leaves no temporary', () => {
  const run = runDir();
  saveCheckpoint(run, state(1), tensors(1), 2);
  // A tensor file name no file system takes makes the write fail half-way, after model.safetensors.
  assert.throws(() => saveCheckpoint(run, state(2), { model: arr(1), 'bad\0name': arr(2) }, 2),
    (e: unknown) => /^could not write checkpoint .*step-0000002 \(ERR_INVALID_ARG_VALUE at .*\.tmp-\d+\/bad[\s\S]name\.safetensors\); the previous checkpoint is intact$/.test((e as Error).message));
  assert.deepEqual(readdirSync(join(run, 'checkpoints')), ['step-0000001'], 'no temporary folder left');
  assert.deepEqual(JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')).step, 1);
  assert.deepEqual(steps(run), ['step-0000001']);
  assert.equal(loadCheckpoint(run).state.step, 1);
});

test('resolving a path: a checkpoint folder, a run folder through latest.json, and every bad case named', () => {
  const run = runDir();
  const dir = saveCheckpoint(run, state(4), tensors(1), 2);
  assert.equal(resolveCheckpointDir(dir), dir);
  assert.equal(resolveCheckpointDir(run), dir);
  assert.equal(resolveCheckpointDir(join(run, '.')), resolve(dir));
  const latest = join(run, 'latest.json');
  for (const bad of ['null', '{"checkpoint": "../elsewhere"}', '{"checkpoint": 4}', '{"checkpoint": "checkpoints/step-1/x"}', '[]']) {
    writeFileSync(latest, bad);
    assert.throws(() => resolveCheckpointDir(run), (e: unknown) => (e as Error).message.startsWith(`checkpoint: ${latest} must be {"checkpoint": "checkpoints/step-NNNNNNN", ...} as nestar writes it, got `), bad);
  }
  writeFileSync(latest, '{"checkpoint": "checkpoints/step-0000009"}');
  assert.throws(() => resolveCheckpointDir(run), new RegExp(`^Error: checkpoint: ${latest} names .*step-0000009, which is not a checkpoint$`));
  rmSync(join(run, 'checkpoints'), { recursive: true });
  assert.throws(() => resolveCheckpointDir(run), /which is not a checkpoint$/);
  assert.throws(() => resolveCheckpointDir(join(run, 'nope')), /^Error: checkpoint '.*nope' does not exist$/);
  const empty = runDir();
  assert.throws(() => resolveCheckpointDir(empty), /is neither a checkpoint folder \(with state\.json\) nor a run folder \(with latest\.json\)$/);
});

test('reading a checkpoint refuses a state.json of another format or not an object, and a missing tensor or tokenizer file, naming it', () => {
  const run = runDir();
  const dir = saveCheckpoint(run, state(2), tensors(1), 2);
  const sj = join(dir, 'state.json');
  writeFileSync(sj, JSON.stringify({ format: 'nestar-tokenizer-v1', step: 2 }));
  assert.throws(() => loadCheckpoint(dir), (e: unknown) => (e as Error).message === `checkpoint: ${sj} has format "nestar-tokenizer-v1", expected ${CHECKPOINT_FORMAT}`);
  for (const bad of ['[1]', '7', 'null']) {
    writeFileSync(sj, bad);
    assert.throws(() => loadCheckpoint(dir), (e: unknown) => (e as Error).message === `checkpoint: ${sj} is not a JSON object`, bad);
  }
  writeFileSync(sj, JSON.stringify(state(2)));
  assert.equal(readCheckpointFiles<{ format: string; step: number }, 'ema'>(dir, CHECKPOINT_FORMAT, ['ema']).state.step, 2);
  rmSync(join(dir, 'optimizer.safetensors'));
  assert.throws(() => loadCheckpoint(dir), (e: unknown) => (e as Error).message === `checkpoint: ${join(dir, 'optimizer.safetensors')} is missing`);
  assert.equal(loadSamplingCheckpoint(dir).state.step, 2, 'sampling needs the EMA weights only');
  // A latent model's checkpoint carries its tokenizer: without tokenizer.safetensors it is refused by both readers.
  const latent = saveCheckpoint(runDir(), state(1, { tokenizer: { config: {} } }), { ...tensors(1), tokenizer: arr(9) }, 1);
  assert.deepEqual(Array.from(loadCheckpoint(latent).tensors.tokenizer!.w!.data), [9]);
  assert.deepEqual(Array.from(loadSamplingCheckpoint(latent).tokenizer!.w!.data), [9]);
  rmSync(join(latent, 'tokenizer.safetensors'));
  for (const read of [() => loadCheckpoint(latent), () => loadSamplingCheckpoint(latent)]) {
    assert.throws(read, (e: unknown) => (e as Error).message === `checkpoint: ${join(latent, 'tokenizer.safetensors')} is missing`);
  }
  assert.ok(!existsSync(join(latent, 'tokenizer.safetensors')));
});
