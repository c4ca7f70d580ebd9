// The colour sections of RESULTS.md (issue #20): NestAR, raster AR and next-scale AR on the Noto emoji at 32×32×3
// (8×8 pixel-patch grid, scripts/results/emoji.sh) and at 64×64×3 through a KL tokenizer (16×16 latent grid,
// scripts/results/emoji-latent.sh); imported by make-results.mts. Every number is read from a JSON.
import { join } from 'node:path';
import { bestFd, f, read } from './reportFiles.mts';

interface Row { label: string; n: number; fd: number; is: number; recall: number; precision: number; coverage: number; cfg?: number; memorisation?: number | null; samplingSeconds?: number }
interface Report { rows: Row[]; realData: Row; split: string; referenceN: number; featureNet: { sha256: string; testAccuracy: number };
  source: { params?: number; step: number; sequentialCalls?: number }; settings: { classes?: string } }
export const EMOJI_METHODS = ['nestar', 'raster', 'nextscale'] as const;
type Method = typeof EMOJI_METHODS[number];
type Reports = Partial<Record<Method, Report | null>>;

const classesLine = (r: Report) => `Sample classes: ${r.settings.classes ?? 'each class in turn (reports made before the eval drew them in proportion to the training split)'}.`;

/** One row per method (FD at every CFG, the best row's metrics), the real-data row, then the NestAR/raster verdict. */
function methodsTable(L: (s?: string) => void, reps: Reports, missing: (m: Method) => string): void {
  const done = EMOJI_METHODS.filter((m) => reps[m]), any = reps[done[0]!]!;
  const cfgs = [...new Set(done.flatMap((m) => reps[m]!.rows.map((r) => r.cfg!)))].sort((a, b) => a - b);
  L(`| method | parameters | calls | ${cfgs.map((c) => `FD @ CFG ${c}`).join(' | ')} | best FD | IS | precision | recall | coverage | memorisation |`);
  L(`|---|---:|---:|${cfgs.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|---:|`);
  for (const m of EMOJI_METHODS) {
    const r = reps[m];
    if (!r) { L(`| ${m} | | | ${cfgs.map(() => '').join(' | ')} | ${missing(m)} | | | | | |`); continue; }
    const b = bestFd(r.rows), cell = (c: number) => { const x = r.rows.find((y) => y.cfg === c); return x ? f(x.fd) : '–'; };
    L(`| ${m} | ${r.source.params ? `${(r.source.params / 1e6).toFixed(2)}M` : 'n/a'} | ${r.source.sequentialCalls ?? ''} | ${cfgs.map(cell).join(' | ')} | **${f(b.fd)}** (${b.cfg}) | ${f(b.is)} | ${f(b.precision, 3)} | ${f(b.recall, 3)} | ${f(b.coverage, 3)} | ${b.memorisation == null ? 'n/a' : `${f(100 * b.memorisation, 1)} %`} |`);
  }
  const real = any.realData;
  L(`| ${real.label} | | | ${cfgs.map(() => '').join(' | ')} | ${f(real.fd)} | ${f(real.is)} | ${f(real.precision, 3)} | ${f(real.recall, 3)} | ${f(real.coverage, 3)} | 0 % by definition |`);
  L();
  if (reps.nestar && reps.raster) {
    const a = bestFd(reps.nestar.rows), b = bestFd(reps.raster.rows), ratio = a.fd / b.fd;
    L(`NestAR / raster AR best FD: **${f(ratio)}** (target ≤ 1.2, aim ≤ 1.0: ${ratio <= 1 ? 'aim met' : ratio <= 1.2 ? 'target met, aim not' : 'missed'}); recall ${f(a.recall / b.recall)}×; NestAR's best FD is ${f(a.fd / real.fd)}× the real-data row. Memorisation target (≤ 5 points above the real-data row's 0 %): ${[a, b].every((x) => (x.memorisation ?? 1) <= 0.05) ? 'met by both' : 'missed'}.`);
    L();
  }
}

const readReports = (dir: string): Reports => Object.fromEntries(EMOJI_METHODS.map((m) => [m, read<Report>(join(dir, m, 'eval', 'report.json'))]));

