// Issue #23: a disk that fills up at any file nestar writes — every file of a checkpoint, of an export, a
// sample grid — gives one clear error naming that file, leaves what was there before intact and leaves no
// temporary files behind. The fault is injected by NESTAR_TEST_DISK_FULL (src/util/atomicWrite.ts): the
// matching write fails with ENOSPC after half its bytes, in this process or in a CLI child.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setup } from './helpers.js';
import { nestarCli } from './cliRun.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { loadCheckpoint, resolveCheckpointDir } from '../src/train/checkpoint.js';

const tiny = { model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, train: { steps: 100, batchSize: 8, checkpointEvery: 100, sampleEvery: 100, warmupSteps: 1 } };
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-diskfull-'));
const data = () => loadMnist({ split: 'train', limit: 16 });

/** Every file under `dir` (relative paths, hidden ones included) with its bytes. */
function snapshot(dir: string): Map<string, string> {
  return new Map(readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile())
    .map((e) => { const p = join(e.parentPath, e.name); return [relative(dir, p), readFileSync(p).toString('base64')]; }));
}

before(setup);
after(() => { delete process.env.NESTAR_TEST_DISK_FULL; });

test('disk full at each file of a checkpoint: the error names the file, the previous checkpoint loads, no temporary is left, the next save and resume work', () => {
  const dir = tmp();
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: dir, data: data() });
  t.trainStep();
  const first = t.saveCheckpoint();
  // The files one save writes, read from the save itself rather than listed here.
  const files = [...readdirSync(first).map((f) => `/${f}`), '/latest.json'];
  assert.ok(files.length >= 5, `a checkpoint is at least model, ema, optimizer, state.json and latest.json: ${files.join(', ')}`);
  t.trainStep();
  for (const f of files) {
    const before = snapshot(first);
    process.env.NESTAR_TEST_DISK_FULL = f;
    assert.throws(() => t.saveCheckpoint(), (e: Error) => {
      assert.match(e.message, new RegExp(`could not write checkpoint .*step-0000002 \\(ENOSPC at \\S*${f.replace('.', '\\.')}\\); the previous checkpoint is intact`));
      return true;
    }, f);
    delete process.env.NESTAR_TEST_DISK_FULL;
    assert.equal(loadCheckpoint(dir).state.step, 1, `after a failed ${f} the run still resumes from step 1`);
    assert.deepEqual(snapshot(first), before, `the step-1 checkpoint is untouched by the failed ${f}`);
    const leftovers = [...snapshot(dir).keys()].filter((p) => /(^|\/)\.[^/]*(tmp|\.old)/.test(p));
    assert.deepEqual(leftovers, [], `no temporary files after a failed ${f}`);
  }
  t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  const resumed = Trainer.resume({ runDir: dir, data: data() });
  assert.equal(resumed.step, 3);
  resumed.dispose();
});

test('disk full while exporting over a previous export or writing a sample grid: one line naming the file, exit 1, the old files byte-identical', () => {
  const dir = tmp(), run = join(dir, 'run');
  const t = Trainer.create(resolveRunConfig(tiny), { runDir: run, data: data() });
  t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  const target = join(dir, 'exported');
  assert.equal(nestarCli(['export', '--checkpoint', run, '--out', target]).code, 0);
  const exportFiles = readdirSync(resolveCheckpointDir(target));
  assert.ok(exportFiles.includes('ema.safetensors') && exportFiles.includes('state.json'), exportFiles.join(', '));
  const grid = join(dir, 'grid.png');
  const sample = ['sample', '--checkpoint', run, '--n', '2', '--class', '1', '--ode-steps', '1', '--seed', '0', '--out', grid];
  assert.equal(nestarCli(sample).code, 0);
  const cases: Array<[string, string[]]> = [
    ...exportFiles.map((f): [string, string[]] => [`/${f}`, ['export', '--checkpoint', run, '--out', target, '--fp16']]),
    ['grid.png', sample],
  ];
  for (const [file, args] of cases) {
    const before = snapshot(dir);
    const r = nestarCli(args, { NESTAR_TEST_DISK_FULL: file });
    assert.equal(r.code, 1, `${file}: ${r.err.join('\n')}`);
    const said = r.err.filter((l) => !/it\/s/.test(l)); // progress bars aside
    assert.equal(said.length, 1, `one line, no stack trace: ${r.err.join('\n')}`);
    const why = 'no space left on the device \\(ENOSPC\\)', name = file.replace(/^\//, '').replace('.', '\\.');
    assert.match(said[0]!, args[0] === 'export'
      ? new RegExp(`^nestar: error: could not export to ${target}: ${why} writing ${name}; the previous export there is unchanged$`)
      : new RegExp(`^nestar: error: cannot write ${grid}: ${why}$`));
    assert.deepEqual(snapshot(dir), before, `a failed write of ${file} changes no file and leaves no temporary`);
  }
});
