// `nestar bench profile`: where a training step and a batch-1 sample of the results config spend their time, per
// tfjs kernel, and how much is neither kernel (tfjs dispatch, JavaScript between kernels, tensor bookkeeping). The
// step is timed without profiling (median of a few steps), then profiled once with tf.profile, whose per-kernel
// times come from the backend's timer; dispatch and JS = unprofiled wall time − the kernels' sum. Matmuls are also
// grouped by shape with their rate against the sgemm ceiling measured in the same run, which says whether a step's
// matmul time can still fall. Writes results/profile-<method>.json and prints a table per phase. The engine work of issue #19 is chosen from this.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describeBackend, initBackend, type BackendInfo } from '../engine/backend.js';
import { AdamW } from '../train/optimizer.js';
import { REF, ReferenceModel } from './referenceModel.js';
import { loadMnist } from '../data/mnist.js';
import { METHODS, type Method } from '../model/generator.js';
import { resolveRunConfig, type RunConfigInput } from '../train/config.js';
import { Trainer } from '../train/trainer.js';
import { packageRoot } from './child.js';
import { ADAMW_KERNEL } from '../engine/fusedOps.js';
import { engineFlags } from '../engine/flags.js';
import { sgemmCeilingGflops } from './sgemmCeiling.js';

export const PROFILE_HELP = `nestar bench profile [--config results/configs/mnist-patch-long.json] [--method nestar|raster|nextscale|reference] [--steps 3] [--top 12] [--out results/profile-<method>.json]
  per-kernel share of a training step and of one batch-1 sample (32 ODE steps, CFG 2), and the time outside kernels;
  --method reference: a training step of the engine benchmark's reference transformer (nestar bench engine) instead`;

interface KernelRow { kernel: string; calls: number; ms: number; share: number }
/** The matmuls of one shape (kernel, input shapes): their time, FLOPs and rate, to set against the sgemm ceiling. */
interface MatmulRow { kernel: string; shapes: string; calls: number; ms: number; gflop: number; gflops: number }
interface Phase { name: string; wallMs: number; kernelMs: number; outsideMs: number; outsideShare: number; kernelCalls: number; kernels: KernelRow[]; matmuls: MatmulRow[] }

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** FLOPs of one matmul kernel call from its recorded shapes (undefined for other kernels). BatchMatMul's inner size
 * comes from a's last two dimensions and the output's rows, so it needs no transpose flags; NestarLinear is
 * x[N, in]·w[in, out] + b (+ r), NestarLinearResidualNorm the same product (its norm is not a matmul). */
export function matmulFlops(kernel: string, inputShapes: number[][], outputShape: number[]): number | undefined {
  if (kernel === 'NestarLinear' || kernel === 'NestarLinearResidualNorm') return 2 * prod(outputShape) * inputShapes[0]![inputShapes[0]!.length - 1]!;
  if (kernel !== 'BatchMatMul') return undefined;
  const a = inputShapes[0]!, m = outputShape[outputShape.length - 2]!;
  return 2 * prod(outputShape) * ((a[a.length - 1]! * a[a.length - 2]!) / m);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

export async function profilePhase(name: string, run: () => unknown | Promise<unknown>, repeats: number): Promise<Phase> {
  const walls: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    walls.push(performance.now() - t0);
  }
  const info = await tf.profile(async () => { await run(); return [] as tf.Tensor[]; });
  const by = new Map<string, { calls: number; ms: number }>();
  const mm = new Map<string, Omit<MatmulRow, 'gflops'>>();
  const backend = tf.getBackend();
  // A custom-gradient op (tf.customGrad: Linear, LayerNorm, …) is recorded as well as the kernels it runs, under
  // a scope name ('forward', 'unnamed scope'); only registered kernels are counted, so nothing is counted twice.
  for (const k of info.kernels) {
    if (!tf.getKernel(k.name, backend)) continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++; e.ms += ms;
    by.set(k.name, e);
    const flops = matmulFlops(k.name, k.inputShapes, k.outputShapes[0] ?? []);
    if (flops !== undefined) {
      const shapes = k.inputShapes.map((x) => `[${x.join(',')}]`).join('·'), key = `${k.name} ${shapes}`;
      const r = mm.get(key) ?? { kernel: k.name, shapes, calls: 0, ms: 0, gflop: 0 };
      r.calls++; r.ms += ms; r.gflop += flops / 1e9;
      mm.set(key, r);
    }
  }
  const matmuls = [...mm.values()].map((r) => ({ ...r, gflops: r.gflop / (r.ms / 1000) })).sort((a, b) => b.ms - a.ms);
  const wallMs = median(walls), kernelMs = [...by.values()].reduce((s, e) => s + e.ms, 0);
  const kernels = [...by].map(([kernel, e]) => ({ kernel, calls: e.calls, ms: e.ms, share: e.ms / wallMs })).sort((a, b) => b.ms - a.ms);
  const outsideMs = Math.max(0, wallMs - kernelMs);
  return { name, wallMs, kernelMs, outsideMs, outsideShare: outsideMs / wallMs, kernelCalls: info.kernels.length, kernels, matmuls };
}

