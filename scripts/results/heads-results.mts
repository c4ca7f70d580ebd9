// The flow-head / token-order section of RESULTS.md (issue #17), from the reports scripts/results/heads.sh
// writes; imported by make-results.mts. Every number is read from a JSON file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bestFd, f, read } from './reportFiles.mts';

interface Row { n: number; fd: number; is: number; precision: number; recall: number; coverage: number; cfg?: number; memorisation?: number | null }
interface Report { rows: Row[]; realData: Row; settings: { n: number; odeSteps: number }; source: { params?: number; sequentialCalls?: number; step: number } }
interface Gap { totalGt: number; totalSampled: number }
const millions = (p?: number) => (p ? `${(p / 1e6).toFixed(2)}M` : 'n/a');

/** Rows of a method's main evaluation plus its finer CFG sweep (eval-cfg-fine), sorted by CFG. */
function sweep(dir: string): Row[] {
  const rows = [...(read<Report>(join(dir, 'eval', 'report.json'))?.rows ?? []), ...(read<Report>(join(dir, 'eval-cfg-fine', 'report.json'))?.rows ?? [])];
  return rows.sort((a, b) => (a.cfg ?? 0) - (b.cfg ?? 0));
}

export function headsSection(root: string, L: (s?: string) => void): void {
  const H = join(root, 'heads');
  const lat = read<{ backend: string; settings: Record<string, unknown>; variants: Record<string, { medianMs: number; sequentialCalls: number; params: number }> }>(join(H, 'latency.json'));
  const variants = [
    { key: 'nestar (token head, zorder)', dir: join(root, 'nestar'), ck: 'checkpoints/mnist-patch/nestar', head: 'per-token', order: 'zorder', gap: join(root, 'nestar', 'diagnose.json') },
    ...[['thead-interleaved', 'per-token', 'interleaved'], ['phead-zorder', 'patch', 'zorder'], ['phead-interleaved', 'patch', 'interleaved'],
      ['phead-interleaved-gp', 'patch', 'interleaved, generated-prefix coordination']].map(([k, head, order]) =>
      ({ key: k!, dir: join(H, k!), ck: `checkpoints/mnist-patch/heads/${k}`, head: head!, order: order!, gap: join(H, k!, 'diagnose.json') })),
    { key: 'raster', dir: join(root, 'raster'), ck: 'checkpoints/mnist-patch/raster', head: 'per-token', order: 'raster', gap: join(root, 'raster', 'diagnose.json') },
  ];
  const cfgs = [...new Set(variants.flatMap((v) => sweep(v.dir).map((r) => r.cfg!)))].sort((a, b) => a - b);
  L('## Flow heads and token orders (issue #17)');
  L();
  L('NestAR with the per-token head (MAR) or the patch head (a small transformer over the tokens of each patch, FlowAR), in Z-order or the');
  L('interleaved order, against raster AR; every run 1200 steps × batch 64 from the same data order and seed (`results/configs/mnist-patch*.json`,');
  L('`scripts/results/heads.sh`); patch-head runs use head width 96 so that the parameter count, heads included, stays within 10 % of raster AR\'s.');
  L(`The patch-head and interleaved checkpoints are shipped in F16 under \`checkpoints/mnist-patch/heads/\`. Latency: batch 1, 32 Euler steps, CFG 2, median of 5, one run of \`scripts/results/measure-heads.mts\`${lat ? ` (backend ${lat.backend})` : ''}.`);
  L();
  L(`| run | head | order | parameters | calls | latency, batch 1 | ${cfgs.map((c) => `FD @ CFG ${c}`).join(' | ')} | best FD | precision | recall | coverage | IS | memorisation | exposure gap | training |`);
  L(`|---|---|---|---:|---:|---:|${cfgs.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|---:|---:|---|`);
  const bests: Record<string, Row> = {};
  for (const v of variants) {
    const rows = sweep(v.dir);
    if (!rows.length) { L(`| ${v.key} | ${v.head} | ${v.order} | not run yet |`); continue; }
    const b = bestFd(rows), l = lat?.variants[v.key], g = read<Gap>(v.gap);
    bests[v.key] = b;
    const st = read<{ trainSeconds?: number }>(join(v.ck, 'state.json'));
    const cell = (c: number) => { const r = rows.find((x) => x.cfg === c); return r ? f(r.fd) : '–'; };
    L(`| ${v.key} | ${v.head} | ${v.order} | ${millions(l?.params ?? read<Report>(join(v.dir, 'eval', 'report.json'))?.source.params)} | ${l?.sequentialCalls ?? 'n/a'} | ${l ? `${f(l.medianMs, 0)} ms` : 'n/a'} | ` +
      `${cfgs.map(cell).join(' | ')} | **${f(b.fd)}** (${b.cfg}) | ${f(b.precision, 3)} | ${f(b.recall, 3)} | ${f(b.coverage, 3)} | ${f(b.is)} | ${b.memorisation == null ? 'n/a' : `${f(100 * b.memorisation, 1)} %`} | ` +
      `${g ? `${f(100 * (g.totalSampled - g.totalGt) / g.totalGt, 1)} %` : 'not run'} | ${st?.trainSeconds ? `${f(st.trainSeconds / 60, 0)} min` : 'see timing.log'} |`);
  }
  const real = read<Report>(join(root, 'raster', 'eval', 'report.json'))?.realData;
  if (real) L(`| real data (${real.n} train vs test) | – | – | – | – | – | ${cfgs.map(() => '').join(' | ')} | ${f(real.fd)} | ${f(real.precision, 3)} | ${f(real.recall, 3)} | ${f(real.coverage, 3)} | ${f(real.is)} | – | – | – |`);
  L();
  L('Samples at CFG 1 (the first of each sweep): ' + variants.filter((v) => existsSync(join(v.dir, 'eval', 'samples.png'))).map((v) => `![${v.key}](${join(v.dir, 'eval', 'samples.png').replace(/^results\//, '')})`).join(' '));
  L();
  // Sampler options on the patch-head interleaved checkpoint.
  const on = 'phead-interleaved', base = sweep(join(H, on));
  const samplers = [['interval', 'guidance interval [0.2, 1]'], ['shift', 'time-grid shift 2'], ['sde', 'Euler–Maruyama SDE (λ = 1)']] as const;
  const sRows = samplers.map(([k, what]) => [what, read<Report>(join(H, on, `sampler-${k}`, 'eval', 'report.json'))?.rows ?? []] as const).filter(([, r]) => r.length);
  if (base.length && sRows.length) {
    L(`Sampler options on \`${on}\` (same N and seeds, 32 steps):`);
    L();
    L('| sampler | CFG | FD | precision | recall | coverage |');
    L('|---|---:|---:|---:|---:|---:|');
    for (const r of base.filter((x) => x.cfg === 2 || x.cfg === 3)) L(`| Euler, uniform grid, guidance everywhere | ${r.cfg} | ${f(r.fd)} | ${f(r.precision, 3)} | ${f(r.recall, 3)} | ${f(r.coverage, 3)} |`);
    for (const [what, rows] of sRows) for (const r of rows) L(`| ${what} | ${r.cfg} | ${f(r.fd)} | ${f(r.precision, 3)} | ${f(r.recall, 3)} | ${f(r.coverage, 3)} |`);
    L();
  }
  const bestNestar = Object.entries(bests).filter(([k]) => k !== 'raster').sort((a, b) => a[1].fd - b[1].fd)[0];
  const r = bests.raster, lr = lat?.variants.raster;
  if (bestNestar && r && real) {
    const [k, b] = bestNestar, ln = lat?.variants[k];
    const ratio = b.fd / r.fd, rec = b.recall / r.recall;
    L(`Targets of issue #17, best NestAR (\`${k}\`, CFG ${b.cfg}) against raster AR (CFG ${r.cfg}) at matched parameters and steps:`);
    L(`- best FD ≤ raster AR's: ${f(b.fd)} vs ${f(r.fd)}, ratio ${f(ratio, 3)} — ${ratio <= 1 ? 'met' : ratio <= 1.2 ? 'missed; the minimum (≤ 1.2, "competitive") is met' : 'missed, and the minimum ≤ 1.2 is missed too'};`);
    L(`- recall ≥ 0.9× raster's: ${f(b.recall, 3)} vs ${f(r.recall, 3)} (${f(rec, 2)}×) — ${rec >= 0.9 ? 'met' : 'missed'};`);
    L(`- FD within 2.5× the real-data row (${f(real.fd)}): ${f(b.fd / real.fd, 2)}× — ${b.fd <= 2.5 * real.fd ? 'met' : 'missed'};`);
    if (ln && lr) L(`- batch-1 latency ≥ 4× lower than raster AR's at 8×8: ${f(ln.medianMs, 0)} vs ${f(lr.medianMs, 0)} ms (${f(lr.medianMs / ln.medianMs, 1)}× lower) — ${lr.medianMs / ln.medianMs >= 4 ? 'met' : 'missed'}.`);
    const iv = sRows.find(([w]) => w.startsWith('guidance interval'))?.[1].reduce((a, x) => (x.fd < a.fd ? x : a));
    if (iv) L(`- With the guidance interval [0.2, 1] NestAR reaches FD ${f(iv.fd)} at CFG ${iv.cfg} (${f(iv.fd / r.fd, 3)}× raster's best, recall ${f(iv.recall, 3)}); raster AR was not evaluated with an interval, so this is not a like-for-like comparison and the target is not counted as met.`);
    L('- Latency was measured once on a 2-core machine; two runs of the same architecture (phead-interleaved, phead-interleaved-gp) differ by 1.5×, so read latency ratios as ±50 %.');
    L('- Every method is still under-trained (1200 steps ≈ 1.3 epochs); the issue\'s 3× longer comparison with an FD-vs-steps curve has not been run (raster AR\'s 1200 steps took 70 min of wall-clock in its timing.log, sharing the machine).');
    L();
  }
  timeSamplingPilot(root, sweep(join(H, 'phead-interleaved')), sweep(join(root, 'raster')), L);
}

