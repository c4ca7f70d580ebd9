// File-system and process errors that cannot be provoked for real here (the tests run as root, so no
// permission is ever refused; no read-only or full disk to hand), injected by swapping one node:fs function
// (or process.kill) for a fake that fails on one path only, and checked for the message the user gets:
// the run lock's (src/train/runLock.ts) and a checkpoint write that fails before anything was written.
import { test, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { acquireRunLock } from '../src/train/runLock.js';
import { CHECKPOINT_FORMAT, saveCheckpoint } from '../src/train/checkpoint.js';

before(setup);

type FsName = 'mkdirSync' | 'openSync';
const originals = { mkdirSync: fs.mkdirSync, openSync: fs.openSync };
const realKill = process.kill;

/** Makes fs[name] call `fake` for paths ending in `suffix` (the real function for every other path); ESM
 * imports of node:fs see the swap through syncBuiltinESMExports. Undone after each test. */
function failOn(name: FsName, suffix: string, fake: (...args: unknown[]) => unknown): void {
  const real = originals[name] as (...args: unknown[]) => unknown;
  (fs as unknown as Record<FsName, unknown>)[name] = (...args: unknown[]) => (String(args[0]).endsWith(suffix) ? fake(...args) : real(...args));
  syncBuiltinESMExports();
}

afterEach(() => {
  Object.assign(fs, originals);
  syncBuiltinESMExports();
  process.kill = realKill;
});

const fsError = (code: string | undefined, path: string, message = `${code}: failed, '${path}'`) =>
  Object.assign(new Error(message), code === undefined ? {} : { code, path });

test('the run lock names why its folder cannot be created: read-only, permission, another code, or the message of an error without one', () => {
  const parent = mkdtempSync(join(tmpdir(), 'nestar-lockfault-'));
  const cases: [string | undefined, string][] = [['EROFS', 'read-only file system'], ['EACCES', 'permission denied'], ['ENOSPC', 'ENOSPC'], [undefined, 'out of inodes']];
  for (const [code, words] of cases) {
    const dir = join(parent, `run-${code ?? 'none'}`);
    failOn('mkdirSync', `run-${code ?? 'none'}`, () => { throw fsError(code, dir, 'out of inodes'); });
    assert.throws(() => acquireRunLock(dir), (e: unknown) => (e as Error).message === `run folder ${dir} cannot be created (${words})`, String(code));
  }
});

test('the run lock names why its lock file cannot be created, and never takes over a lock it cannot check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-lockfault-')), lock = join(dir, '.lock');
  const cases: [string | undefined, string][] = [['EROFS', 'read-only file system'], ['EACCES', 'permission denied'], ['EISDIR', 'EISDIR'], [undefined, 'no handles left']];
  for (const [code, words] of cases) {
    failOn('openSync', '/.lock', () => { throw fsError(code, lock, 'no handles left'); });
    assert.throws(() => acquireRunLock(dir), (e: unknown) => (e as Error).message === `run folder ${dir}: cannot create ${lock} (${words})`, String(code));
  }
  assert.ok(!existsSync(lock), 'nothing written');
});

test('a lock whose owner cannot be signalled (EPERM: another user\'s process) is in use; one whose owner is gone (ESRCH) is taken', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-lockfault-')), lock = join(dir, '.lock');
  const pid = 4_100_000; // above every pid this machine hands out, so only the fake answers for it
  for (const [code, inUse] of [['EPERM', true], ['ESRCH', false]] as const) {
    process.kill = ((p: number, sig?: string | number) => {
      if (p === pid) throw Object.assign(new Error(`kill ${code}`), { code });
      return realKill.call(process, p, sig);
    }) as typeof process.kill;
    writeFileSync(lock, `${pid} - ${hostname()}\n`);
    if (inUse) {
      assert.throws(() => acquireRunLock(dir), (e: unknown) => (e as Error).message.startsWith(`run folder ${dir} is in use by another training (pid ${pid})`));
      assert.equal(readFileSync(lock, 'utf8'), `${pid} - ${hostname()}\n`, 'the lock is left alone');
    } else {
      const release = acquireRunLock(dir);
      assert.match(readFileSync(lock, 'utf8'), new RegExp(`^${process.pid} `));
      release();
    }
  }
});

test('a lock that reappears stale after every takeover is tried twice, then refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-lockfault-')), lock = join(dir, '.lock');
  let opens = 0;
  // Another process that keeps dropping a stale lock just before each of ours: EEXIST every time.
  failOn('openSync', '/.lock', () => {
    if (++opens > 10) throw fsError('EMFILE', lock);
    writeFileSync(lock, 'not a lock\n');
    throw fsError('EEXIST', lock);
  });
  assert.throws(() => acquireRunLock(dir), (e: unknown) => (e as Error).message === `run folder ${dir}: could not take ${lock}`);
  assert.equal(opens, 2);
});

test('a checkpoint whose temporary folder cannot be made fails with that error, not a second one from the clean-up', () => {
  const run = mkdtempSync(join(tmpdir(), 'nestar-ckfault-'));
  const tensors = { model: { w: { shape: [1], data: Float32Array.from([1]) } } };
  const first = saveCheckpoint(run, { format: CHECKPOINT_FORMAT, step: 1 } as never, tensors, 2);
  const final = join(run, 'checkpoints', 'step-0000002'), tmp = join(run, 'checkpoints', `.step-0000002.tmp-${process.pid}`);
  failOn('mkdirSync', `.tmp-${process.pid}`, () => { throw fsError('ENOSPC', tmp); });
  assert.throws(() => saveCheckpoint(run, { format: CHECKPOINT_FORMAT, step: 2 } as never, tensors, 2),
    (e: unknown) => (e as Error).message === `could not write checkpoint ${final} (ENOSPC at ${tmp}); the previous checkpoint is intact`);
  failOn('mkdirSync', `.tmp-${process.pid}`, () => { throw fsError(undefined, tmp, 'no inodes'); });
  assert.throws(() => saveCheckpoint(run, { format: CHECKPOINT_FORMAT, step: 2 } as never, tensors, 2),
    (e: unknown) => (e as Error).message === `could not write checkpoint ${final} (no inodes); the previous checkpoint is intact`);
  assert.ok(existsSync(join(first, 'state.json')) && !existsSync(final));
  assert.deepEqual(JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')), { checkpoint: 'checkpoints/step-0000001', step: 1 });
});
