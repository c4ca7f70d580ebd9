import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { loadPipeline } from '../src/pipeline.js';
import { nestarCli } from './cliRun.js';

const cli = (...args: string[]) => nestarCli(args);

let runDir = '';
before(async () => {
  await setup();
  runDir = mkdtempSync(join(tmpdir(), 'nestar-cli-'));
  const cfg = resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, train: { steps: 2, batchSize: 8, checkpointEvery: 2, sampleEvery: 100 } });
  const t = Trainer.create(cfg, { runDir, data: loadMnist({ split: 'train', limit: 16 }) });
  t.trainStep(); t.trainStep();
  t.saveCheckpoint();
  t.dispose();
});

test('sample writes a PNG grid and reports the counted sequential calls', () => {
  const out = join(runDir, 'grid.png');
  const r = cli('sample', '--checkpoint', runDir, '--n', '4', '--class', '3', '--cfg', '2', '--ode-steps', '2', '--seed', '0', '--out', out);
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.ok(existsSync(out));
  assert.equal(readFileSync(out).readUInt32BE(0), 0x89504e47);
  assert.match(r.stdout, /sequential backbone calls: 10 \(n1 \+ \(M-1\)\(k-1\) = 10\)/);
});

test('unknown flag: one line naming it, exit 2', () => {
  const r = cli('sample', '--checkpoint', runDir, '--bogus', '1');
  assert.equal(r.code, 2);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /--bogus/);
});

test('bad flag value: names the flag and what was expected', () => {
  const r = cli('sample', '--checkpoint', runDir, '--n', 'many');
  assert.equal(r.code, 2);
  assert.deepEqual(r.err, ["nestar: --n expects an integer >= 1, got 'many'"]);
});

test('missing checkpoint: one line, non-zero exit', () => {
  const r = cli('sample', '--checkpoint', join(runDir, 'nope'));
  assert.equal(r.code, 1);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /checkpoint '.*nope' does not exist/);
});

test('checkpoint of another architecture: one line naming the mismatch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-cli-arch-'));
  const ck = join(runDir, 'checkpoints', 'step-0000002');
  // Same weights, but a config that says width 32: the weights no longer fit.
  const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
  state.config.model.width = 32;
  for (const f of ['model', 'ema', 'optimizer']) writeFileSync(join(dir, `${f}.safetensors`), readFileSync(join(ck, `${f}.safetensors`)));
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
  const r = cli('sample', '--checkpoint', dir);
  assert.equal(r.code, 1);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /does not match this model: '.*' has shape/);
});

test('out-of-range class: one line with the valid range, exit 2', () => {
  const r = cli('sample', '--checkpoint', runDir, '--class', '12');
  assert.equal(r.code, 2);
  assert.deepEqual(r.err, ['nestar: --class 12 is out of range: this model has classes 0..9']);
});

test('unknown command and invalid config value are one-line errors', () => {
  assert.equal(cli('fly').code, 2);
  const r = cli('train', '--out', join(runDir, 'x'), '--k', '3', '--steps', '1');
  assert.equal(r.code, 1);
  assert.deepEqual(r.err, ['nestar: error: model.k must be a power of 2 and at least 2 (4 gives square patches), got 3']);
});

test('sample --method that differs from the checkpoint: one line naming both', () => {
  const r = cli('sample', '--checkpoint', runDir, '--method', 'raster');
  assert.equal(r.code, 1);
  assert.equal(r.err.length, 1);
  assert.match(r.err[0]!, /holds a 'nestar' model, but --method raster was asked for/);
});

test('train --method raster writes a checkpoint that samples with n sequential calls', () => {
  const out = join(runDir, 'raster-run');
  const t = cli('train', '--method', 'raster', '--out', out, '--steps', '1', '--batch-size', '4', '--limit', '8', '--width', '16', '--depth', '1', '--heads', '2', '--patch', '8', '--sample-every', '100');
  assert.equal(t.code, 0, t.err.join('\n'));
  const r = cli('sample', '--checkpoint', out, '--method', 'raster', '--n', '2', '--class', '1', '--ode-steps', '1', '--out', join(out, 'g.png'));
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.match(r.stdout, /sequential backbone calls: 16 \(n = 16\)/);
});

test('export: F32 copy samples exactly like the run, --fp16 halves the weights file and samples within half-precision error', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'nestar-cli-export-'));
  const full = join(outside, 'export-f32'), half = join(outside, 'export-f16');
  for (const [out, extra] of [[full, []], [half, ['--fp16']]] as const) {
    const r = cli('export', '--checkpoint', runDir, '--out', out, ...extra);
    assert.equal(r.code, 0, r.err.join('\n'));
  }
  assert.ok(statSync(join(half, 'ema.safetensors')).size < 0.55 * statSync(join(full, 'ema.safetensors')).size);
  assert.equal(JSON.parse(readFileSync(join(half, 'state.json'), 'utf8')).exportedFrom.storage, 'F16');
  const gen = async (dir: string) => {
    const p = loadPipeline(dir);
    const r = await p.generate({ count: 4, classes: [0, 1, 2, 3], cfg: 2, odeSteps: 4, seed: 3 });
    p.dispose();
    return r.images.data;
  };
  const [a, b, c] = [await gen(runDir), await gen(full), await gen(half)];
  assert.deepEqual(b, a);
  let maxDiff = 0, differs = false;
  for (let i = 0; i < a.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(c[i]! - a[i]!)); differs ||= c[i] !== a[i]; }
  assert.ok(differs, 'F16 weights should perturb the samples a little (else the file was not re-encoded)');
  assert.ok(maxDiff < 0.02, `max pixel difference F16 vs F32: ${maxDiff}`);
});
