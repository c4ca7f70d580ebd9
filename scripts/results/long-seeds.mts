// Four sampling seeds for the 3600-step NestAR and raster AR checkpoints (issue #17), from the reports of
// long-extra.sh and long-interval.sh (seeds 0 and 100000) and long-seeds.sh (200000 and 300000); imported by
// long-results.mts. The section appears once all four seeds of a setting are evaluated; every number is read
// from a report.json.
import { join } from 'node:path';
import { f, read } from './reportFiles.mts';

interface Row { fd: number; recall: number; cfg?: number }
const SEEDS = [0, 100000, 200000, 300000] as const;
const CFGS = [1.25, 1.5] as const;
const SETTINGS = ['guidance everywhere', 'guidance interval'] as const;
const NAMES: Record<string, string> = { nestar: 'NestAR, patch head, interleaved', raster: 'raster AR' };

/** The report folder (under step-3600) and its row for one method's setting, CFG and seed index. */
function folder(setting: typeof SETTINGS[number], cfg: number, k: number): string {
  if (setting === 'guidance interval') return k === 0 ? 'eval-interval' : `eval-interval-seed${k}`;
  if (k >= 2) return `eval-seed${k}`;
  // Seeds 0 and 100000 without the interval: the main sweep holds CFG 1.5, long-extra.sh's folders the rest.
  if (cfg === 1.5) return k === 0 ? 'eval' : 'eval-seed1';
  return k === 0 ? 'eval-cfg1.25' : 'eval-cfg1.25-seed1';
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => { const m = mean(xs); return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1)); };

export function fourSeedSection(dir: string, L: (s?: string) => void): void {
  const row = (m: string, s: typeof SETTINGS[number], c: number, k: number) =>
    read<{ rows: Row[] }>(join(dir, m, 'step-3600', folder(s, c, k), 'report.json'))?.rows.find((r) => r.cfg === c);
  const lines: string[] = [];
  const best: Record<string, { fd: number; recall: number; cfg: number; how: string }> = {};
  for (const m of Object.keys(NAMES)) {
    for (const s of SETTINGS) {
      for (const c of CFGS) {
        const rs = SEEDS.map((_, k) => row(m, s, c, k));
        if (rs.some((r) => !r)) continue;
        const fds = rs.map((r) => r!.fd), recall = mean(rs.map((r) => r!.recall)), fd = mean(fds);
        if (!best[m] || fd < best[m]!.fd) best[m] = { fd, recall, cfg: c, how: s };
        lines.push(`| ${NAMES[m]} | ${s} | ${c} | ${fds.map((x) => f(x)).join(' | ')} | ${f(fd)} ± ${f(sd(fds))} | ${f(recall, 3)} |`);
      }
    }
  }
  if (!best.nestar || !best.raster) return;
  L('At 3600 steps, four sampling seeds (0, 100000, 200000, 300000) at each of the four sampler settings of both methods (`scripts/results/long-seeds.sh` adds the last two; decided before they were run: the four-seed means below replace the two-seed ones as the verdict, whichever way they go). N = 2000 each; ± is the seed-to-seed standard deviation:');
  L();
  L(`| method | sampler | CFG | ${SEEDS.map((s) => `FD, seed ${s}`).join(' | ')} | mean ± sd | recall, mean |`);
  L('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of lines) L(x);
  L();
  const a = best.nestar, b = best.raster;
  L(`Each method's best four-seed mean FD: NestAR ${f(a.fd)} (CFG ${a.cfg}, ${a.how}) vs raster AR ${f(b.fd)} (CFG ${b.cfg}, ${b.how}); NestAR / raster AR = **${f(a.fd / b.fd, 3)}** (the ≤ 1.2 minimum: ${a.fd / b.fd <= 1.2 ? 'met' : 'missed'}), recall ${f(a.recall / b.recall)}× (target ≥ 0.9×: ${a.recall / b.recall >= 0.9 ? 'met' : 'missed'}).`);
  L();
}
