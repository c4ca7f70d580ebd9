// The 3x-longer comparison of RESULTS.md (issue #17): FD against training steps for NestAR (patch head,
// interleaved), raster AR and the NestAR head/order variants, from the reports scripts/results/long.sh writes;
// imported by make-results.mts.
// Every number is read from a JSON file; checkpoints not evaluated yet are listed as such.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bestFd, f, read } from './reportFiles.mts';
import { lineChartSvg } from '../../src/util/svgPlot.ts';
import { fourSeedSection } from './long-seeds.mts';

interface Row { n: number; fd: number; recall: number; precision: number; coverage: number; cfg?: number; memorisation?: number | null }
interface Report { rows: Row[]; realData: Row; source: { params?: number; step: number } }

// Rows in table order: the run folder's name under results/mnist-patch/long and what it is. The variants
// appear once scripts/results/long.sh has written their folder.
const LONG_ROWS: Record<string, string> = {
  nestar: 'NestAR, patch head, interleaved', 'phead-zorder': 'NestAR, patch head, Z-order',
  'thead-interleaved': 'NestAR, per-token head, interleaved', 'thead-zorder': 'NestAR, per-token head, Z-order',
  raster: 'raster AR', nextscale: 'next-scale AR, patch head',
};
export const LONG_STEPS = [1200, 2400, 3600] as const;