export function table(p: Phase, top: number): string {
  const lines = [`${p.name}: ${p.wallMs.toFixed(0)} ms (median, unprofiled), ${p.kernelCalls} kernel calls`, '| kernel | calls | ms | share |', '|---|---|---|---|'];
  for (const k of p.kernels.slice(0, top)) lines.push(`| ${k.kernel} | ${k.calls} | ${k.ms.toFixed(1)} | ${(100 * k.share).toFixed(1)} % |`);
  const rest = p.kernels.slice(top);
  if (rest.length) lines.push(`| ${rest.length} other kernels | ${rest.reduce((s, k) => s + k.calls, 0)} | ${rest.reduce((s, k) => s + k.ms, 0).toFixed(1)} | ${(100 * rest.reduce((s, k) => s + k.share, 0)).toFixed(1)} % |`);
  lines.push(`| outside kernels (dispatch, JS, bookkeeping) | | ${p.outsideMs.toFixed(1)} | ${(100 * p.outsideShare).toFixed(1)} % |`);
  return lines.join('\n');
}

/** The phase's matmuls by shape: time, rate and rate against the sgemm ceiling measured in the same run. */
export function matmulTable(p: Phase, top: number, ceiling: number | undefined): string {
  const all = p.matmuls.reduce((s, r) => ({ ms: s.ms + r.ms, gflop: s.gflop + r.gflop }), { ms: 0, gflop: 0 });
  const pct = (g: number) => (ceiling ? `${((100 * g) / ceiling).toFixed(0)} %` : '–');
  const rate = all.gflop / (all.ms / 1000);
  const lines = [`${p.name}: matmuls ${all.ms.toFixed(0)} ms for ${all.gflop.toFixed(1)} GFLOP (${rate.toFixed(0)} GFLOP/s, ${pct(rate)} of the sgemm ceiling${ceiling ? ` ${ceiling.toFixed(0)} GFLOP/s` : ''}); at the ceiling they would take ${ceiling ? ((all.gflop / ceiling) * 1000).toFixed(0) : '–'} ms`,
    '| kernel | input shapes | calls | ms | GFLOP | GFLOP/s | of ceiling |', '|---|---|---|---|---|---|---|'];
  for (const r of p.matmuls.slice(0, top)) lines.push(`| ${r.kernel} | ${r.shapes} | ${r.calls} | ${r.ms.toFixed(1)} | ${r.gflop.toFixed(2)} | ${r.gflops.toFixed(0)} | ${pct(r.gflops)} |`);
  return lines.join('\n');
}

/** The same training step with the fused optimizer kernels and op by op, interleaved so machine noise hits both
 * alike (the weights keep training across the pairs; both paths give the same bits). Undefined without the kernels. */
function fusedOptimizerAb(step: () => unknown, pairs: number): { fusedMs: number; opsMs: number; speedup: number; pairs: number } | undefined {
  if (!tf.getKernel(ADAMW_KERNEL, tf.getBackend())) return undefined;
  const on: number[] = [], off: number[] = [];
  try {
    for (let i = 0; i < 2 * pairs; i++) {
      const fused = i % 2 === 0;
      engineFlags.fusedOptimizer = fused;
      const t0 = performance.now();
      step();
      (fused ? on : off).push(performance.now() - t0);
    }
  } finally {
    engineFlags.fusedOptimizer = true;
  }
  const fusedMs = median(on), opsMs = median(off);
  return { fusedMs, opsMs, speedup: opsMs / fusedMs, pairs };
}

