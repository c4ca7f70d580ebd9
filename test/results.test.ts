// The shipped results (issue #10): the shipped NestAR checkpoint, re-evaluated with the recorded small-N
// command, reproduces the recorded figures; RESULTS.md is what the generator makes from the committed JSONs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNestar } from './cliRun.js';

const root = new URL('..', import.meta.url).pathname;
const recordedPath = join(root, 'results/mnist-patch/nestar/eval-small/report.json');

test('the shipped NestAR checkpoint re-evaluates to the figures recorded in results/', () => {
  assert.ok(existsSync(join(root, 'checkpoints/mnist-patch/nestar/state.json')), 'checkpoints/mnist-patch/nestar is shipped');
  assert.ok(existsSync(recordedPath), 'the recorded small-N report is shipped');
  const recorded = JSON.parse(readFileSync(recordedPath, 'utf8')) as { command: string; rows: Array<{ fd: number; recall: number; precision: number; n: number }> };
  // Same command as recorded (checkpoint path relative to the repo), output elsewhere.
  const args = recorded.command.replace(/^nestar /, '').replace(/ --out \S+/, '').split(' ');
  const out = mkdtempSync(join(tmpdir(), 'nestar-results-'));
  const r = spawnNestar([...args, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const now = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as typeof recorded;
  const [a, b] = [recorded.rows[0]!, now.rows[0]!];
  assert.equal(b.n, a.n);
  assert.ok(Math.abs(b.fd - a.fd) <= 0.02 * a.fd, `FD ${b.fd} vs recorded ${a.fd}`);
  assert.ok(Math.abs(b.recall - a.recall) <= 0.03 && Math.abs(b.precision - a.precision) <= 0.03, `recall ${b.recall} / precision ${b.precision} vs recorded ${a.recall} / ${a.precision}`);
});

test('results/RESULTS.md is exactly what make-results.mts makes from the committed report JSONs', () => {
  // Guards against hand edits and against a report JSON changing without the page being regenerated.
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/results/make-results.mts'), '--check'], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /matches the report JSONs/);
});

test('the colour curve fit recovers an exact power law of the excess FD, and refuses fewer than three points', async () => {
  const { excessFdFit } = await import('../scripts/results/colour-results.mts');
  const row = (fd: number) => ({ label: '', n: 500, fd, recall: 0, precision: 0 });
  // FD = 10 + 40 * h^-0.5 at h = 0.5, 1, 2, 4.
  const points = [0.5, 1, 2, 4].map((hours) => ({ hours, best: row(10 + 40 * hours ** -0.5), real: row(10) }));
  const fit = excessFdFit(points)!;
  assert.ok(Math.abs(fit.scale - 40) < 1e-9 && Math.abs(fit.exponent + 0.5) < 1e-12, JSON.stringify(fit));
  assert.equal(excessFdFit(points.slice(0, 2)), null);
});
