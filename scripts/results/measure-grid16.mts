// Batch-1 sampling latency on the 16x16 latent grid (issue #20, scripts/results/emoji-latent.sh): the trained NestAR
// against raster AR (256 calls) and next-scale AR (5 calls) of the same config, parameter-matched, whose weights are
// one training step old: the time of a sample does not depend on the weights' values, and training the baselines
// is beyond this study's budget. Methods interleaved (machine noise hits all alike), 32 Euler steps, CFG 1.5 (any
// CFG != 1 costs the same), median of RUNS after one warm-up each; every sample is decoded to pixels by the tokenizer.
// Usage: node --import tsx scripts/results/measure-grid16.mts NESTAR_CKPT RASTER_RUN NEXTSCALE_RUN OUT.json [RUNS]
import { writeFileSync } from 'node:fs';
import { initBackend } from '../../src/engine/backend.ts';
import { loadPipeline } from '../../src/pipeline.ts';

const [nestar, raster, nextscale, outFile, runsArg] = process.argv.slice(2);
if (!nestar || !raster || !nextscale || !outFile) throw new Error('usage: measure-grid16.mts NESTAR_CKPT RASTER_RUN NEXTSCALE_RUN OUT.json [RUNS]');
const runs = Number(runsArg ?? 5);
const backend = await initBackend();
const paths = { nestar, raster, nextscale } as const;
const methods = Object.keys(paths) as (keyof typeof paths)[];
const pipes = Object.fromEntries(methods.map((m) => [m, loadPipeline(paths[m])]));
const times: Record<string, number[]> = Object.fromEntries(methods.map((m) => [m, []]));
const calls: Record<string, number> = {}, params: Record<string, number> = {};
for (let i = 0; i <= runs; i++) {
  for (const m of methods) {
    const t0 = performance.now();
    const r = await pipes[m]!.generate({ count: 1, classes: [i % 5], cfg: 1.5, odeSteps: 32, seed: i });
    if (i > 0) times[m]!.push(performance.now() - t0);
    calls[m] = r.backboneCalls;
    params[m] = pipes[m]!.model.params.count();
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = {
  command: `node --import tsx scripts/results/measure-grid16.mts ${process.argv.slice(2).join(' ')}`, backend: backend.name, date: new Date().toISOString(),
  settings: { batch: 1, odeSteps: 32, cfg: 1.5, solver: 'euler', runs: `median of ${runs} after 1 warm-up, methods interleaved` },
  methods: Object.fromEntries(methods.map((m) => [m, { checkpoint: paths[m], params: params[m], medianMs: median(times[m]!), timesMs: times[m], sequentialCalls: calls[m] }])),
  rasterOverNestar: median(times.raster!) / median(times.nestar!),
};
writeFileSync(outFile, JSON.stringify(out, null, 1) + '\n');
for (const m of methods) console.log(`${m}: ${median(times[m]!).toFixed(0)} ms, ${calls[m]} calls, ${params[m]} parameters`);
console.log(`raster / nestar: ${out.rasterOverNestar.toFixed(2)}x`);
for (const p of Object.values(pipes)) p.dispose();