export function emojiSection(L: (s?: string) => void): void {
  const cfg = read<{ train: { steps: number; batchSize: number }; model: { headKind: string; order: string } }>('results/configs/emoji-32.json');
  const reps = readReports('results/emoji-32'), done = EMOJI_METHODS.filter((m) => reps[m]);
  L('## Colour: Noto emoji at 32×32 (issue #20)');
  L();
  if (!done.length) { L('Not evaluated yet (`scripts/results/emoji.sh`).'); L(); return; }
  const any = reps[done[0]!]!;
  L(`\`--data emoji\` (3,781 images, 9 categories as classes), 4×4×3 pixel patches on an 8×8 grid, one config for every method`);
  L(`(\`results/configs/emoji-32.json\`: ${cfg?.train.steps} steps × batch ${cfg?.train.batchSize}, head ${cfg?.model.headKind} with the ${cfg?.model.order} order for NestAR),`);
  L(`trained on the 90 % training split and scored against the ${any.split} split (${any.referenceN} images) in the emoji feature net`);
  L(`(\`checkpoints/features/emoji-32x3\`, ${f(100 * any.featureNet.testAccuracy, 1)} % held-out accuracy, sha256 ${any.featureNet.sha256.slice(0, 12)}…), N = ${any.rows[0]!.n} samples per CFG`);
  L('(`scripts/results/emoji.sh`; final checkpoints in F16 under `checkpoints/emoji-32/<method>`; `nestar web --checkpoint nestar=checkpoints/emoji-32/nestar --checkpoint raster=checkpoints/emoji-32/raster` serves them).');
  L(classesLine(any));
  L();
  methodsTable(L, reps, () => 'not trained yet');
  const shots = done.map((m) => `![${m}](emoji-32/${m}/eval/samples.png)`);
  L(`Samples at CFG ${any.rows[0]!.cfg} (the first 100, classes as above), in table order: ${shots.join(' ')}`);
  L();
  L(reps.nextscale ? 'Next-scale AR trained at batch 64 in one pass (no `--micro-batch`): since the native fused attention its step fits the WASM heap.'
    : 'Next-scale AR is not in this table yet (`METHODS=nextscale bash scripts/results/emoji.sh`).');
  L();
}

interface Latency { command: string; settings: { odeSteps: number; cfg: number; runs: string };
  methods: Record<Method, { params: number; medianMs: number; sequentialCalls: number; checkpoint: string }> }
interface TokenizerReport { psnr: number; fdReconstruction: number; images: number; tokens: { grid: number; tokenDim: number } }

export function grid16Section(L: (s?: string) => void): void {
  const dir = 'results/emoji-64';
  const cfg = read<{ train: { steps: number; batchSize: number }; model: { headKind: string; order: string } }>('results/configs/emoji-64-latent.json');
  const reps = readReports(dir), tok = read<TokenizerReport>(join(dir, 'tokenizer', 'report.json')), lat = read<Latency>(join(dir, 'latency.json'));
  L('## The 16×16 latent grid: emoji at 64×64 (issue #20)');
  L();
  if (!reps.nestar || !tok) { L('Not run yet (`scripts/results/emoji-latent.sh`).'); L(); return; }
  const any = reps.nestar;
  L(`The Noto emoji at 64×64×3 through a KL tokenizer (factor 4, ${tok.tokens.tokenDim} latent channels, KL weight 1e-2 as the latent study below chose) give a`);
  L(`${tok.tokens.grid}×${tok.tokens.grid} grid of ${tok.tokens.tokenDim}-d tokens (n = 256): NestAR makes 13 sequential calls where raster AR makes 256. Tokenizer reconstructions of the`);
  L(`${tok.images} held-out images: PSNR ${f(tok.psnr)} dB, FD ${f(tok.fdReconstruction)} in the 64×64 emoji feature net (\`checkpoints/features/emoji-64x3\`,`);
  L(`${f(100 * any.featureNet.testAccuracy, 1)} % held-out accuracy). One config (\`results/configs/emoji-64-latent.json\`: ${cfg?.train.steps} steps × batch ${cfg?.train.batchSize},`);
  L(`head ${cfg?.model.headKind}, ${cfg?.model.order} order), a short budget sized for two cores; N = ${any.rows[0]!.n} samples per CFG against the ${any.referenceN} held-out images.`);
  L('Raster AR trains on tokens from the F16 tokenizer shipped inside NestAR\'s checkpoint (NestAR trained on the F32 run\'s), decoded by the same tokenizer.');
  L('Checkpoints in F16 under `checkpoints/emoji-64/<method>`; `nestar web --checkpoint nestar=checkpoints/emoji-64/nestar --checkpoint raster=checkpoints/emoji-64/raster` serves them.');
  L(classesLine(any));
  L();
  methodsTable(L, reps, (m) => (m === 'nextscale' ? 'latency only' : 'not trained yet'));
  const shots = EMOJI_METHODS.filter((m) => reps[m]).map((m) => `![${m}](emoji-64/${m}/eval/samples.png)`);
  L(`Samples at CFG ${any.rows[0]!.cfg}, in table order: ${shots.join(' ')}`);
  L();
  if (lat) {
    L(`Batch-1 sampling latency, decoded to pixels (\`${lat.command.replace(/^node --import tsx /, '')}\`; ${lat.settings.odeSteps} Euler steps, CFG ${lat.settings.cfg}, ${lat.settings.runs};`);
    L('the baselines\' weights are one training step old where they were not trained, which costs the same to sample):');
    L();
    L('| method | parameters | sequential calls | latency, batch 1 |');
    L('|---|---:|---:|---:|');
    for (const m of EMOJI_METHODS) { const x = lat.methods[m]; L(`| ${m} | ${(x.params / 1e6).toFixed(2)}M | ${x.sequentialCalls} | ${x.medianMs.toFixed(0)} ms |`); }
    L();
    L(`Raster AR / NestAR latency: **${f(lat.methods.raster.medianMs / lat.methods.nestar.medianMs)}×**; next-scale AR / NestAR: ${f(lat.methods.nextscale.medianMs / lat.methods.nestar.medianMs)}×.`);
    L();
  }
}
