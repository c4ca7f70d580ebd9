// The small pieces of training that resume and safety rest on, each on its own: the shuffled data walk and
// its saved position, weights moved in and out of variables with their checks, and the run lock.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execPath } from 'node:process';
import { setup, tf } from './helpers.js';
import { DataCursor } from '../src/train/dataCursor.js';
import { assignVariables, checkCompatible, checkFinite, exportVariables, prefixed, unprefixed } from '../src/train/weights.js';
import { acquireRunLock, processStartTime } from '../src/train/runLock.js';
import type { NamedArray } from '../src/util/safetensors.js';
import { ParamStore } from '../src/model/params.js';
import { AdamW } from '../src/train/optimizer.js';
import { Ema } from '../src/train/ema.js';

before(setup);

test('the data walk: each epoch a fresh permutation of every index, and a restored position continues identically', () => {
  const n = 7, c = new DataCursor(n, 3);
  const epochs: number[][] = [];
  for (let e = 0; e < 3; e++) epochs.push(Array.from({ length: n }, () => c.next()));
  for (const [e, ix] of epochs.entries()) assert.deepEqual([...ix].sort(), [0, 1, 2, 3, 4, 5, 6], `epoch ${e} visits every index once`);
  assert.notDeepEqual(epochs[0], epochs[1], 'a new permutation each epoch');
  assert.equal(c.epoch, 2);
  assert.equal(c.cursor, n);
  assert.deepEqual(epochs[0], Array.from({ length: n }, ((d) => () => d.next())(new DataCursor(n, 3))), 'the same seed, the same walk');
  assert.notDeepEqual(epochs[0], Array.from({ length: n }, ((d) => () => d.next())(new DataCursor(n, 4))));
  // Save mid-epoch (after 10 draws: epoch 1, cursor 3), restore into a fresh cursor, and both continue the same.
  const a = new DataCursor(n, 9);
  for (let i = 0; i < 10; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.state()));
  assert.deepEqual(saved.data, { epoch: 1, cursor: 3 });
  const b = new DataCursor(n, 123);
  b.restore(saved.rng, saved.data);
  assert.equal(b.epoch, 1);
  assert.equal(b.cursor, 3);
  const rest = (d: DataCursor) => Array.from({ length: 3 * n }, () => d.next());
  assert.deepEqual(rest(b), rest(a));
  assert.deepEqual(b.state(), a.state());
  // Saved exactly at an epoch's end: the next draw starts the next epoch in both.
  const x = new DataCursor(n, 5);
  for (let i = 0; i < n; i++) x.next();
  const y = new DataCursor(n, 0);
  y.restore(x.state().rng, x.state().data);
  assert.deepEqual(rest(y), rest(x));
});