/** scripts/results/tsampling.sh: the same two runs with logit-normal flow times, against the uniform ones above. */
function timeSamplingPilot(root: string, nestarUniform: Row[], rasterUniform: Row[], L: (s?: string) => void): void {
  const T = join(root, 'tsampling');
  const ln = { nestar: read<Report>(join(T, 'nestar', 'eval', 'report.json'))?.rows, raster: read<Report>(join(T, 'raster', 'eval', 'report.json'))?.rows };
  if (!ln.nestar || !ln.raster) return;
  const cfgs = ln.nestar.map((r) => r.cfg!);
  const at = (rows: Row[], c: number) => rows.find((r) => r.cfg === c);
  L('Flow-time sampling, a pilot at this budget (`scripts/results/tsampling.sh`: the `phead-interleaved` and raster AR configs with only `train.timeSampling` set to logit-normal; N = 2000, sampling seed 0), FD (recall):');
  L();
  L(`| method | t sampling | ${cfgs.map((c) => `CFG ${c}`).join(' | ')} | best FD |`);
  L(`|---|---|${cfgs.map(() => '---:').join('|')}|---:|`);
  const best: Record<string, number> = {};
  for (const [name, key, rows] of [['NestAR, patch head, interleaved', 'nestar uniform', nestarUniform], ['NestAR, patch head, interleaved', 'nestar logit-normal', ln.nestar],
    ['raster AR', 'raster uniform', rasterUniform], ['raster AR', 'raster logit-normal', ln.raster]] as const) {
    const cells = cfgs.map((c) => at(rows, c));
    if (cells.some((x) => !x)) continue;
    best[key] = Math.min(...cells.map((x) => x!.fd));
    L(`| ${name} | ${key.split(' ')[1]} | ${cells.map((x) => `${f(x!.fd)} (${f(x!.recall, 3)})`).join(' | ')} | ${f(best[key]!)} |`);
  }
  L();
  if (best['nestar uniform'] && best['raster uniform'] && best['nestar logit-normal'] && best['raster logit-normal']) {
    L(`NestAR / raster AR, best FD over CFG ${cfgs.join(' and ')}: uniform ${f(best['nestar uniform'] / best['raster uniform'], 3)}, logit-normal ${f(best['nestar logit-normal'] / best['raster logit-normal'], 3)}.`);
    L();
  }
}
