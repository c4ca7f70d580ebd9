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
  // The training step's matmuls by shape: their time is part of their kernels' time, and each rate is FLOPs / time.
  const train = (j.phases[0] as unknown as { matmuls: Array<{ kernel: string; ms: number; gflop: number; gflops: number }>; kernels: Array<{ kernel: string; ms: number }> });
  assert.ok(train.matmuls.length > 0 && train.matmuls.every((r) => r.gflop > 0));
  const mmKernels = new Set(train.matmuls.map((r) => r.kernel));
  const kernelMs = train.kernels.filter((k) => mmKernels.has(k.kernel)).reduce((s, k) => s + k.ms, 0);
  assert.ok(Math.abs(train.matmuls.reduce((s, r) => s + r.ms, 0) - kernelMs) < 1e-6);
  for (const r of train.matmuls) if (r.ms > 0) assert.ok(Math.abs(r.gflops - r.gflop / (r.ms / 1000)) < 1e-6 * r.gflops);
});

test('bench profile --method reference profiles one training step of the engine benchmark\'s reference transformer, every linear layer\'s three products counted', async () => {
  const { profileBench } = await import('../src/bench/profile.js');
  const { REF } = await import('../src/bench/referenceModel.js');
  const out = join(mkdtempSync(join(tmpdir(), 'nestar-profile-')), 'ref.json');
  const log = console.log;
  console.log = () => {};
  try { await profileBench(['--method', 'reference', '--steps', '1', '--out', out]); } finally { console.log = log; }
  const j = JSON.parse(readFileSync(out, 'utf8')) as { method: string; phases: Array<{ wallMs: number; matmuls: Array<{ gflop: number }> }> };
  assert.equal(j.method, 'reference');
  assert.equal(j.phases.length, 1);
  // Forward, input gradient and weight gradient of every linear layer (q, k, v, proj, fc1, fc2 per block; the
  // embedding and the output layer); attention's own products run inside its kernel, bias sums are not matmuls.
  // Without the native pack, bias sums (and LayerNorm's gain and shift gradients) are [1, N]·[N, C] products and
  // attention is six batched products a block.
  const { NORM_GRAD_KERNEL, SUM_ROWS_KERNEL, SELF_ATTENTION_KERNEL } = await import('../src/engine/fusedOps.js');
  const { batch: B, seq: L, width: C, depth, heads: H, inDim } = REF, rows = B * L;
  let flops = 3 * (depth * 2 * rows * (3 * C * C + C * C + 8 * C * C) + 2 * 2 * rows * inDim * C);
  if (!tf.getKernel(SUM_ROWS_KERNEL, tf.getBackend())) flops += 2 * rows * (depth * 9 * C + C + inDim);
  if (!tf.getKernel(NORM_GRAD_KERNEL, tf.getBackend())) flops += (2 * depth + 1) * 2 * 2 * rows * C;
  if (!tf.getKernel(SELF_ATTENTION_KERNEL, tf.getBackend())) flops += depth * 6 * 2 * B * H * L * L * (C / H);
  const gflop = j.phases[0]!.matmuls.reduce((s, r) => s + r.gflop, 0);
  assert.ok(j.phases[0]!.wallMs > 0);
  assert.ok(Math.abs(gflop * 1e9 - flops) < 1e-6 * flops, `matmul GFLOP ${gflop} vs ${flops / 1e9}`);
});

test("the profile's matmul FLOPs follow the recorded shapes, transposed or batched", async () => {
  const { matmulFlops } = await import('../src/bench/profile.js');
  const cases: Array<[tf.Tensor, tf.Tensor, boolean, boolean, number]> = [
    [tf.ones([7, 3]), tf.ones([7, 5]), true, false, 2 * 3 * 5 * 7], // aᵀ·b: inner size 7 from a's rows
    [tf.ones([3, 7]), tf.ones([5, 7]), false, true, 2 * 3 * 5 * 7],
    [tf.ones([4, 3, 7]), tf.ones([4, 7, 5]), false, false, 4 * 2 * 3 * 5 * 7],
    [tf.ones([2, 6, 6]), tf.ones([6, 6]), true, false, 2 * 2 * 6 * 6 * 6],
  ];
  for (const [a, b, ta, tb, want] of cases) {
    const info = await tf.profile(() => tf.matMul(a, b, ta, tb));
    const k = info.kernels.find((x) => x.name === 'BatchMatMul')!;
    assert.equal(matmulFlops(k.name, k.inputShapes, k.outputShapes[0]!), want, `${a.shape}·${b.shape} ${ta} ${tb}`);
  }
  assert.equal(matmulFlops('NestarLinear', [[10, 4], [4, 6], [6]], [10, 6]), 2 * 10 * 4 * 6);
  assert.equal(matmulFlops('NestarLinearResidualNorm', [[10, 4], [4, 6], [6], [10, 6], [6], [6]], [10, 6]), 2 * 10 * 4 * 6);
  assert.equal(matmulFlops('Add', [[2], [2]], [2]), undefined);
  tf.dispose(cases.flatMap(([a, b]) => [a, b]));
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
