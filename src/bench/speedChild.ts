// One (method, grid) cell of the speed benchmark, in its own process so peak RSS is its own: part
// 'sample' (latency, throughput) or 'train' (training tokens/s), separate so a run out of WASM heap in
// one does not lose the other. Prints one JSON line.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.js';
import { createGenerator } from '../model/factory.js';
import type { Method } from '../model/generator.js';
import type { HeadKind } from '../flow/head.js';
import type { TokenOrder } from '../model/tokenOrder.js';
import { AdamW } from '../train/optimizer.js';
import { Rng } from '../util/rng.js';

export interface SpeedCellArgs {
  method: Method; grid: number; tokenDim: number; width: number; heads: number; headWidth: number; headDepth: number;
  headKind: HeadKind; order: TokenOrder;
  odeSteps: number; latencyRuns: number; batches: number[]; trainBatch: number; trainSteps: number; budgetS: number;
  part: 'sample' | 'train';
}

const args = JSON.parse(process.argv[2] ?? '{}') as SpeedCellArgs;
const info = await initBackend();
const g = createGenerator({ kind: args.method, gridSize: args.grid, tokenDim: args.tokenDim, width: args.width, heads: args.heads,
  headWidth: args.headWidth, headDepth: args.headDepth, headKind: args.headKind, ...(args.method === 'nestar' ? { order: args.order } : {}) }, 0);
const opts = { classes: 3, cfg: 1, odeSteps: args.odeSteps, solver: 'euler' as const };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const n = args.grid * args.grid;
if (args.part === 'train') {
  // Training throughput: tokens per second of loss + backward + AdamW on random tokens.
  const opt = new AdamW(g.params.vars, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 });
  const x = tf.randomNormal([args.trainBatch, n, args.tokenDim], 0, 1, 'float32', 1) as tf.Tensor3D;
  const labels = new Int32Array(args.trainBatch).fill(1);
  const rng = new Rng(0);
  const stepMs: number[] = [];
  for (let i = 0; i <= args.trainSteps; i++) {
    const t0 = performance.now();
    const { value, grads } = g.params.grads(() => g.loss(x, labels, rng, { headRepeats: 1 }).total);
    opt.apply(grads, 1e-4);
    value.dataSync();
    tf.dispose([value, ...grads.values()]);
    if (i > 0) stepMs.push(performance.now() - t0);
  }
  console.log(JSON.stringify({ trainBatch: args.trainBatch, trainStepMs: median(stepMs), trainTokensPerS: (args.trainBatch * n) / (median(stepMs) / 1000),
    trainPeakRssMB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}
// Warm-up, then latency at batch 1 (median of runs).
const warm = await g.sample({ count: 1, ...opts, seed: 0 });
const latencyMs: number[] = [];
for (let i = 0; i < args.latencyRuns; i++) {
  const t0 = performance.now();
  await g.sample({ count: 1, ...opts, seed: i + 1 });
  latencyMs.push(performance.now() - t0);
}
// Throughput at growing batches while one batch stays within the time budget.
const throughput: Array<{ batch: number; imagesPerS: number }> = [];
let skippedBatches = '';
for (const b of args.batches) {
  const t0 = performance.now();
  try {
    await g.sample({ count: b, ...opts, seed: 99 });
  } catch (e) {
    skippedBatches = `batch ${b}: ${(e as Error).message.split('\n')[0]}`;
    break;
  }
  const s = (performance.now() - t0) / 1000;
  throughput.push({ batch: b, imagesPerS: b / s });
  if (s > args.budgetS) { skippedBatches = `batches above ${b} not tried: one batch of ${b} took ${s.toFixed(1)} s (budget ${args.budgetS} s)`; break; }
}
console.log(JSON.stringify({
  method: args.method, grid: args.grid, n, backend: info.name, params: g.params.count(),
  calls: warm.backboneCalls, expectedCalls: g.sequentialSteps, backboneEvals: warm.backboneCalls, headEvals: warm.headEvals,
  latencyMs, latencyMedianMs: median(latencyMs), throughput, skippedBatches,
  peakRssMB: process.resourceUsage().maxRSS / 1024,
}));
