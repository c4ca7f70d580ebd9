// Measurements RESULTS.md needs beyond `nestar eval` and `nestar diagnose` (issue #10), from the shipped
// checkpoints: latency at batch 1 (median of 5 after a warm-up, counted calls) and the nested-generation
// stage figure per method (rows: samples; columns: the canvas after each module / scale / eighth of tokens).
// Usage: node --import tsx scripts/results/measure.mts [checkpoints/mnist-patch] [results/mnist-patch]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/backend.ts';
import { loadPipeline } from '../../src/pipeline.ts';
import { METHODS } from '../../src/model/generator.ts';
import { writeImageGrid } from '../../src/util/png.ts';

const [ckRoot = 'checkpoints/mnist-patch', outRoot = 'results/mnist-patch'] = process.argv.slice(2);
const backend = await initBackend();
mkdirSync(outRoot, { recursive: true });
const latency: Record<string, unknown> = { backend: backend.name, date: new Date().toISOString(), settings: { batch: 1, odeSteps: 32, cfg: 2, solver: 'euler' }, methods: {} };
type Pipe = ReturnType<typeof loadPipeline>;
/** Median of 5 batch-1 generations after one warm-up run, and the backbone calls each made. */
async function batchOneLatency(pipe: Pipe, odeSteps: number): Promise<{ times: number[]; calls: number }> {
  const times: number[] = [];
  let calls = 0;
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const r = await pipe.generate({ count: 1, classes: i % 10, cfg: 2, odeSteps, seed: i });
    if (i > 0) times.push(performance.now() - t0); // the first run warms up
    calls = r.backboneCalls;
  }
  return { times: times.sort((a, b) => a - b), calls };
}
for (const m of METHODS) {
  const pipe = loadPipeline(join(ckRoot, m));
  const { times, calls } = await batchOneLatency(pipe, 32);
  if (m === 'nestar') {
    // The ODE-step ablation's latency column: the same checkpoint at other step counts.
    const byOdeSteps: Record<number, number> = {};
    for (const s of [4, 8, 16, 32, 64]) byOdeSteps[s] = s === 32 ? times[2]! : (await batchOneLatency(pipe, s)).times[2]!; // 32: the main table's figure
    latency.nestarLatencyByOdeSteps = byOdeSteps;
  }
  (latency.methods as Record<string, unknown>)[m] = { medianMs: times[2], timesMs: times, sequentialCalls: calls, params: pipe.model.params.count(), step: pipe.step };
  console.log(`${m}: ${calls} calls, median latency ${times[2]!.toFixed(0)} ms at batch 1`);
  // Stages: 6 samples (classes 0..5); a snapshot after each module (nestar), scale (nextscale), eighth (raster).
  const count = 6, snaps: Float32Array[] = [];
  let lastModule = 0, last: Float32Array | null = null;
  await pipe.generate({
    count, classes: [0, 1, 2, 3, 4, 5], cfg: 3, odeSteps: 32, seed: 1,
    onStep: (p) => {
      const img = p.images().data;
      if (m === 'raster') { if (p.calls % Math.round(p.totalCalls / 8) === 0) snaps.push(img); }
      else { if (last && p.module !== lastModule) snaps.push(last); last = img; lastModule = p.module; if (p.calls === p.totalCalls) snaps.push(img); }
    },
  });
  // Arrange as rows = samples, columns = stages.
  const per = pipe.tokenizer.imageSize ** 2 * pipe.tokenizer.channels, cols = snaps.length;
  const grid = new Float32Array(count * cols * per);
  for (let s = 0; s < count; s++) for (let c = 0; c < cols; c++) grid.set(snaps[c]!.subarray(s * per, (s + 1) * per), (s * cols + c) * per);
  writeImageGrid(join(outRoot, `stages-${m}.png`), { data: grid, count: count * cols, height: pipe.tokenizer.imageSize, width: pipe.tokenizer.imageSize, channels: pipe.tokenizer.channels }, cols);
  pipe.dispose();
}
writeFileSync(join(outRoot, 'latency.json'), JSON.stringify(latency, null, 1) + '\n');
