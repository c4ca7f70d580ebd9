// Batch-1 latency of the 3600-step checkpoints of the long comparison (issue #17), NestAR and raster AR measured in
// one run, interleaved (so machine noise hits both alike): 32 Euler steps, guidance on (CFG 1.25, their best; any
// CFG != 1 costs the same), median of 7 after a warm-up each. Writes results/mnist-patch/long/latency.json.
// Usage: node --import tsx scripts/results/measure-long.mts
import { writeFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.ts';
import { loadPipeline } from '../../src/pipeline.ts';

const backend = await initBackend();
const methods = ['nestar', 'raster'] as const;
const pipes = Object.fromEntries(methods.map((m) => [m, loadPipeline(`checkpoints/mnist-patch/long/${m}-3600`)]));
const times: Record<string, number[]> = { nestar: [], raster: [] };
const calls: Record<string, number> = {};
for (let i = 0; i < 8; i++) {
  for (const m of methods) {
    const t0 = performance.now();
    const r = await pipes[m]!.generate({ count: 1, classes: [i % 10], cfg: 1.25, odeSteps: 32, seed: i });
    if (i > 0) times[m]!.push(performance.now() - t0);
    calls[m] = r.backboneCalls;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = { command: 'node --import tsx scripts/results/measure-long.mts', backend: backend.name, date: new Date().toISOString(),
  settings: { batch: 1, odeSteps: 32, cfg: 1.25, solver: 'euler', runs: 'median of 7 after 1 warm-up, methods interleaved' },
  methods: Object.fromEntries(methods.map((m) => [m, { medianMs: median(times[m]!), timesMs: times[m], sequentialCalls: calls[m] }])),
  rasterOverNestar: median(times.raster!) / median(times.nestar!) };
writeFileSync('results/mnist-patch/long/latency.json', JSON.stringify(out, null, 1) + '\n');
console.log(`nestar ${median(times.nestar!).toFixed(0)} ms, raster ${median(times.raster!).toFixed(0)} ms: ${out.rasterOverNestar.toFixed(2)}x`);
for (const p of Object.values(pipes)) p.dispose();
