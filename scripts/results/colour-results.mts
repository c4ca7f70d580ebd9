// RESULTS.md's section "Colour: what limits it (issue #49)": the one-change pilots (scripts/results/colour-pilots.sh),
// the scaling curve of the NestAR and raster AR runs from one config (scripts/results/colour-long.sh) and their final
// evaluation; imported by make-results.mts, which also writes the curve's SVG. Every number is read from a JSON.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bestFd, f, read } from './reportFiles.mts';

interface Row { label: string; n: number; fd: number; recall: number; precision: number; cfg?: number; nearDuplicates?: number | null; memorisation?: number | null }
interface Report { rows: Row[]; realData: Row; referenceN: number; settings: { cfgSchedule?: string }; source: { params?: number; sequentialCalls?: number; step?: number } }
interface Facts { step: number; trainSeconds: number }

const PILOTS: Array<[string, string]> = [
  ['baseline', 'none: the shipped 1200-step recipe (committed checkpoint)'],
  ['logitnormal', 'flow times logit-normal'],
  ['width256', 'backbone width 128 → 256'],
  ['headwidth192', 'flow-head width 96 → 192'],
  ['steps2400', 'twice the steps (2400)'],
];
const METHODS = ['nestar', 'raster'] as const;
const pct = (x: number | null | undefined): string => (x == null ? '–' : `${f(100 * x, 1)} %`);

/** Best row over one or more reports of the same checkpoint (constant and linear schedules), tagged with its schedule. */
function bestOf(reports: Array<Report | null>): (Row & { schedule: string }) | null {
  const rows = reports.flatMap((r) => (r ? r.rows.map((x) => ({ ...x, schedule: r.settings.cfgSchedule ?? 'constant' })) : []));
  return rows.length ? bestFd(rows) : null;
}

type ThreadStretch = { fromStep: number; threads: number };

