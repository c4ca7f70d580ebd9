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

test('leftovers holding files are cleared, a partial step folder gives way to its complete copy set aside, and names that only contain the patterns are never touched', () => {
  const run = runDir(), ck = join(run, 'checkpoints');
  saveCheckpoint(run, state(2), tensors(2), 5);
  const fill = (d: string) => { mkdirSync(join(ck, d), { recursive: true }); writeFileSync(join(ck, d, 'junk.safetensors'), 'x'); };
  fill('.step-0000003.tmp-77'); fill('.step-0000001.del-77');
  // Step 2 set aside whole, and a writer killed after creating a new step-2 folder but before its state.json.
  renameSync(join(ck, 'step-0000002'), join(ck, '.step-0000002.old-77'));
  fill('step-0000002');
  // A set-aside copy of step 9, whose step folder is complete: only a leftover.
  saveCheckpoint(run, state(9), tensors(9), 5);
  fill('.step-0000009.old-78');
  const users = ['x.step-0000001.tmp-5', '.step-0000001.tmp-5.bak', 'x.step-0000002.old-5', '.step-0000002.old-5.bak', 'keep-step-0000001', 'step-0000001.bak'];
  for (const u of users) fill(u);
  saveCheckpoint(run, state(10), tensors(10), 5);
  assert.deepEqual(steps(run), [...users, 'step-0000002', 'step-0000009', 'step-0000010'].sort(), 'leftovers gone, user names untouched');
  assert.deepEqual(readdirSync(join(ck, 'step-0000002')).sort(), ['ema.safetensors', 'model.safetensors', 'optimizer.safetensors', 'state.json'], 'the complete copy is back');
  assert.deepEqual(Array.from(loadCheckpoint(join(ck, 'step-0000002')).tensors.model.w!.data), [2, 3]);
  // Pruning counts step folders only: the user's look-alikes survive keep = 1.
  saveCheckpoint(run, state(11), tensors(11), 1);
  assert.deepEqual(steps(run), [...users, 'step-0000011'].sort());
  for (const u of users) assert.deepEqual(readdirSync(join(ck, u)), ['junk.safetensors'], u);
});

test('state.json and latest.json end in a newline; a write error without a path is named as such; read errors say they come from a checkpoint', () => {
  const run = runDir();
  const dir = saveCheckpoint(run, state(1), tensors(1), 2);
  assert.ok(readFileSync(join(dir, 'state.json'), 'utf8').endsWith('}\n'));
  assert.ok(readFileSync(join(run, 'latest.json'), 'utf8').endsWith('}\n'));
  // A tensor whose data does not fit its shape fails in the encoder, an error with neither code nor path.
  let message = '';
  try { saveCheckpoint(run, state(2), { model: { w: { shape: [3], data: Float32Array.from([1, 2]) } } }, 2); } catch (e) { message = (e as Error).message; }
  assert.match(message, /^could not write checkpoint .*step-0000002 \([^)]*\); the previous checkpoint is intact$/);
  assert.ok(!message.includes(' at '), message);
  writeFileSync(join(dir, 'state.json'), '{');
  assert.throws(() => loadCheckpoint(dir), (e: unknown) => (e as Error).message.startsWith(`checkpoint: ${join(dir, 'state.json')} is not valid JSON`));
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state(1)));
  rmSync(join(dir, 'ema.safetensors'));
  mkdirSync(join(dir, 'ema.safetensors'));
  assert.throws(() => loadCheckpoint(dir), (e: unknown) => (e as Error).message.startsWith(`checkpoint: ${join(dir, 'ema.safetensors')} is`));
  writeFileSync(join(run, 'latest.json'), '{');
  assert.throws(() => resolveCheckpointDir(run), (e: unknown) => (e as Error).message.startsWith(`checkpoint: ${join(run, 'latest.json')} is not valid JSON`));
});

test('latest.json: only checkpoints/step-N of this run, shown cut to 80 characters; a step folder is preferred to its copy set aside, which is used only when complete', () => {
  const run = runDir(), ck = join(run, 'checkpoints'), latest = join(run, 'latest.json');
  const dir = saveCheckpoint(run, state(5), tensors(5), 2);
  const refused = (text: string) => assert.throws(() => resolveCheckpointDir(run), (e: unknown) => (e as Error).message === `checkpoint: ${latest} must be {"checkpoint": "checkpoints/step-NNNNNNN", ...} as nestar writes it, got ${text}`, text);
  writeFileSync(latest, JSON.stringify({ checkpoint: ['checkpoints/step-0000005'] }));
  refused('{"checkpoint":["checkpoints/step-0000005"]}');
  writeFileSync(latest, JSON.stringify({ checkpoint: 'x/checkpoints/step-0000005' }));
  refused('{"checkpoint":"x/checkpoints/step-0000005"}');
  const long = { checkpoint: `checkpoints/${'z'.repeat(100)}` };
  writeFileSync(latest, JSON.stringify(long));
  refused(JSON.stringify(long).slice(0, 80));
  writeFileSync(latest, JSON.stringify({ checkpoint: 'checkpoints/step-0000005', step: 5 }));
  // A complete copy aside does not replace a complete step folder.
  mkdirSync(join(ck, '.step-0000005.old-1'));
  writeFileSync(join(ck, '.step-0000005.old-1', 'state.json'), JSON.stringify(state(5)));
  assert.equal(resolveCheckpointDir(run), dir);
  // A step folder without its state.json: the complete copy aside is used, an incomplete one never.
  rmSync(join(dir, 'state.json'));
  assert.equal(resolveCheckpointDir(run), join(ck, '.step-0000005.old-1'));
  rmSync(join(ck, '.step-0000005.old-1', 'state.json'));
  assert.throws(() => resolveCheckpointDir(run), (e: unknown) => (e as Error).message === `checkpoint: ${latest} names ${dir}, which is not a checkpoint`);
});