test('weights: exported and assigned back by name; a missing, extra or reshaped tensor and a non-finite value are named', () => {
  const vars = new Map<string, tf.Variable>([['a.w', tf.variable(tf.tensor2d([[1, 2], [3, 4]]))], ['a.b', tf.variable(tf.tensor1d([5, 6]))]]);
  const out = exportVariables(vars);
  assert.deepEqual(Object.keys(out), ['a.w', 'a.b']);
  assert.deepEqual(out['a.w']!.shape, [2, 2]);
  assert.deepEqual(Array.from(out['a.w']!.data), [1, 2, 3, 4]);
  const arrays: Record<string, NamedArray> = { 'a.w': { shape: [2, 2], data: Float32Array.from([9, 8, 7, 6]) }, 'a.b': { shape: [2], data: Float32Array.from([0, -1]) } };
  assignVariables(vars, arrays, 'f.safetensors');
  assert.deepEqual(Array.from(vars.get('a.w')!.dataSync()), [9, 8, 7, 6]);
  assert.deepEqual(Array.from(vars.get('a.b')!.dataSync()), [0, -1]);
  const err = (re: RegExp) => (e: unknown) => re.test((e as Error).message);
  assert.throws(() => checkCompatible(vars, { 'a.w': arrays['a.w']! }, 'f.safetensors'), err(/^f\.safetensors does not match this model: it has no tensor 'a\.b' \(another architecture\?\)$/));
  assert.throws(() => checkCompatible(vars, { ...arrays, extra: arrays['a.b']! }, 'f'), err(/^f does not match this model: unexpected tensor 'extra' \(another architecture\?\)$/));
  for (const shape of [[4], [2], [2, 1], [1, 2], [2, 2, 1]]) {
    assert.throws(() => checkCompatible(vars, { ...arrays, 'a.w': { shape, data: new Float32Array(4) } }, 'f'), err(new RegExp(`^f does not match this model: 'a\\.w' has shape \\[${shape}\\], the model expects \\[2,2\\]$`)), String(shape));
  }
  for (const bad of [NaN, Infinity, -Infinity]) {
    const b = { ...arrays, 'a.b': { shape: [2], data: Float32Array.from([0, bad]) } };
    assert.throws(() => checkFinite(b, 'f'), err(new RegExp(`^f: tensor 'a\\.b' holds a non-finite value \\(${bad} at element 1\\); the checkpoint is corrupt or its run diverged$`)));
    assert.throws(() => assignVariables(vars, b, 'f'), err(/non-finite/));
  }
  assert.deepEqual(Array.from(vars.get('a.b')!.dataSync()), [0, -1], 'a refused assignment changes nothing');
  checkFinite({ z: { shape: [1], data: Float32Array.from([-3.3e38]) } }, 'f');
  const p = prefixed('m.', arrays);
  assert.deepEqual(Object.keys(p), ['m.a.w', 'm.a.b']);
  assert.deepEqual(unprefixed('m.', { ...p, 'v.a.w': arrays['a.w']!, 'mm.x': arrays['a.b']! }), arrays);
  for (const v of vars.values()) v.dispose();
});

test('the run lock: one owner at a time, a stale or unreadable lock is taken over, the release is idempotent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-lock-'));
  const lock = join(dir, '.lock');
  const start = processStartTime(process.pid);
  assert.match(start, /^\d+$/, 'Linux gives the start time in clock ticks');
  assert.equal(processStartTime(999999999), '');
  const release = acquireRunLock(dir);
  assert.equal(readFileSync(lock, 'utf8'), `${process.pid} ${start} ${hostname()}\n`);
  assert.throws(() => acquireRunLock(dir), new RegExp(`^Error: run folder ${dir} is in use by another training \\(pid ${process.pid}\\); wait for it to finish, or delete ${lock} if that process is gone$`));
  release();
  assert.ok(!existsSync(lock));
  release(); // a second call is a no-op
  // A live process of this machine holds it: refused. The same pid with another start time, a dead pid, garbage: stale.
  const sleeper = spawnSync('sh', ['-c', 'sleep 30 & echo $!'], { encoding: 'utf8' });
  const pid = Number(sleeper.stdout.trim());
  try {
    writeFileSync(lock, `${pid} ${processStartTime(pid)} ${hostname()}\n`);
    assert.throws(() => acquireRunLock(dir), new RegExp(`in use by another training \\(pid ${pid}\\)`));
    writeFileSync(lock, `${pid} - ${hostname()}\n`);
    assert.throws(() => acquireRunLock(dir), /in use by another training/, 'no start time recorded: the pid alone decides');
    writeFileSync(lock, `${pid} ${Number(processStartTime(pid)) + 1} ${hostname()}\n`);
    acquireRunLock(dir)();
  } finally { process.kill(pid, 'SIGKILL'); }
  // Another machine's lock cannot be checked: assumed alive.
  writeFileSync(lock, `1 1 some-other-host.example\n`);
  assert.throws(() => acquireRunLock(dir), /in use by another training \(pid 1\)/);
  for (const stale of ['999999999\n', 'garbage\n', '', '0 1 x\n', `-5 - ${hostname()}\n`]) {
    writeFileSync(lock, stale);
    const r = acquireRunLock(dir);
    assert.match(readFileSync(lock, 'utf8'), new RegExp(`^${process.pid} `), JSON.stringify(stale));
    r();
  }
  // This process's own lock left behind by an earlier owner object (not held now) is stale too.
  writeFileSync(lock, `${process.pid} ${start} ${hostname()}\n`);
  acquireRunLock(dir)();
  // A folder that cannot be created names itself.
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(() => acquireRunLock(join(file, 'run')), /^Error: run folder .*a-file\/run cannot be created \(ENOTDIR\)$/);
});