export async function profileBench(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return void console.log(PROFILE_HELP);
  const flag = (n: string) => args.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : undefined);
  const configPath = flag('config') ?? join(packageRoot(), 'results', 'configs', 'mnist-patch-long.json');
  const method = (flag('method') ?? 'nestar') as Method | 'reference';
  if (method !== 'reference' && !METHODS.includes(method)) throw new Error(`--method must be one of ${METHODS.join(', ')}, reference, got '${method}'`);
  const steps = Number(flag('steps') ?? 3), top = Number(flag('top') ?? 12);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got '${flag('steps')}'`);
  const info = await initBackend();
  console.error(describeBackend(info));
  const out = flag('out') ?? join(packageRoot(), 'results', `profile-${method}.json`);
  if (method === 'reference') return profileReference(args, info, steps, top, out);
  const input = JSON.parse(readFileSync(configPath, 'utf8')) as RunConfigInput;
  const cfg = resolveRunConfig({ ...input, model: { ...input.model, kind: method } as RunConfigInput['model'] });
  const runDir = mkdtempSync(join(tmpdir(), 'nestar-profile-'));
  try {
    const t = Trainer.create(cfg, { runDir, data: loadMnist({ split: 'train', limit: 512, padTo: cfg.data.imageSize }), warn: () => {} });
    t.trainStep(); // warm-up: kernels compiled, buffers allocated
    const train = await profilePhase(`${method} training step (batch ${cfg.train.batchSize})`, () => t.trainStep(), steps);
    const sample = await profilePhase(`${method} sample, batch 1, 32 ODE steps, CFG 2`, () => t.model.sample({ count: 1, classes: 3, cfg: 2, odeSteps: 32, seed: 0 }), Math.max(1, Math.min(steps, 3)));
    const fusedOptimizer = fusedOptimizerAb(() => t.trainStep(), 2 * steps);
    t.dispose();
    const sgemmCeiling = sgemmCeilingGflops() ?? null;
    const report = { command: `nestar bench profile ${args.join(' ')}`.trim(), date: new Date().toISOString(), backend: info, config: configPath, method, sgemmCeilingGflops: sgemmCeiling, phases: [train, sample], fusedOptimizer };
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
    const ab = fusedOptimizer ? `training step with the fused AdamW + EMA kernels ${fusedOptimizer.fusedMs.toFixed(0)} ms vs op by op ${fusedOptimizer.opsMs.toFixed(0)} ms (medians of ${fusedOptimizer.pairs} interleaved pairs): ${fusedOptimizer.speedup.toFixed(3)}× faster` : 'no fused optimizer kernels on this backend';
    console.log([table(train, top), '', matmulTable(train, top, sgemmCeiling ?? undefined), '', table(sample, top), '', ab, `wrote ${out}`].join('\n'));
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** The engine benchmark's reference transformer (batch 64, sequence 64, width 256): one AdamW training step. */
async function profileReference(args: string[], info: BackendInfo, steps: number, top: number, out: string): Promise<void> {
  const model = new ReferenceModel(0);
  const opt = new AdamW(model.ps.vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const x = tf.randomNormal([REF.batch, REF.seq, REF.inDim], 0, 1, 'float32', 1) as tf.Tensor3D;
  const y = tf.randomNormal([REF.batch, REF.seq, REF.inDim], 0, 1, 'float32', 2) as tf.Tensor3D;
  const step = () => {
    const { value, grads } = model.ps.grads(() => model.loss(x, y));
    opt.apply(grads, 1e-4);
    value.dataSync();
    tf.dispose([value, ...grads.values()]);
  };
  step(); // warm-up
  const train = await profilePhase(`reference transformer training step (batch ${REF.batch}, sequence ${REF.seq}, width ${REF.width})`, step, steps);
  tf.dispose([x, y]);
  model.dispose();
  const sgemmCeiling = sgemmCeilingGflops() ?? null;
  const report = { command: `nestar bench profile ${args.join(' ')}`.trim(), date: new Date().toISOString(), backend: info, method: 'reference', sgemmCeilingGflops: sgemmCeiling, phases: [train] };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
  console.log([table(train, top), '', matmulTable(train, top, sgemmCeiling ?? undefined), `wrote ${out}`].join('\n'));
}
