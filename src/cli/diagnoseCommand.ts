// `nestar diagnose`: the exposure gap of a checkpoint, per module, as a table and JSON (issue #11).
import { resolve } from 'node:path';
import { describeBackend, initBackend, parseBackendName } from '../engine/backend.js';
import { loadSplit } from '../data/load.js';
import { loadPipeline } from '../pipeline.js';
import { exposureGapTable, measureExposureGap } from '../eval/exposureGap.js';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { choice, num, parse, UsageError } from './args.js';

export const DIAGNOSE_HELP = `nestar diagnose --checkpoint PATH [--n 512] [--batch 64] [--ode-steps 16] [--repeats 4] [--seed 0]
  [--weights ema|raw] [--out diagnose.json] [--backend B]
  exposure gap: each module's flow-matching loss on held-out images with ground-truth vs model-sampled prefixes`;

export async function diagnoseCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { checkpoint: { type: 'string' }, n: { type: 'string' }, batch: { type: 'string' }, 'ode-steps': { type: 'string' },
    repeats: { type: 'string' }, seed: { type: 'string' }, weights: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(DIAGNOSE_HELP);
  if (typeof a.checkpoint !== 'string') throw new UsageError('--checkpoint PATH is required (a checkpoint folder or a run folder)');
  const n = num(a.n, 'n', { int: true, min: 1 }) ?? 512;
  const opts = {
    batchSize: num(a.batch, 'batch', { int: true, min: 1 }) ?? 64, odeSteps: num(a['ode-steps'], 'ode-steps', { int: true, min: 1 }) ?? 16,
    headRepeats: num(a.repeats, 'repeats', { int: true, min: 1 }) ?? 4, seed: num(a.seed, 'seed', { int: true, min: 0 }) ?? 0,
  };
  const weights = choice(a.weights, 'weights', ['ema', 'raw'] as const) ?? 'ema';
  const out = resolve(typeof a.out === 'string' ? a.out : 'diagnose.json');
  const info = await initBackend(typeof a.backend === 'string' ? parseBackendName(a.backend, '--backend') : undefined);
  console.error(describeBackend(info));
  const pipe = loadPipeline(a.checkpoint, { weights });
  const dc = pipe.config.data;
  // Held-out images: MNIST's test split, or the held-out split of emoji or a folder (what training never saw).
  const ds = loadSplit(dc, 'heldout', { limit: n });
  const count = Math.min(n, ds.count);
  const t0 = performance.now();
  const r = measureExposureGap(pipe.model, pipe.tokenizer.encode(ds).subarray(0, count * pipe.model.numTokens * pipe.tokenizer.tokenDim),
    ds.labels.subarray(0, count), count, opts);
  const secs = (performance.now() - t0) / 1000;
  const report = {
    kind: 'nestar-exposure-gap', checkpoint: pipe.source, step: pipe.step, method: pipe.model.method, coord: pipe.config.coord?.mode ?? 'none',
    weights, data: dc.source === 'mnist' ? 'mnist test' : dc.source, backend: info.name, ...opts, seconds: secs, ...r,
  };
  const table = exposureGapTable(r);
  console.log(`exposure gap of ${pipe.model.method} (coord ${report.coord}, step ${pipe.step}) on ${r.images} held-out images, prefixes sampled with ${opts.odeSteps} ODE steps:`);
  console.log(table);
  atomicWriteFile(out, JSON.stringify(report, null, 1) + '\n');
  atomicWriteFile(out.replace(/\.json$/i, '') + '.md', `# Exposure gap: ${pipe.model.method}, coord ${report.coord}\n\n${table}\n`);
  console.log(`wrote ${out} (${secs.toFixed(1)} s)`);
  pipe.dispose();
}
