// Speed of the tree it runs in (issue #19's side-by-side), in ms: batch-1 sampling latency of the shipped
// 3600-step NestAR and raster AR checkpoints (32 Euler steps, CFG 1.25) and of a NestAR of the same widths at 8x8
// and 16x16 token grids (patch head, interleaved order, random weights: the cost does not depend on them; CFG 2),
// and one training step of the long results config (results/configs/mnist-patch-long.json) for NestAR and raster
// AR; each the median of 5 after a warm-up. Prints one JSON line. Only uses APIs that older trees have too, so
// speed-ab.sh can copy it into a worktree of an earlier commit.
import { initBackend } from '../../src/engine/backend.ts';
import { loadPipeline } from '../../src/pipeline.ts';
import { createGenerator } from '../../src/model/factory.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist } from '../../src/data/mnist.ts';
import { resolveRunConfig } from '../../src/train/config.ts';
import { Trainer } from '../../src/train/trainer.ts';

await initBackend();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(run: (i: number) => Promise<unknown>): Promise<number> {
  await run(0);
  const ms: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const t0 = performance.now();
    await run(i);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}
const out: Record<string, number> = {};
for (const m of ['nestar', 'raster']) {
  const p = loadPipeline(`checkpoints/mnist-patch/long/${m}-3600`);
  out[`${m}-3600 8x8`] = await time((i) => p.generate({ count: 1, classes: [i % 10], cfg: 1.25, odeSteps: 32, seed: i }));
  p.dispose();
}
for (const grid of [8, 16]) {
  const g = createGenerator({ kind: 'nestar', gridSize: grid, tokenDim: 16, width: 128, heads: 4, headWidth: 96, headDepth: 2, headKind: 'patch', headHeads: 4, order: 'interleaved' } as never, 0);
  out[`nestar ${grid}x${grid}`] = await time((i) => g.sample({ count: 1, classes: 3, cfg: 2, odeSteps: 32, seed: i }));
}
const input = JSON.parse(readFileSync('results/configs/mnist-patch-long.json', 'utf8'));
const data = loadMnist({ split: 'train', limit: 512, padTo: 32 });
for (const kind of ['nestar', 'raster']) {
  const runDir = mkdtempSync(join(tmpdir(), 'nestar-speed-'));
  const t = Trainer.create(resolveRunConfig({ ...input, model: { ...input.model, kind } }), { runDir, data, warn: () => {} });
  out[`${kind} train step`] = await time(async () => t.trainStep());
  t.dispose();
  rmSync(runDir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
