// The colour section of RESULTS.md (issue #20): NestAR, raster AR and next-scale AR on the Noto emoji at 32×32×3,
// from the reports scripts/results/emoji.sh writes; imported by make-results.mts. Every number is read from a JSON.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bestFd, f, read } from './reportFiles.mts';

interface Row { n: number; fd: number; is: number; recall: number; precision: number; coverage: number; cfg?: number; memorisation?: number | null; samplingSeconds?: number }
interface Report { rows: Row[]; realData: Row; split: string; referenceN: number; featureNet: { sha256: string; testAccuracy: number };
  source: { params?: number; step: number; sequentialCalls?: number } }
export const EMOJI_METHODS = ['nestar', 'raster', 'nextscale'] as const;

export function emojiSection(L: (s?: string) => void): void {
  const dir = 'results/emoji-32';
  const cfg = read<{ train: { steps: number; batchSize: number }; model: { headKind: string; order: string } }>('results/configs/emoji-32.json');
  const reps = Object.fromEntries(EMOJI_METHODS.map((m) => [m, read<Report>(join(dir, m, 'eval', 'report.json'))]));
  const done = EMOJI_METHODS.filter((m) => reps[m]);
  L('## Colour: Noto emoji at 32×32 (issue #20)');
  L();
  if (!done.length) { L('Not evaluated yet (`scripts/results/emoji.sh`).'); L(); return; }
  const any = reps[done[0]!]!;
  L(`\`--data emoji\` (3,781 images, 9 categories as classes), 4×4×3 pixel patches on an 8×8 grid, one config for every method`);
  L(`(\`results/configs/emoji-32.json\`: ${cfg?.train.steps} steps × batch ${cfg?.train.batchSize}, head ${cfg?.model.headKind} with the ${cfg?.model.order} order for NestAR),`);
  L(`trained on the 90 % training split and scored against the ${any.split} split (${any.referenceN} images) in the emoji feature net`);
  L(`(\`checkpoints/features/emoji-32x3\`, ${f(100 * any.featureNet.testAccuracy, 1)} % held-out accuracy, sha256 ${any.featureNet.sha256.slice(0, 12)}…), N = ${any.rows[0]!.n} samples per CFG`);
  L('(`scripts/results/emoji.sh`; final checkpoints in F16 under `checkpoints/emoji-32/<method>`; `nestar web --checkpoint nestar=checkpoints/emoji-32/nestar --checkpoint raster=checkpoints/emoji-32/raster` serves them).');
  L(`FD against ${any.referenceN} reference images carries a large small-sample bias: compare methods with each other and with the real-data row, not with MNIST.`);
  L();
  const cfgs = [...new Set(done.flatMap((m) => reps[m]!.rows.map((r) => r.cfg!)))].sort((a, b) => a - b);
  L(`| method | parameters | calls | ${cfgs.map((c) => `FD @ CFG ${c}`).join(' | ')} | best FD | IS | precision | recall | coverage | memorisation |`);
  L(`|---|---:|---:|${cfgs.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|---:|`);
  const best = (r: Report) => bestFd(r.rows);
  for (const m of EMOJI_METHODS) {
    const r = reps[m];
    if (!r) { L(`| ${m} | | | ${cfgs.map(() => '').join(' | ')} | not trained yet | | | | | |`); continue; }
    const b = best(r), cell = (c: number) => { const x = r.rows.find((y) => y.cfg === c); return x ? f(x.fd) : '–'; };
    L(`| ${m} | ${r.source.params ? `${(r.source.params / 1e6).toFixed(2)}M` : 'n/a'} | ${r.source.sequentialCalls ?? ''} | ${cfgs.map(cell).join(' | ')} | **${f(b.fd)}** (${b.cfg}) | ${f(b.is)} | ${f(b.precision, 3)} | ${f(b.recall, 3)} | ${f(b.coverage, 3)} | ${b.memorisation == null ? 'n/a' : `${f(100 * b.memorisation, 1)} %`} |`);
  }
  const real = any.realData;
  L(`| real data (${real.n} train vs held-out) | | | ${cfgs.map(() => '').join(' | ')} | ${f(real.fd)} | ${f(real.is)} | ${f(real.precision, 3)} | ${f(real.recall, 3)} | ${f(real.coverage, 3)} | 0 % by definition |`);
  L();
  const shots = done.map((m) => `![${m}](emoji-32/${m}/eval/samples.png)`);
  L(`Samples at CFG ${cfgs[0]} (classes in turn, one category per column), in table order: ${shots.join(' ')}`);
  L();
  if (reps.nestar && reps.raster) {
    const a = best(reps.nestar), b = best(reps.raster), ratio = a.fd / b.fd;
    L(`NestAR / raster AR best FD: **${f(ratio)}** (target ≤ 1.2, aim ≤ 1.0: ${ratio <= 1 ? 'aim met' : ratio <= 1.2 ? 'target met, aim not' : 'missed'}); recall ${f(a.recall / b.recall)}×; NestAR's best FD is ${f(a.fd / real.fd)}× the real-data row. Memorisation target (≤ 5 points above the real-data row's 0 %): ${[a, b].every((x) => (x.memorisation ?? 1) <= 0.05) ? 'met by both' : 'missed'}.`);
    L();
  }
  if (!reps.nextscale) {
    L('Next-scale AR is not in this table yet: with the patch head its training step at batch 64 needs more than the WASM heap allows');
    L('(`memory access out of bounds` at step 2); `train.microBatch` (gradient accumulation, `--micro-batch 32`) now trains it, at about three times NestAR\'s');
    L('step time, which did not fit this session beside the two runs above.');
    L();
  } else {
    L('Next-scale AR trained at batch 64 in one pass (no `--micro-batch`): since the native fused attention its step fits the WASM heap.');
    L();
  }
}
