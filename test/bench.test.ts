import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { speedBench, formulas, failureReason } from '../src/bench/speed.js';
import { wasmHeapHint } from '../src/engine/heapError.js';

test('the quick speed bench runs and writes well-formed JSON whose call counts equal the formulas', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'nestar-bench-'));
  await speedBench(['--quick'], { outDir, log: () => {} });
  const j = JSON.parse(readFileSync(join(outDir, 'bench.json'), 'utf8'));
  assert.equal(j.benchmark, 'speed');
  assert.deepEqual(j.skipped, []);
  assert.equal(j.cells.length, 6, 'three methods on two grids');
  const want: Record<string, Record<number, number>> = { nestar: { 16: 7, 64: 10 }, raster: { 16: 16, 64: 64 }, nextscale: { 16: 3, 64: 4 } };
  for (const c of j.cells) {
    assert.equal(c.calls, want[c.method]![c.n], `${c.method} n=${c.n}`);
    assert.equal(c.calls, formulas[c.method as 'nestar'](c.n));
    assert.equal(c.calls, c.expectedCalls);
    assert.ok(c.latencyMedianMs > 0 && c.trainTokensPerS > 0 && c.peakRssMB > 0 && c.throughput.length > 0);
  }
  for (const f of ['bench-calls.svg', 'bench-latency.svg']) {
    const svg = readFileSync(join(outDir, f), 'utf8');
    assert.match(svg, /^<svg[^>]*>[\s\S]*<\/svg>\n$/);
    assert.ok((svg.match(/<polyline/g) ?? []).length >= 3);
  }
});

test('bench profile splits a training step and a sample into registered kernels and the time outside them', async () => {
  const { profileBench } = await import('../src/bench/profile.js');
  const dir = mkdtempSync(join(tmpdir(), 'nestar-profile-'));
  const config = join(dir, 'tiny.json'), out = join(dir, 'profile.json');
  writeFileSync(config, JSON.stringify({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1, headKind: 'patch', headHeads: 2 },
    tokenizer: { patch: 8 }, train: { batchSize: 4 } }));
  const log = console.log;
  console.log = () => {};
  try { await profileBench(['--config', config, '--steps', '1', '--out', out]); } finally { console.log = log; }
  const j = JSON.parse(readFileSync(out, 'utf8')) as { phases: Array<{ wallMs: number; kernelMs: number; outsideMs: number; kernelCalls: number; kernels: Array<{ kernel: string; calls: number; ms: number }> }> };
  assert.equal(j.phases.length, 2);
  for (const p of j.phases) {
    assert.ok(p.wallMs > 0 && p.kernels.length > 3, JSON.stringify(p).slice(0, 200));
    // Scope records of custom-gradient ops are not kernels: counting them would count their kernels twice.
    for (const k of p.kernels) assert.ok(tf.getKernel(k.kernel, tf.getBackend()), `${k.kernel} is a registered kernel`);
    assert.ok(Math.abs(p.kernels.reduce((s, k) => s + k.ms, 0) - p.kernelMs) < 1e-6);
    assert.ok(p.kernels.some((k) => k.kernel === 'BatchMatMul' || k.kernel === '_FusedMatMul' || k.kernel === 'MatMul'));
  }
});

test('a WASM heap that ran out is named as such, with what to do, in the CLI error and in bench cells', () => {
  for (const msg of ['Aborted()', 'RuntimeError: memory access out of bounds', 'RuntimeError: table index is out of bounds']) {
    const hint = wasmHeapHint(msg);
    assert.ok(hint && /4 GiB/.test(hint) && /--micro-batch/.test(hint) && /native-js/.test(hint), `${msg}: ${hint}`);
  }
  assert.equal(wasmHeapHint("ENOENT: no such file or directory, open 'x.json'"), null);
  // The child's stderr as Emscripten writes it: the module source, then the error line, then the stack.
  const stderr = 'var Module=typeof WasmBackendModule!="undefined"...\n\nRuntimeError: Aborted(). Build with -sASSERTIONS for more info.\n    at abort (x.js:9)\n';
  assert.match(failureReason(stderr), /^WASM heap exhausted \(Aborted\(\)/);
  assert.equal(failureReason('Error: checkpoint x is missing\n    at y'), 'Error: checkpoint x is missing');
});