export function longSection(root: string, L: (s?: string) => void, emit: (path: string, text: string) => void): void {
  const dir = join(root, 'long');
  const LONG_METHODS = Object.keys(LONG_ROWS).filter((m) => existsSync(join(dir, m)));
  const cfg = read<{ train: { steps: number; batchSize: number } }>('results/configs/mnist-patch-long.json');
  // Seed-0 reports of a step; at 3600 the lower CFGs of scripts/results/long-extra.sh join the sweep.
  const rep = (m: string, s: number): Report | null => {
    const r = read<Report>(join(dir, m, `step-${s}`, 'eval', 'report.json'));
    if (!r) return null;
    const more = ['eval-cfg1.25', 'eval-cfg1.1'].flatMap((e) => read<Report>(join(dir, m, `step-${s}`, e, 'report.json'))?.rows ?? []);
    return { ...r, rows: [...r.rows, ...more].sort((a, b) => a.cfg! - b.cfg!) };
  };
  const best = (r: Report) => bestFd(r.rows);
  L('## Training 3× longer: FD against training steps (issue #17)');
  L();
  L(`NestAR (patch head, interleaved order) and raster AR from one config (\`results/configs/mnist-patch-long.json\`: ${cfg?.train.steps ?? '?'} steps × batch ${cfg?.train.batchSize ?? '?'},`);
  L('cosine schedule over the whole run, the same data order and seed); the other NestAR rows change only the head or the token order (`results/configs/mnist-patch-long-<row>.json`,');
  L('per-token head width 128 so parameters stay within 10 % of raster AR\'s). Checkpoints are exported in F16 to `checkpoints/mnist-patch/long/<row>-<step>` and');
  const wall = LONG_METHODS.flatMap((m) => {
    const p = join(dir, m, 'timing.log');
    const sec = existsSync(p) ? /^[\w-]+: (\d+) s (?:training )?wall/.exec(readFileSync(p, 'utf8'))?.[1] : undefined;
    return sec ? [`${m} ${f(Number(sec) / 60, 0)} min`] : [];
  });
  L(`evaluated from there (\`scripts/results/long.sh\`, N = 2000 per CFG). Jobs trained two at a time side by side on the two cores, one BLAS thread each${wall.length ? ` (training wall-clock: ${wall.join(', ')}; \`timing.log\`)` : ''}.`);
  L();
  const cfgs = [...new Set(LONG_METHODS.flatMap((m) => LONG_STEPS.flatMap((s) => rep(m, s)?.rows.map((r) => r.cfg!) ?? [])))].sort((a, b) => a - b);
  L(`| run | step | parameters | ${cfgs.map((c) => `FD @ CFG ${c}`).join(' | ')} | best FD | recall | precision | coverage | memorisation |`);
  L(`|---|---:|---:|${cfgs.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`);
  const series: Array<{ name: string; points: Array<[number, number]> }> = [];
  for (const m of LONG_METHODS) {
    const points: Array<[number, number]> = [];
    for (const s of LONG_STEPS) {
      const r = rep(m, s);
      if (!r) { L(`| ${LONG_ROWS[m]} | ${s} | | ${cfgs.map(() => '').join(' | ')} | not evaluated yet | | | | |`); continue; }
      const b = best(r);
      points.push([s, b.fd]);
      const cell = (c: number) => { const x = r.rows.find((y) => y.cfg === c); return x ? f(x.fd) : '–'; };
      L(`| ${LONG_ROWS[m]} | ${s} | ${r.source.params ? `${(r.source.params / 1e6).toFixed(2)}M` : 'n/a'} | ${cfgs.map(cell).join(' | ')} | **${f(b.fd)}** (${b.cfg}) | ${f(b.recall, 3)} | ${f(b.precision, 3)} | ${f(b.coverage, 3)} | ${b.memorisation == null ? 'n/a' : `${f(100 * b.memorisation, 1)} %`} |`);
    }
    if (points.length) series.push({ name: LONG_ROWS[m]!, points });
  }
  const real = LONG_METHODS.flatMap((m) => LONG_STEPS.map((st) => rep(m, st)?.realData)).find((x) => x);
  if (real) L(`| real data (${real.n} train vs test) | | | ${cfgs.map(() => '').join(' | ')} | ${f(real.fd)} | ${f(real.recall, 3)} | ${f(real.precision, 3)} | ${f(real.coverage, 3)} | |`);
  L();
  const shots = LONG_METHODS.flatMap((m) => LONG_STEPS.filter((st) => existsSync(join(dir, m, `step-${st}`, 'eval', 'samples.png'))).map((st) => `![${LONG_ROWS[m]} ${st}](mnist-patch/long/${m}/step-${st}/eval/samples.png)`));
  const shotCfg = read<Report>(join(dir, LONG_METHODS[0], `step-${LONG_STEPS[0]}`, 'eval', 'report.json'))?.rows[0]?.cfg;
  if (shots.length) { L(`Samples (CFG ${shotCfg}, the first of each main sweep), in table order: ${shots.join(' ')}`); L(); }
  const ratios = LONG_STEPS.flatMap((s) => { const a = rep('nestar', s), b = rep('raster', s); return a && b ? [`${s} steps: ${f(best(a).fd / best(b).fd)} (recall ${f(best(a).recall / best(b).recall)}×)`] : []; });
  L(ratios.length ? `NestAR / raster AR best FD at the same step: ${ratios.join('; ')}.` : 'No step has both methods evaluated yet.');
  L();
  // A second sampling seed at 3600 steps (scripts/results/long-extra.sh): is the order of the two methods real?
  const extra = (m: string, e: string) => read<Report>(join(dir, m, 'step-3600', e, 'report.json'))?.rows[0];
  const seeds = [[1.25, 'eval-cfg1.25', 'eval-cfg1.25-seed1'], [1.5, 'eval', 'eval-seed1']] as const;
  const have = LONG_METHODS.filter((m) => seeds.every(([c, a, b]) => (a === 'eval' ? rep(m, 3600)?.rows.find((x) => x.cfg === c) : extra(m, a)) && extra(m, b)));
  const bestMean: Record<string, { fd: number; recall: number; cfg: number; how: string }> = {};
  if (have.length) {
    L('At 3600 steps, two sampling seeds (0 and 100000) at the two best CFGs (`scripts/results/long-extra.sh`, N = 2000 each):');
    L();
    L('| method | CFG | FD, seed 0 | FD, seed 100000 | mean | recall, mean |');
    L('|---|---:|---:|---:|---:|---:|');
    for (const m of have) {
      for (const [c, a, b] of seeds) {
        const r0 = a === 'eval' ? rep(m, 3600)!.rows.find((x) => x.cfg === c)! : extra(m, a)!, r1 = extra(m, b)!;
        const mean = (r0.fd + r1.fd) / 2, recall = (r0.recall + r1.recall) / 2;
        if (!bestMean[m] || mean < bestMean[m]!.fd) bestMean[m] = { fd: mean, recall, cfg: c, how: 'guidance everywhere' };
        L(`| ${LONG_ROWS[m]} | ${c} | ${f(r0.fd)} | ${f(r1.fd)} | ${f(mean)} | ${f(recall, 3)} |`);
      }
    }
    L();
    if (bestMean.nestar && bestMean.raster) {
      const a = bestMean.nestar, b = bestMean.raster;
      L(`Best two-seed mean FD: NestAR ${f(a.fd)} (CFG ${a.cfg}) vs raster AR ${f(b.fd)} (CFG ${b.cfg}); NestAR / raster AR = **${f(a.fd / b.fd)}**, recall ${f(a.recall / b.recall)}×.`);
      L();
    }
  }
  // The guidance interval like-for-like at 3600 steps (scripts/results/long-interval.sh): both methods, same CFGs and seeds.
  const ivl = (m: string, e = 'eval-interval') => read<Report & { settings: { cfgInterval?: [number, number] } }>(join(dir, m, 'step-3600', e, 'report.json'));
  const withIvl = LONG_METHODS.filter((m) => ivl(m) && rep(m, 3600));
  if (withIvl.length) {
    const range = ivl(withIvl[0]!)!.settings.cfgInterval;
    L(`At 3600 steps with classifier-free guidance only on flow times [${range?.join(', ') ?? '?'}] (\`scripts/results/long-interval.sh\`, FlowAR's guidance interval; N = 2000, sampling seed 0 as the main sweep, and seed 100000 at CFG 1.25 and 1.5):`);
    L();
    L('| method | CFG | FD, guidance everywhere | FD, interval, seed 0 | FD, interval, seed 100000 | interval mean | recall, interval, seed 0 |');
    L('|---|---:|---:|---:|---:|---:|---:|');
    for (const m of withIvl) {
      for (const r of ivl(m)!.rows) {
        const plain = rep(m, 3600)!.rows.find((x) => x.cfg === r.cfg), r1 = ivl(m, 'eval-interval-seed1')?.rows.find((x) => x.cfg === r.cfg);
        if (r1) { const mean = (r.fd + r1.fd) / 2; if (!bestMean[m] || mean < bestMean[m]!.fd) bestMean[m] = { fd: mean, recall: (r.recall + r1.recall) / 2, cfg: r.cfg!, how: 'guidance interval' }; }
        L(`| ${LONG_ROWS[m]} | ${r.cfg} | ${plain ? f(plain.fd) : '–'} | ${f(r.fd)} | ${r1 ? f(r1.fd) : '–'} | ${r1 ? f((r.fd + r1.fd) / 2) : '–'} | ${f(r.recall, 3)} |`);
      }
    }
    L();
    if (bestMean.nestar && bestMean.raster) {
      const x = bestMean.nestar, y = bestMean.raster;
      L(`Each method's best two-seed mean FD over both sampler settings (guidance everywhere, or on the interval): NestAR ${f(x.fd)} (CFG ${x.cfg}, ${x.how}) vs raster AR ${f(y.fd)} (CFG ${y.cfg}, ${y.how}); NestAR / raster AR = **${f(x.fd / y.fd)}**, recall ${f(x.recall / y.recall)}×.`);
      L();
    }
  }
  fourSeedSection(dir, L);
  const lat = read<{ settings: { cfg: number }; methods: Record<string, { medianMs: number; sequentialCalls: number }>; rasterOverNestar: number }>(join(dir, 'latency.json'));
  if (lat?.methods.nestar && lat.methods.raster) {
    L(`Batch-1 latency of the 3600-step checkpoints (\`scripts/results/measure-long.mts\`, one run, methods interleaved, 32 Euler steps, CFG ${lat.settings.cfg}): NestAR ${f(lat.methods.nestar.medianMs, 0)} ms (${lat.methods.nestar.sequentialCalls} calls) vs raster AR ${f(lat.methods.raster.medianMs, 0)} ms (${lat.methods.raster.sequentialCalls} calls): **${f(lat.rasterOverNestar)}×** lower (target ≥ 4×: ${lat.rasterOverNestar >= 4 ? 'met' : 'missed'}).`);
    L();
  }
  if (series.length) {
    emit(join(dir, 'fd-vs-steps.svg'), lineChartSvg({ title: 'Best FD (over CFG) vs training steps', xLabel: 'training steps', yLabel: 'FD (lower is better)', series }));
    L('![FD vs training steps](mnist-patch/long/fd-vs-steps.svg)');
    L();
  }
}
