// `nestar bench speed` (`npm run bench -- speed`): NestAR vs raster AR vs next-scale AR at matched
// parameter count on growing token grids — counted sequential calls, network evaluations, latency at
// batch 1, throughput, training tokens/s, peak RSS. Cells run in child processes, methods interleaved
// (every pass visits nestar, raster, nextscale in turn for each grid) so machine drift hits all alike.
import type { HeadKind } from '../flow/head.js';
import { HEAD_KINDS } from '../flow/head.js';
import { TOKEN_ORDERS, type TokenOrder } from '../model/tokenOrder.js';
import { UsageError } from '../cli/args.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { childScript, packageRoot } from './child.js';
import type { SpeedCellArgs } from './speedChild.js';
import { METHODS, type Method } from '../model/generator.js';
import { WASM_HEAP_EXHAUSTED } from '../engine/heapError.js';
import { lineChartSvg } from '../util/svgPlot.js';

interface Cell {
  method: Method; grid: number; n: number; params: number; calls: number; expectedCalls: number; backboneEvals: number; headEvals: number;
  latencyMs: number[]; latencyMedianMs: number; throughput: Array<{ batch: number; imagesPerS: number }>; skippedBatches: string;
  trainBatch?: number; trainTokensPerS?: number; trainPeakRssMB?: number; trainSkipped?: string; peakRssMB: number; backend: string;
  trainBackend?: string; retriedBecause?: string; trainRetriedBecause?: string;
}

/** One line saying why a child failed: a WASM trap or abort means the 4 GiB wasm32 heap ran out. */
export function failureReason(stderr: string, error?: Error): string {
  if (error) return error.message.includes('ETIMEDOUT') ? 'timed out' : error.message;
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('var Module') && !l.startsWith('at '));
  const err = lines.find((l) => /^(RuntimeError|Error|TypeError|RangeError)\b/.test(l));
  if (err && WASM_HEAP_EXHAUSTED.test(err)) return `WASM heap exhausted (${err.split(':').slice(1).join(':').trim()}; wasm32 caps tfjs's heap at 4 GiB)`;
  return err ?? lines.at(-1) ?? 'failed';
}

type CellRun = { ok: true; value: Record<string, unknown> } | { ok: false; why: string };

function runCellOn(args: SpeedCellArgs, env: NodeJS.ProcessEnv): CellRun {
  const r = spawnSync(process.execPath, [...childScript('speedChild'), JSON.stringify(args)], { encoding: 'utf8', timeout: 1800_000, maxBuffer: 64 << 20, env });
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.status !== 0 || !line) return { ok: false, why: failureReason(r.stderr ?? '', r.error) };
  return { ok: true, value: JSON.parse(line) as Record<string, unknown> };
}

const HEAP = new RegExp(`^WASM heap exhausted|${WASM_HEAP_EXHAUSTED.source}`);

/** One cell part; where the native path's 4 GiB wasm32 heap runs out (the part fails, or sampling loses its
 * throughput batches), it is run again on 'native-js' (JS-owned tensors, no cap), which the cell then names. */
function runCell(args: SpeedCellArgs): CellRun {
  const first = runCellOn(args, process.env);
  const onNative = process.env.NESTAR_BACKEND === undefined || process.env.NESTAR_BACKEND === 'auto' || process.env.NESTAR_BACKEND === 'native';
  const ranOut = first.ok ? HEAP.test(String(first.value.skippedBatches ?? '')) : HEAP.test(first.why);
  if (!ranOut || !onNative || (first.ok && first.value.backend !== 'native')) return first;
  const why = first.ok ? String(first.value.skippedBatches) : first.why;
  const again = runCellOn(args, { ...process.env, NESTAR_BACKEND: 'native-js' });
  if (!again.ok) return first.ok ? first : { ok: false, why: `${first.why}; on native-js: ${again.why}` };
  return { ok: true, value: { ...again.value, ...(args.part === 'train' ? { trainBackend: 'native-js', trainRetriedBecause: why } : { backend: 'native-js', retriedBecause: why }) } };
}

const K = 4, N1 = 4;
/** Largest batch x tokens tried for throughput (the 4 GiB WASM heap holds next-scale's 128 x 340-token attention maps no longer). */
const MAX_BATCH_TOKENS = 8192;
export const formulas: Record<Method, (n: number) => number> = {
  nestar: (n) => N1 + (Math.round(Math.log(n / N1) / Math.log(K))) * (K - 1), // = 1 + (k-1) log_k n when n1 = k
  raster: (n) => n,
  nextscale: (n) => Math.log2(Math.sqrt(n)) + 1,
};

