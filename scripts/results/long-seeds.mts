// Four sampling seeds for the 3600-step NestAR and raster AR checkpoints (issue #17), from the reports of
// long-extra.sh and long-interval.sh (seeds 0 and 100000) and long-seeds.sh (200000 and 300000), and the linear
// guidance schedule of long-schedule.sh (all four seeds); imported by long-results.mts. A setting's row appears
// once all four of its seeds are evaluated; every number is read from a report.json.
import { join } from 'node:path';
import { f, read } from './reportFiles.mts';

interface Row { fd: number; recall: number; cfg?: number }
const SEEDS = [0, 100000, 200000, 300000] as const;
const SETTINGS = ['guidance everywhere', 'guidance interval', 'linear schedule'] as const;
type Setting = typeof SETTINGS[number];
/** The CFG values each setting was evaluated at (long-schedule.sh's linear ramp needs larger ones; a method's row appears only where it was evaluated). */
const CFGS: Record<Setting, number[]> = { 'guidance everywhere': [1.25, 1.5], 'guidance interval': [1.25, 1.5], 'linear schedule': [1.1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4] };
const NAMES: Record<string, string> = { nestar: 'NestAR, patch head, interleaved', raster: 'raster AR' };

/** The report folder (under step-3600) and its row for one method's setting, CFG and seed index. */
function folder(setting: Setting, cfg: number, k: number): string {
  // long-schedule.sh's grid, then its amendment's: NestAR above it (-hi), raster AR below it (-lo).
  if (setting === 'linear schedule') return `eval-linear${cfg > 2.5 ? '-hi' : cfg < 1.5 ? '-lo' : ''}-seed${k}`;
  if (setting === 'guidance interval') return k === 0 ? 'eval-interval' : `eval-interval-seed${k}`;
  if (k >= 2) return `eval-seed${k}`;
  // Seeds 0 and 100000 without the interval: the main sweep holds CFG 1.5, long-extra.sh's folders the rest.
  if (cfg === 1.5) return k === 0 ? 'eval' : 'eval-seed1';
  return k === 0 ? 'eval-cfg1.25' : 'eval-cfg1.25-seed1';
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => { const m = mean(xs); return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)); };

export function fourSeedSection(dir: string, L: (s?: string) => void): void {
  const row = (m: string, s: Setting, c: number, k: number) =>
    read<{ rows: Row[] }>(join(dir, m, 'step-3600', folder(s, c, k), 'report.json'))?.rows.find((r) => r.cfg === c);
  const lines: string[] = [];
  const best: Record<string, { fd: number; recall: number; cfg: number; how: string }> = {};
  const bestConstant: typeof best = {};
  for (const m of Object.keys(NAMES)) {
    for (const s of SETTINGS) {
      for (const c of CFGS[s]) {
        const rs = SEEDS.map((_, k) => row(m, s, c, k));
        if (rs.some((r) => !r)) continue;
        const fds = rs.map((r) => r!.fd), recall = mean(rs.map((r) => r!.recall)), fd = mean(fds);
        if (!best[m] || fd < best[m]!.fd) best[m] = { fd, recall, cfg: c, how: s };
        if (s !== 'linear schedule' && (!bestConstant[m] || fd < bestConstant[m]!.fd)) bestConstant[m] = { fd, recall, cfg: c, how: s };
        lines.push(`| ${NAMES[m]} | ${s} | ${c} | ${fds.map((x) => f(x)).join(' | ')} | ${f(fd)} ± ${f(sd(fds))} | ${f(recall, 3)} |`);
      }
    }
  }
  if (!bestConstant.nestar || !bestConstant.raster) return;
  const withLinear = lines.some((x) => x.includes('| linear schedule |'));
  L('At 3600 steps, four sampling seeds (0, 100000, 200000, 300000) at each of the four sampler settings of both methods (`scripts/results/long-seeds.sh` adds the last two; decided before they were run: the four-seed means below replace the two-seed ones as the verdict, whichever way they go)' +
    (withLinear ? ', and the linear guidance schedule (MAR\'s default, w(p) = 1 + (w − 1)·p over the fraction p of tokens already made; `scripts/results/long-schedule.sh`: its CFG grid 1.5/2/2.5 and the rule "best four-seed mean over every setting" fixed in its header before it ran; after seed 0 showed each method\'s best at an edge of that grid, NestAR\'s was extended to 3/3.5/4 and raster AR\'s to 1.1/1.25, an amendment written into the header before those runs)' : '') +
    '. N = 2000 each; ± is the seed-to-seed standard deviation:');
  L();
  L(`| method | sampler | CFG | ${SEEDS.map((s) => `FD, seed ${s}`).join(' | ')} | mean ± sd | recall, mean |`);
  L('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of lines) L(x);
  L();
  const verdict = (label: string, a: typeof best[string], b: typeof best[string]) =>
    L(`${label}: NestAR ${f(a.fd)} (CFG ${a.cfg}, ${a.how}) vs raster AR ${f(b.fd)} (CFG ${b.cfg}, ${b.how}); NestAR / raster AR = **${f(a.fd / b.fd, 3)}** (the ≤ 1.2 minimum: ${a.fd / b.fd <= 1.2 ? 'met' : 'missed'}), recall ${f(a.recall / b.recall)}× (target ≥ 0.9×: ${a.recall / b.recall >= 0.9 ? 'met' : 'missed'}).`);
  verdict(withLinear ? "Each method's best four-seed mean FD with guidance constant (long-seeds.sh's verdict)" : "Each method's best four-seed mean FD", bestConstant.nestar, bestConstant.raster);
  L();
  if (withLinear) {
    verdict('Over every setting above, the linear schedule included (the verdict)', best.nestar!, best.raster!);
    L();
  }
}
