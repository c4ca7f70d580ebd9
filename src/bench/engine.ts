// `nestar bench engine` (`npm run bench -- engine`): trains the reference model (bench/referenceModel.ts) on each available
// engine path, the identical model in PyTorch CPU when python3-torch is present, and measures the sgemm
// ceiling — all in this one run. Prints a table and writes results/engine.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { childScript, packageRoot } from './child.js';

const root = packageRoot();
const TRAIN_GFLOP = 81; // ≈ 3 x 27.0 GFLOP forward (research/ts-engines.md)
const FWD_GFLOP = 27.0;
const TOKENS = 64 * 64;

interface PathResult { path: string; ok: boolean; error?: string; backend?: string; openblas?: unknown; params?: number; trainMs?: number[]; forwardMs?: number[]; losses?: number[]; sgemmGflops?: number }

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : NaN; };

function runChild(path: string, steps: number, timeoutS: number): PathResult {
  const r = spawnSync(process.execPath, [...childScript('engineChild'), path, String(steps)],
    { encoding: 'utf8', timeout: timeoutS * 1000, cwd: root, env: { ...process.env } });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.status !== 0 || !line) return { path, ok: false, error: r.error ? `timed out after ${timeoutS} s` : (r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`) };
  return { path, ok: true, ...JSON.parse(line) };
}

function runTorch(steps: number): { ok: boolean; error?: string; torch?: string; trainMs?: number[]; forwardMs?: number[]; blas?: unknown; params?: number } {
  const py = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
  if (!py) return { ok: false, error: 'python3-torch not installed (Debian: apt-get install python3-torch)' };
  const r = spawnSync(py, [join(root, 'bench', 'reference_model.py'), String(steps), '5'], { encoding: 'utf8', timeout: 600_000 });
  const line = r.stdout.trim().split('\n').at(-1);
  if (r.status !== 0 || !line) return { ok: false, error: r.stderr.trim().split('\n').at(-1) ?? 'failed' };
  const j = JSON.parse(line);
  return { ok: true, torch: j.torch, trainMs: j.train_ms, forwardMs: j.forward_ms, blas: j.blas, params: j.params };
}

export async function engineBench(args: string[]): Promise<void> {
  const all = args.includes('--all');
  const steps = Number(args.find((a) => a.startsWith('--steps='))?.slice(8) ?? 8);
  const paths = all ? ['native', 'native-js', 'wasm', 'cpu'] : ['native', 'native-js', 'wasm'];
  const results: PathResult[] = [];
  for (const p of paths) {
    // Stock WASM takes ~10 s a step and pure JS ~200 s: fewer steps there.
    const n = p.startsWith('native') ? steps : p === 'wasm' ? 2 : 1;
    console.error(`engine bench: ${p} (${n} steps)…`);
    results.push(runChild(p, n, p === 'cpu' ? 1800 : 900));
  }
  console.error('engine bench: PyTorch…');
  const torch = runTorch(steps);
  const ceiling = results.find((r) => r.sgemmGflops)?.sgemmGflops;
  const torchTrain = torch.ok ? median(torch.trainMs!) : NaN, torchFwd = torch.ok ? median(torch.forwardMs!) : NaN;
  const rows = [...results.map((r) => ({ name: r.path, ok: r.ok, error: r.error, train: r.ok ? median(r.trainMs!) : NaN, fwd: r.ok ? median(r.forwardMs!) : NaN })),
    { name: `pytorch ${torch.torch ?? ''}`.trim(), ok: torch.ok, error: torch.error, train: torchTrain, fwd: torchFwd }];
  const lines = ['| path | train step ms | tokens/s | GFLOP/s | % ceiling | speed vs PyTorch (train) | forward b64 ms | speed vs PyTorch (fwd) |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    if (!r.ok) { lines.push(`| ${r.name} | not run: ${r.error} | | | | | | |`); continue; }
    const gf = TRAIN_GFLOP / (r.train / 1000);
    lines.push(`| ${r.name} | ${r.train.toFixed(0)} | ${(TOKENS / (r.train / 1000)).toFixed(0)} | ${gf.toFixed(1)} | ${ceiling ? ((100 * gf) / ceiling).toFixed(1) + ' %' : '–'} | ` +
      `${(torchTrain / r.train).toFixed(2)} | ${r.fwd.toFixed(0)} | ${(torchFwd / r.fwd).toFixed(2)} |`);
  }
  const table = lines.join('\n');
  console.log(table);
  console.log(`sgemm ceiling (1024^3, native addon): ${ceiling ? ceiling.toFixed(0) + ' GFLOP/s' : 'not measured'}; ratio = PyTorch time / path time (>= 1.0 means as fast as PyTorch or faster)`);
  // Same loss curve on both tfjs paths (same seed): the largest relative difference.
  const nat = results.find((r) => r.path === 'native' && r.ok), was = results.find((r) => r.path === 'wasm' && r.ok);
  let lossAgreement: number | undefined;
  if (nat && was) {
    const n = Math.min(nat.losses!.length, was.losses!.length);
    lossAgreement = Math.max(...Array.from({ length: n }, (_, i) => Math.abs(nat.losses![i]! - was.losses![i]!) / Math.abs(was.losses![i]!)));
    console.log(`loss curves native vs wasm over ${n} steps: max relative difference ${lossAgreement.toExponential(2)}`);
  }
  mkdirSync(join(root, 'results'), { recursive: true });
  const out = join(root, 'results', 'engine.json');
  writeFileSync(out, JSON.stringify({
    benchmark: 'engine', command: 'npm run bench -- engine' + (all ? ' --all' : ''), date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), env: { OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? null, OPENBLAS_L2_SIZE: process.env.OPENBLAS_L2_SIZE ?? null } },
    model: { batch: 64, seq: 64, width: 256, depth: 4, heads: 4, params: nat?.params, trainGflopPerStep: TRAIN_GFLOP, forwardGflop: FWD_GFLOP },
    sgemmCeilingGflops: ceiling ?? null, paths: results, pytorch: torch,
    ratiosVsPytorch: Object.fromEntries(rows.filter((r) => r.ok).map((r) => [r.name, { train: torchTrain / r.train, forward: torchFwd / r.fwd }])),
    lossAgreementNativeVsWasm: lossAgreement ?? null, table,
  }, null, 1) + '\n');
  console.log(`wrote ${out}`);
}
