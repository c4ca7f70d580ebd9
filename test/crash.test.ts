// Kill anywhere, resume exactly: a real training run (the CLI, in a child process) is SIGKILLed at random
// moments 20 times and resumed each time; every checkpoint on disk must load, and the final weights must
// equal those of an uninterrupted run with the same seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { Rng } from '../src/util/rng.js';

const root = new URL('..', import.meta.url).pathname;
const cli = [...['--import', 'tsx'], join(root, 'src/cli/main.ts')];
const KILLS = 20;

test(`training survives ${KILLS} SIGKILLs at random moments and ends bit-identical to an uninterrupted run`, { timeout: 600_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'nestar-kill-'));
  const cfg = join(work, 'run.json');
  writeFileSync(cfg, JSON.stringify({
    model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, data: { limit: 64 }, tokenizer: { patch: 8 },
    train: { steps: 500, batchSize: 8, checkpointEvery: 3, sampleEvery: 100000, keepCheckpoints: 3, warmupSteps: 5, seed: 3 },
  }));
  const ref = join(work, 'ref');
  const r = await trainChild(['train', '--config', cfg, '--out', ref]);
  assert.equal(r.code, 0, r.stderr);
  // Kill delays scale with this machine's speed: the uninterrupted run's time from its first output (the backend
  // line) to its exit, split over the lives so that even 20 longest lives together cover at most 80 % of it and the
  // run cannot finish before the last kill (fixed delays let a fast CI machine finish after 17).
  const maxDelayMs = Math.max(20, Math.floor((0.8 * r.afterFirstOutputMs) / KILLS));

  const run = join(work, 'killed');
  const rng = new Rng(11);
  let kills = 0, finished = false, lives = 0;
  while (!finished) {
    const args = existsSync(join(run, 'latest.json')) ? ['train', '--out', run, '--resume'] : ['train', '--config', cfg, '--out', run];
    lives++;
    // Kill once the process is up (its backend line), after a random delay: mid-start, mid-step or mid-checkpoint.
    const { code, signal, stderr } = await trainChild(args, kills < KILLS ? 1 + rng.int(maxDelayMs) : undefined);
    if (signal === 'SIGKILL') kills++;
    else {
      assert.equal(code, 0, `life ${lives} failed: ${stderr}`);
      finished = kills >= KILLS;
      if (!finished) assert.fail(`the run finished after only ${kills} kills (kill delays up to ${maxDelayMs} ms; the uninterrupted run took ${Math.round(r.afterFirstOutputMs)} ms after its first output)`);
    }
    // Every checkpoint on disk loads; none is partial.
    const ckDir = join(run, 'checkpoints');
    if (existsSync(ckDir)) for (const d of readdirSync(ckDir).filter((x) => /^step-\d+$/.test(x))) loadCheckpoint(join(ckDir, d));
    if (existsSync(join(run, 'latest.json'))) loadCheckpoint(run);
  }
  const a = loadCheckpoint(ref), b = loadCheckpoint(run);
  assert.equal(b.state.step, 500);
  for (const [name, t] of Object.entries(a.tensors.model)) assert.deepEqual(b.tensors.model[name]!.data, t.data, `${name} differs after ${kills} kills`);
  for (const [name, t] of Object.entries(a.tensors.ema)) assert.deepEqual(b.tensors.ema[name]!.data, t.data, `EMA ${name} differs`);
  console.log(`# kill harness: ${kills} SIGKILLs over ${lives} process lives; final weights bit-identical`);
});

/**
 * `nestar ARGS` in a child process, SIGKILLed `killAfterMs` after its first stderr output when given; the time from
 * that first output to its exit is measured.
 */