test('a ParamStore, AdamW and the EMA free every tensor they made when disposed (tf.variable keeps its initial value otherwise)', () => {
  const before = tf.memory().numTensors;
  const ps = new ParamStore(1);
  for (const [i, init] of ([{ kind: 'xavier' }, { kind: 'zeros' }, { kind: 'ones' }, { kind: 'normal', std: 1 }, { kind: 'values', values: Float32Array.from([1, 2, 3, 4]) }] as const).entries()) ps.create(`p${i}`, [2, 2], init);
  assert.equal(tf.memory().numTensors, before + 5, 'one tensor per parameter');
  const opt = new AdamW(ps.vars, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 }), ema = new Ema(ps.vars, 0.9);
  assert.equal(tf.memory().numTensors, before + 5 * 4, 'the two moments and the EMA copy: one tensor each per parameter');
  opt.dispose();
  ema.dispose();
  ps.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('the run lock: a start time read from /proc even for a command name with spaces and parentheses, lock text parsed loosely, and locks released when the process exits', async () => {
  // A process started just now, under a name that breaks naive /proc/PID/stat parsing.
  const bin = mkdtempSync(join(tmpdir(), 'nestar-lockname-')), odd = join(bin, 'x) (y z');
  symlinkSync(execPath, odd);
  const child = spawn(odd, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const ticks = Number(processStartTime(child.pid!));
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    // Clock ticks since boot (100 a second on Linux) plus the boot time is when the child started: a moment ago.
    assert.ok(Math.abs(btime + ticks / 100 - Date.now() / 1000) < 5, `start ${ticks} ticks after boot at ${btime}`);
    const dir = mkdtempSync(join(tmpdir(), 'nestar-lock2-')), lock = join(dir, '.lock');
    const start = processStartTime(child.pid!);
    // Loose but exact parsing: surrounding and repeated whitespace, fields left out.
    for (const text of [`  ${child.pid} ${start} ${hostname()}\n`, `${child.pid}\n`, `${child.pid}\t\t${start}  ${hostname()}`]) {
      writeFileSync(lock, text);
      assert.throws(() => acquireRunLock(dir), new RegExp(`in use by another training \\(pid ${child.pid}\\)`), JSON.stringify(text));
    }
    writeFileSync(lock, `${child.pid}  ${Number(start) + 1}  ${hostname()}\n`);
    acquireRunLock(dir)();
    assert.ok(!existsSync(lock));
  } finally { child.kill('SIGKILL'); }
  // One exit hook however many locks are taken, and it removes every lock still held when the process ends.
  const before = process.listenerCount('exit');
  const a = mkdtempSync(join(tmpdir(), 'nestar-lock3-')), b = mkdtempSync(join(tmpdir(), 'nestar-lock3-'));
  const ra = acquireRunLock(a), rb = acquireRunLock(b);
  assert.ok(process.listenerCount('exit') - before <= 1, 'at most one exit listener added');
  ra(); rb();
  const x = mkdtempSync(join(tmpdir(), 'nestar-lock4-')), y = mkdtempSync(join(tmpdir(), 'nestar-lock4-'));
  const script = `import { acquireRunLock } from ${JSON.stringify(resolve('src/train/runLock.ts'))}; const n = process.listenerCount('exit'); `
    + `acquireRunLock(${JSON.stringify(x)}); acquireRunLock(${JSON.stringify(y)}); process.stdout.write(String(process.listenerCount('exit') - n));`;
  const r = spawnSync(execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '1', 'one exit listener for two locks');
  assert.ok(!existsSync(join(x, '.lock')) && !existsSync(join(y, '.lock')), 'both locks removed at exit');
});
