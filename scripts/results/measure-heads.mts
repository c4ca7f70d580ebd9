// Batch-1 latency of the flow-head / token-order variants (scripts/results/heads.sh), measured in one run
// next to the shipped per-token NestAR and raster AR so the ratios compare like with like.
// Usage: node --import tsx scripts/results/measure-heads.mts
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadPipeline } from '../../src/pipeline.ts';

const backend = await initBackend();
const ck = 'checkpoints/mnist-patch';
const entries: Array<[string, string]> = [['nestar (token head, zorder)', join(ck, 'nestar')], ['raster', join(ck, 'raster')],
  ...['phead-interleaved', 'phead-zorder', 'thead-interleaved', 'phead-interleaved-gp'].map((v) => [v, join(ck, 'heads', v)] as [string, string])];
const out: Record<string, unknown> = { backend: backend.name, date: new Date().toISOString(), settings: { batch: 1, odeSteps: 32, cfg: 2, solver: 'euler', runs: 'median of 5 after 1 warm-up' }, variants: {} };
for (const [name, path] of entries) {
  if (!existsSync(join(path, 'state.json'))) { console.log(`${name}: no checkpoint at ${path}, skipped`); continue; }
  const pipe = loadPipeline(path);
  const times: number[] = [];
  let calls = 0;
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    calls = (await pipe.generate({ count: 1, classes: i % 10, cfg: 2, odeSteps: 32, seed: i })).backboneCalls;
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  (out.variants as Record<string, unknown>)[name] = { medianMs: times[2], timesMs: times, sequentialCalls: calls, params: pipe.model.params.count(), step: pipe.step };
  console.log(`${name}: ${calls} calls, ${pipe.model.params.count()} parameters, median ${times[2]!.toFixed(0)} ms at batch 1`);
  pipe.dispose();
}
writeFileSync('results/mnist-patch/heads/latency.json', JSON.stringify(out, null, 1) + '\n');