async function trainChild(args: string[], killAfterMs?: number) {
  const child = spawn(process.execPath, [...cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '', firstOutput = 0, timer: NodeJS.Timeout | undefined;
  child.stderr.once('data', () => {
    firstOutput = performance.now();
    if (killAfterMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  });
  child.stderr.on('data', (d) => { stderr += d; });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('exit', (c, s) => res([c, s])));
  clearTimeout(timer);
  return { code, signal, stderr, afterFirstOutputMs: performance.now() - firstOutput };
}

/** A tiny 9-step run checkpointing every 3 steps (the placed-kill tests); returns the config file's path. */
function nineStepConfig(work: string, train: object = {}): string {
  const cfg = join(work, 'run.json');
  writeFileSync(cfg, JSON.stringify({
    model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, data: { limit: 32 }, tokenizer: { patch: 8 },
    train: { steps: 9, batchSize: 8, checkpointEvery: 3, sampleEvery: 100000, warmupSteps: 2, seed: 5, ...train },
  }));
  return cfg;
}

/** `nestar train ARGS` in a child process, with extra environment (the kill hooks). */
const train = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [...cli, 'train', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

test('a kill half-way through writing a checkpoint leaves the previous one loadable, its leftovers are cleared, and resume is exact', async () => {
  const work = mkdtempSync(join(tmpdir(), 'nestar-kill-write-'));
  const cfg = nineStepConfig(work);
  const ref = join(work, 'ref');
  assert.equal(train(['--config', cfg, '--out', ref]).status, 0);
  const run = join(work, 'run');
  const killed = train(['--config', cfg, '--out', run], { NESTAR_TEST_KILL_IN_CHECKPOINT: '6' });
  assert.equal(killed.signal, 'SIGKILL', 'the process died in the middle of writing checkpoint 6');
  // The kill landed mid-write: a partial step-6 folder is on disk, and latest.json still names step 3.
  const ckDir = join(run, 'checkpoints');
  const partial = readdirSync(ckDir).filter((d) => /^\.step-0000006\.tmp-\d+$/.test(d));
  assert.equal(partial.length, 1, `a partial checkpoint was left: ${readdirSync(ckDir).join(', ')}`);
  assert.equal(loadCheckpoint(run).state.step, 3);
  const resumed = train(['--out', run, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(!readdirSync(ckDir).some((d) => d.startsWith('.step-')), 'the partial checkpoint is cleared on the next write');
  const a = loadCheckpoint(ref), b = loadCheckpoint(run);
  assert.equal(b.state.step, 9);
  for (const [name, t] of Object.entries(a.tensors.model)) assert.deepEqual(b.tensors.model[name]!.data, t.data, name);
});

test('a kill half-way through pruning an old checkpoint leaves no step folder without its state.json, and the leftover is cleared', () => {
  const work = mkdtempSync(join(tmpdir(), 'nestar-kill-prune-'));
  const cfg = nineStepConfig(work, { keepCheckpoints: 1 });
  const run = join(work, 'run');
  // Saving step 6 prunes step 3 (keep 1); the hook kills the process in the middle of deleting it.
  const killed = train(['--config', cfg, '--out', run], { NESTAR_TEST_KILL_IN_PRUNE: 'step-0000003' });
  assert.equal(killed.signal, 'SIGKILL', `the process died while pruning: ${killed.stderr}`);
  const ckDir = join(run, 'checkpoints');
  for (const d of readdirSync(ckDir).filter((x) => /^step-\d+$/.test(x))) loadCheckpoint(join(ckDir, d));
  assert.deepEqual(readdirSync(ckDir).filter((x) => /^step-\d+$/.test(x)), ['step-0000006'], 'the half-deleted checkpoint no longer carries a step name');
  assert.equal(readdirSync(ckDir).filter((d) => /^\.step-0000003\.del-\d+$/.test(d)).length, 1, `the leftover is hidden: ${readdirSync(ckDir).join(', ')}`);
  assert.equal(loadCheckpoint(run).state.step, 6);
  const resumed = train(['--out', run, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(readdirSync(ckDir).sort(), ['step-0000009'], 'the next save clears the leftover and prunes step 6');
});