/** The Markdown table of a speed run (also used to re-render results/bench.json). */
export function speedTable(cells: Cell[]): string {
  const js = (b?: string) => (b === 'native-js' ? ' ²' : '');
  const rows = ['| grid | n | method | params | sequential calls (formula) | head evals | latency, batch 1 | throughput | train tokens/s | peak RSS |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  for (const c of cells) {
    const best = c.throughput.reduce<{ batch: number; imagesPerS: number } | undefined>((a, b) => (!a || b.imagesPerS > a.imagesPerS ? b : a), undefined);
    rows.push(`| ${c.grid}x${c.grid} | ${c.n} | ${c.method} | ${(c.params / 1e6).toFixed(2)}M | ${c.calls} (${formulas[c.method](c.n)}) | ${c.headEvals} | ` +
      `${c.latencyMedianMs.toFixed(0)} ms${js(c.backend)} | ${best ? `${best.imagesPerS.toFixed(1)} img/s @ ${best.batch}${js(c.backend)}` : 'not measured ¹'} | ` +
      `${c.trainTokensPerS === undefined ? 'not measured ¹' : c.trainTokensPerS.toFixed(0) + js(c.trainBackend)} | ${Math.max(c.peakRssMB, c.trainPeakRssMB ?? 0).toFixed(0)} MB |`);
  }
  if (cells.some((c) => c.backend === 'native-js' || c.trainBackend === 'native-js')) {
    rows.push('', '² on the native-js backend: the native path ran out of its 4 GiB wasm32 heap there (the cell\'s retriedBecause says how)');
  }
  const notes = cells.flatMap((c) => [c.throughput.length === 0 && c.skippedBatches ? `${c.method} ${c.grid}x${c.grid} throughput: ${c.skippedBatches}` : '',
    c.trainSkipped ? `${c.method} ${c.grid}x${c.grid} training: ${c.trainSkipped}` : ''].filter(Boolean));
  return rows.join('\n') + (notes.length ? '\n\n¹ ' + notes.join('; ') : '');
}

export interface SpeedOptions { quick: boolean; outDir?: string; log?: (s: string) => void }

export { type Cell as SpeedCell };

