// Where a training step of the results config spends JavaScript time (issue #19): V8's sampling profiler over a few
// steps, in process (node:inspector), and the functions with the most self time per step. Native and WASM kernels
// show as the JS function that calls them, so this is the view for the time `nestar bench profile` counts as
// outside kernels. Only uses APIs that older trees have too, so it can be copied into a worktree of an earlier commit
// (as speed-ab.sh does with speed-probe.mts) for a before/after.
// Usage: node --import tsx scripts/results/js-hotspots.mts [--method nestar|raster|nextscale] [--steps 10] [--top 15]
import { Session } from 'node:inspector/promises';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../../src/engine/backend.ts';
import { loadMnist } from '../../src/data/mnist.ts';
import { resolveRunConfig } from '../../src/train/config.ts';
import { Trainer } from '../../src/train/trainer.ts';

const { values: a } = parseArgs({ options: { method: { type: 'string', default: 'nestar' }, steps: { type: 'string', default: '10' }, top: { type: 'string', default: '15' } } });
const steps = Number(a.steps), top = Number(a.top);
await initBackend();
const input = JSON.parse(readFileSync('results/configs/mnist-patch-long.json', 'utf8'));
const cfg = resolveRunConfig({ ...input, model: { ...input.model, kind: a.method } });
const runDir = mkdtempSync(join(tmpdir(), 'nestar-hotspots-'));
const t = Trainer.create(cfg, { runDir, data: loadMnist({ split: 'train', limit: 512, padTo: cfg.data.imageSize }), warn: () => {} });
t.trainStep(); t.trainStep(); // warm-up
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < steps; i++) t.trainStep();
const wall = (performance.now() - t0) / steps;
const { profile } = await session.post('Profiler.stop');
session.disconnect();
t.dispose();
rmSync(runDir, { recursive: true, force: true });
const byNode = new Map<number, number>();
profile.samples!.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + profile.timeDeltas![i]! / 1000));
const self = new Map<string, number>();
for (const n of profile.nodes) {
  const ms = byNode.get(n.id);
  if (!ms) continue;
  const f = n.callFrame;
  // A frame without a script is native code: the native pack's kernels (called from JS) and V8's own work.
  const key = f.url ? `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}` : f.functionName && !f.functionName.startsWith('(anon') ? f.functionName : '(native code: the kernel pack, BLAS)';
  self.set(key, (self.get(key) ?? 0) + ms);
}
console.log(`${a.method} training step: ${wall.toFixed(0)} ms (mean of ${steps}, profiled); self time per step:`);
for (const [k, ms] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${(ms / steps).toFixed(1).padStart(8)} ms  ${k}`);