/** A run's threads.jsonl (none: one thread throughout). */
function threadStretches(method: string): ThreadStretch[] {
  const file = join('results/emoji-32/long', method, 'threads.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ThreadStretch) : [];
}

/**
 * Training core-seconds to `step` of one run: its training seconds, each stretch times the BLAS threads it ran on
 * (threads.jsonl, one line per invocation of colour-long.sh from the step it resumed at; one thread if absent).
 * A stretch's boundaries are checkpoints, whose train.json holds the training seconds there.
 */
function coreSeconds(method: string, stretches: ThreadStretch[], step: number, trainSeconds: number): number {
  const segments = stretches.filter((g) => g.fromStep < step);
  if (!segments.length) return trainSeconds;
  const secondsAt = (s: number): number => {
    if (s === 0) return 0;
    const facts = read<Facts>(join('results/emoji-32/long', method, `step-${s}`, 'train.json'));
    if (!facts) throw new Error(`results/emoji-32/long/${method}/threads.jsonl: a run resumed at step ${s}, but step-${s}/train.json is missing`);
    return facts.trainSeconds;
  };
  let total = 0;
  segments.forEach((g, i) => {
    const end = i + 1 < segments.length ? secondsAt(segments[i + 1]!.fromStep) : trainSeconds;
    total += g.threads * (end - secondsAt(g.fromStep));
  });
  return total;
}

/** The curve points of one method: every evaluated checkpoint with its training core-hours. */
export function colourCurve(method: string): Array<{ step: number; hours: number; best: Row; real: Row }> {
  const out = [], stretches = threadStretches(method);
  for (let step = 600; step <= 3600; step += 600) {
    const dir = join('results/emoji-32/long', method, `step-${step}`);
    const r = read<Report>(join(dir, 'report.json')), facts = read<Facts>(join(dir, 'train.json'));
    if (r && facts) out.push({ step, hours: coreSeconds(method, stretches, step, facts.trainSeconds) / 3600, best: bestFd(r.rows), real: r.realData });
  }
  return out;
}

/**
 * Least-squares line through (log core-hours, log(FD - real FD)) of a curve: the excess over the real-data row
 * falling as a power of compute, the shape scaling studies fit. Needs three points.
 */
export function excessFdFit(points: Array<{ hours: number; best: Row; real: Row }>): { scale: number; exponent: number } | null {
  const xy = points.filter((p) => p.best.fd > p.real.fd).map((p) => [Math.log(p.hours), Math.log(p.best.fd - p.real.fd)] as const);
  if (xy.length < 3) return null;
  const mx = xy.reduce((t, [x]) => t + x, 0) / xy.length, my = xy.reduce((t, [, y]) => t + y, 0) / xy.length;
  const exponent = xy.reduce((t, [x, y]) => t + (x - mx) * (y - my), 0) / xy.reduce((t, [x]) => t + (x - mx) ** 2, 0);
  return { scale: Math.exp(my - exponent * mx), exponent };
}

/** What a user gets after 1 h and 6 h on two cores, read off NestAR's curve through its fit (issue #49 asks). */
function budgetParagraph(L: (s?: string) => void, curve: Array<{ step: number; hours: number; best: Row; real: Row }>): void {
  const fit = excessFdFit(curve);
  if (!fit) return;
  const real = curve[0]!.real.fd, at = (h: number) => real + fit.scale * h ** fit.exponent;
  const last = curve[curve.length - 1]!;
  // Hours for FD = 3x real at this N: real + scale * h^b = 3 real.
  const h3 = fit.exponent < 0 ? ((2 * real) / fit.scale) ** (1 / fit.exponent) : Infinity;
  L(`**What a budget buys** (NestAR, fit FD − real = ${f(fit.scale)} · core-hours^${f(fit.exponent, 3)} through the ${curve.length} curve points, N = 500, real ${f(real)}):`);
  L(`after 1 h on two cores (2 core-hours, both cores training) FD ≈ ${f(at(2))} (${f(at(2) / real)}× real); after 6 h (12 core-hours) the fit predicts ≈ ${f(at(12))}`);
  L(`(${f(at(12) / real)}× real)${12 > last.hours ? `, beyond the longest run measured (${f(last.hours)} core-hours), so a prediction, not a measurement` : ''};`);
  L(`3× real at this N needs ≈ ${Number.isFinite(h3) ? `${f(h3)} core-hours (${f(h3 / 2)} h on two cores)` : 'more than any budget: the fit does not fall'}.`);
  L('The points are checkpoints of one cosine schedule, not separate runs sized to each budget, so the fit is a guide, not a law.');
  L();
}

export function colourSection(L: (s?: string) => void): void {
  L('## Colour: what limits it (issue #49)');
  L();
  const base = read<Report>('results/emoji-32/pilots/baseline/report.json');
  if (!base) { L('Not run yet (`scripts/results/colour-pilots.sh`).'); L(); return; }
  const baseBest = bestFd(base.rows), sameCost = read<Facts>('results/emoji-32/pilots/logitnormal/train.json');
  L('**Pilots** (`scripts/results/colour-pilots.sh`, protocol in its header, fixed before the runs): NestAR on the emoji at 32×32, the shipped');
  L(`recipe with one change each, N = ${baseBest.n} per CFG in {1.5, 2, 3} against the ${base.referenceN} held-out images, best FD over the three;`);
  L('cost = training seconds on one BLAS thread, two pilots at a time on the two cores (the baseline\'s checkpoint was trained in an');
  L('earlier session, so its cost is taken as the logit-normal pilot\'s, the same model and steps). A change "helps" if it beats the baseline by over 10 %.');
  L();
  L('| pilot | change | training s | cost × | best FD (CFG) | vs baseline | recall | near-duplicate pairs | helps |');
  L('|---|---|---:|---:|---:|---:|---:|---:|---|');
  for (const [name, change] of PILOTS) {
    const r = read<Report>(join('results/emoji-32/pilots', name, 'report.json'));
    if (!r) { L(`| ${name} | ${change} | | | not run | | | | |`); continue; }
    const facts = name === 'baseline' ? sameCost : read<Facts>(join('results/emoji-32/pilots', name, 'train.json'));
    const b = bestFd(r.rows), d = b.fd / baseBest.fd - 1;
    L(`| ${name} | ${change} | ${facts ? f(facts.trainSeconds, 0) : '–'} | ${facts && sameCost ? f(facts.trainSeconds / sameCost.trainSeconds) : '–'} | ${f(b.fd)} (${b.cfg}) | ` +
      `${name === 'baseline' ? '–' : `${d > 0 ? '+' : ''}${f(100 * d, 0)} %`} | ${f(b.recall, 3)} | ${pct(b.nearDuplicates)} | ${name === 'baseline' ? '' : d < -0.1 ? 'yes' : 'no'} |`);
  }
  L(`| real data (${base.realData.label.replace(/^real data \(/, '').replace(/\)$/, '')}) | | | | ${f(base.realData.fd)} | | ${f(base.realData.recall, 3)} | ${pct(base.realData.nearDuplicates)} | |`);
  L();
  const curves = Object.fromEntries(METHODS.map((m) => [m, colourCurve(m)]));
  const cfg = read<{ model: { headWidth: number }; train: { steps: number; timeSampling: string } }>('results/configs/colour-long.json');
  L(`**Scaling runs** (\`scripts/results/colour-long.sh\`, protocol in its header): NestAR and raster AR from one config (\`results/configs/colour-long.json\`:`);
  L(`the pilots' two helpful changes, flow times ${cfg?.train.timeSampling} and head width ${cfg?.model.headWidth}, ${cfg?.train.steps} steps × 64), trained side by side on one`);
  const rasterLast = curves.raster!.at(-1);
  const rasterStep = rasterLast ? `${f((rasterLast.hours * 3600) / rasterLast.step, 1)} core-seconds a step` : 'not measured yet';
  L(`thread each until the raster run was stopped at its last checkpoint (its step time, ${rasterStep}, did not fit the session), then NestAR alone on two (core-hours =`);
  L('training seconds × the BLAS threads of each stretch, `threads.jsonl`); every kept checkpoint evaluated with the pilots\' sampler (N = 500, CFG 1.5/2/3, best of three). Checkpoints before the');
  L('last are mid-schedule (the cosine learning rate has not decayed there), so those points are, if anything, pessimistic.');
  L();
  L('| method | step | training core-hours | best FD (CFG) | × real | recall | near-duplicate pairs |');
  L('|---|---:|---:|---:|---:|---:|---:|');
  for (const m of METHODS) {
    if (!curves[m]!.length) { L(`| ${m} | | | not evaluated yet | | | |`); continue; }
    for (const p of curves[m]!) L(`| ${m} | ${p.step} | ${f(p.hours)} | ${f(p.best.fd)} (${p.best.cfg}) | ${f(p.best.fd / p.real.fd)} | ${f(p.best.recall, 3)} | ${pct(p.best.nearDuplicates)} |`);
  }
  const any = curves.nestar![0] ?? curves.raster![0];
  if (any) L(`| real data (500 train vs held-out) | | | ${f(any.real.fd)} | 1 | ${f(any.real.recall, 3)} | ${pct(any.real.nearDuplicates)} |`);
  L();
  const common = curves.nestar!.filter((p) => curves.raster!.some((q) => q.step === p.step));
  if (common.length) {
    const p = common[common.length - 1]!, q = curves.raster!.find((x) => x.step === p.step)!;
    L(`At the last step both runs reached (${p.step}, the same point of the same schedule): NestAR / raster AR best FD = **${f(p.best.fd / q.best.fd)}**, recall ${f(p.best.recall / q.best.recall)}× raster AR's.`);
    L();
  }
  budgetParagraph(L, curves.nestar!);
  L('![FD vs training core-hours](emoji-32/long/fd-vs-core-hours.svg)');
  L();
  const finals = Object.fromEntries(METHODS.map((m) => [m, bestOf([read<Report>(join('results/emoji-32/long', m, 'final', 'report.json')), read<Report>(join('results/emoji-32/long', m, 'final-linear', 'report.json'))])]));
  const real = read<Report>('results/emoji-32/long/nestar/final/report.json')?.realData ?? read<Report>('results/emoji-32/long/raster/final/report.json')?.realData;
  L('**Final checkpoints** (N = 2000, CFG 1.5/2 constant and 3 linear — the grid of the amendment in colour-long.sh — best of three; exported in F16 to `checkpoints/emoji-32/<method>`):');
  L();
  L('| method | best FD (CFG, schedule) | × real | precision | recall | near-duplicate pairs | memorisation |');
  L('|---|---:|---:|---:|---:|---:|---:|');
  for (const m of METHODS) {
    const b = finals[m];
    L(b && real ? `| ${m} | ${f(b.fd)} (${b.cfg}, ${b.schedule}) | ${f(b.fd / real.fd)} | ${f(b.precision, 3)} | ${f(b.recall, 3)} | ${pct(b.nearDuplicates)} | ${pct(b.memorisation)} |`
      : `| ${m} | not evaluated yet (training still to finish: \`bash scripts/results/colour-long.sh\` resumes it) | | | | | |`);
  }
  if (real) L(`| real data (2000 train vs held-out) | ${f(real.fd)} | 1 | ${f(real.precision, 3)} | ${f(real.recall, 3)} | ${pct(real.nearDuplicates)} | 0 % by definition |`);
  L();
}

interface TokenizerReport { psnr: number; fdReconstruction: number; images: number }

/** The tokenizer pilot (scripts/results/colour-tokenizer.sh) against the committed emoji-64 tokenizer. */
export function colourTokenizerSection(L: (s?: string) => void): void {
  const base = read<TokenizerReport>('results/emoji-64/tokenizer/report.json'), levers = read<TokenizerReport>('results/emoji-64/tokenizer-levers/report.json');
  const real = read<Report>('results/emoji-64/nestar/eval/report.json')?.realData;
  if (!base || !real) return;
  L('**Tokenizer pilot** (`scripts/results/colour-tokenizer.sh`, protocol in its header): the emoji-64 KL tokenizer against the same run with a');
  L('wider decoder (96), the perceptual term on a classifier trained here with seed 1 and a patch discriminator from step 500, all at once;');
  L(`reconstructions of the ${base.images} held-out images, FD in the 64×64 evaluation feature net, real-data row ${f(real.fd)} (targets: PSNR ≥ 28 dB, FD ≤ 1.3× real).`);
  L();
  L('| tokenizer | PSNR (dB) | reconstruction FD | × real |');
  L('|---|---:|---:|---:|');
  L(`| committed (1000 steps × 32, L1 + KL) | ${f(base.psnr)} | ${f(base.fdReconstruction)} | ${f(base.fdReconstruction / real.fd)} |`);
  L(levers ? `| + decoder 96, perceptual, discriminator | ${f(levers.psnr)} | ${f(levers.fdReconstruction)} | ${f(levers.fdReconstruction / real.fd)} |`
    : '| + decoder 96, perceptual, discriminator | not run yet | | |');
  L();
}

/** The curve's SVG series: FD against training core-hours, one line per method. */
export function colourCurveSeries(): Array<{ name: string; points: Array<[number, number]> }> {
  return METHODS.map((m) => ({ name: m === 'nestar' ? 'NestAR' : 'raster AR', points: colourCurve(m).map((p) => [p.hours, p.best.fd] as [number, number]) }))
    .filter((s) => s.points.length > 0);
}