export async function speedBench(args: string[], opts: Partial<SpeedOptions> = {}): Promise<{ json: string; cells: Cell[] }> {
  const quick = opts.quick ?? args.includes('--quick');
  const log = opts.log ?? ((s: string) => console.error(s));
  const grids = quick ? [4, 8] : [4, 8, 16, 32];
  const passes = quick ? 1 : 2;
  // --head patch: NestAR (modules >= 2) and next-scale AR with the patch flow head (raster AR keeps its per-token head).
  const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  const headKind = (flag('--head') ?? 'token') as HeadKind, order = (flag('--order') ?? 'zorder') as TokenOrder;
  if (!HEAD_KINDS.includes(headKind)) throw new UsageError(`--head expects one of ${HEAD_KINDS.join(', ')}, got '${headKind}'`);
  if (!TOKEN_ORDERS.includes(order)) throw new UsageError(`--order expects one of ${TOKEN_ORDERS.join(', ')}, got '${order}'`);
  const base = { tokenDim: 16, width: 128, heads: 4, headWidth: 128, headDepth: 2, headKind, order, odeSteps: quick ? 4 : 16 };
  const runs: Cell[][] = [];
  const skipped: string[] = [];
  const t0 = performance.now();
  for (let pass = 0; pass < passes; pass++) {
    for (const grid of grids) {
      for (const method of METHODS) {
        const n = grid * grid;
        // Batches up to MAX_BATCH_TOKENS tokens: the WASM heap (4 GiB) must hold the batch's attention maps.
        const batches = (quick ? [8] : [8, 16, 32, 64, 128]).filter((b) => b === 8 || b * n <= MAX_BATCH_TOKENS);
        const cellArgs: Omit<SpeedCellArgs, 'part'> = { ...base, method, grid, latencyRuns: quick ? 1 : 2,
          batches, budgetS: quick ? 5 : 45, trainBatch: quick ? 4 : Math.max(2, Math.min(16, MAX_BATCH_TOKENS / 4 / n)), trainSteps: quick ? 1 : 3 };
        log(`bench speed: pass ${pass + 1}/${passes}, ${grid}x${grid} (n=${n}), ${method}…`);
        const s = runCell({ ...cellArgs, part: 'sample' });
        if (!s.ok) {
          skipped.push(`${method} ${grid}x${grid} sampling (pass ${pass + 1}): ${s.why}`);
          log(`  skipped: ${s.why}`);
          continue;
        }
        const cell = s.value as unknown as Cell;
        // Training throughput once per cell (the last pass), in its own process.
        if (pass === passes - 1) {
          const t = runCell({ ...cellArgs, part: 'train' });
          if (t.ok) Object.assign(cell, t.value);
          else {
            cell.trainSkipped = t.why;
            skipped.push(`${method} ${grid}x${grid} training (batch ${cellArgs.trainBatch}): ${t.why}`);
            log(`  training skipped: ${t.why}`);
          }
        }
        (runs[pass] ??= []).push(cell);
      }
    }
  }
  // Combine passes: latency = median over every run of every pass; other fields from the last pass.
  const cells: Cell[] = [];
  for (const grid of grids) {
    for (const method of METHODS) {
      const all = runs.flatMap((p) => p.filter((c) => c.grid === grid && c.method === method));
      if (all.length === 0) continue;
      const lat = all.flatMap((c) => c.latencyMs).sort((a, b) => a - b);
      cells.push({ ...all.at(-1)!, latencyMs: lat, latencyMedianMs: lat[Math.floor((lat.length - 1) / 2)]!, peakRssMB: Math.max(...all.map((c) => c.peakRssMB)) });
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const table = speedTable(cells);
  console.log(table);
  const at = (m: Method, g: number) => cells.find((c) => c.method === m && c.grid === g);
  const targets: Record<string, unknown> = {};
  const tg = grids.includes(16) ? 16 : grids.at(-1)!;
  const [ne, ra, nx] = [at('nestar', tg), at('raster', tg), at('nextscale', tg)];
  if (ne && ra) targets[`latencyRasterOverNestar_${tg}x${tg}`] = ra.latencyMedianMs / ne.latencyMedianMs;
  if (ne && nx) targets[`latencyNestarOverNextscale_${tg}x${tg}`] = ne.latencyMedianMs / nx.latencyMedianMs;
  targets[`calls_${tg}x${tg}`] = { nestar: ne?.calls, raster: ra?.calls, nextscale: nx?.calls };
  console.log(`targets at ${tg}x${tg}: raster/nestar latency ${Number(targets[`latencyRasterOverNestar_${tg}x${tg}`] ?? NaN).toFixed(1)}x (target >= 10), ` +
    `nestar/nextscale ${Number(targets[`latencyNestarOverNextscale_${tg}x${tg}`] ?? NaN).toFixed(2)}x (target <= 1.5); calls ${JSON.stringify(targets[`calls_${tg}x${tg}`])}`);
  for (const s of skipped) console.log(`skipped: ${s}`);
  const outDir = opts.outDir ?? join(packageRoot(), 'results');
  mkdirSync(outDir, { recursive: true });
  const series = (f: (c: Cell) => number) => METHODS.map((m) => ({ name: m, points: cells.filter((c) => c.method === m).map((c) => [c.n, f(c)] as [number, number]) }));
  const ns = [...new Set(cells.map((c) => c.n))];
  writeFileSync(join(outDir, 'bench-calls.svg'), lineChartSvg({ title: 'Sequential backbone calls vs tokens', xLabel: 'tokens n (log)', yLabel: 'sequential calls (log)', logX: true, logY: true,
    series: [...series((c) => c.calls), { name: '1 + 3·log4 n', dashed: true, points: ns.map((n) => [n, 1 + (K - 1) * Math.log(n) / Math.log(K)] as [number, number]) }] }));
  writeFileSync(join(outDir, 'bench-latency.svg'), lineChartSvg({ title: 'Latency at batch 1 vs tokens', xLabel: 'tokens n (log)', yLabel: 'ms per image (log)', logX: true, logY: true,
    series: series((c) => c.latencyMedianMs) }));
  const json = JSON.stringify({
    benchmark: 'speed', command: `nestar bench speed ${args.join(' ')}`.trim(), date: new Date().toISOString(), seconds,
    machine: { cpu: cpus()[0]?.model, cores: availableParallelism() }, settings: { ...base, k: K, n1: N1, cfg: 1, solver: 'euler', passes, maxBatchTokens: MAX_BATCH_TOKENS },
    cells, skipped, targets, table,
  }, null, 1) + '\n';
  writeFileSync(join(outDir, 'bench.json'), json);
  console.log(`wrote ${join(outDir, 'bench.json')}, bench-calls.svg, bench-latency.svg (${seconds.toFixed(0)} s)`);
  return { json, cells };
}
