// Issue #20's latent study, the measurements that need no training (scripts/results/latent-sensitivity.mts):
// a paragraph for RESULTS.md's latent section, every number and every comparison read from sensitivity.json.
import { join } from 'node:path';
import { bestFd, f, read } from './reportFiles.mts';

interface Entry { grid: number; tokenDim: number; fdBySigma: Record<string, number>; neighbourR2: number }
interface Sensitivity { command: string; images: string; sigmas: number[]; tokenizers: Record<string, Entry> }

export function latentSensitivitySection(dir: string, L: (s?: string) => void): void {
  const s = read<Sensitivity>(join(dir, 'sensitivity.json'));
  if (!s) return;
  const names = Object.keys(s.tokenizers), [pix, lat] = names.map((n) => s.tokenizers[n]!) as [Entry, Entry];
  if (!pix || !lat) return;
  L(`What limits generators on these latents (issue #20, first measurements, no training: \`${s.command}\`). Each token channel gets Gaussian noise of σ × its standard deviation before decoding; FD is to the same clean images (${s.images}). R² is the share of a token channel's variance a least-squares fit on its left, upper and upper-left neighbours explains:`);
  L();
  L(`| tokens | ${s.sigmas.map((x) => `FD, σ = ${x}`).join(' | ')} | neighbour R² |`);
  L(`|---|${s.sigmas.map(() => '---:').join('|')}|---:|`);
  for (const n of names) {
    const e = s.tokenizers[n]!;
    L(`| ${n} | ${s.sigmas.map((x) => f(Math.max(0, e.fdBySigma[String(x)]!))).join(' | ')} | ${f(e.neighbourR2, 3)} |`);
  }
  L();
  const noisy = s.sigmas.filter((x) => x >= 0.1);
  const lower = noisy.filter((x) => lat.fdBySigma[String(x)]! < pix.fdBySigma[String(x)]!);
  const amplify = lower.length === noisy.length ? 'no: at every σ ≥ 0.1 the same relative token error costs less FD in the latent space than in pixel patches'
    : lower.length === 0 ? 'yes: at every σ ≥ 0.1 the latent space costs more FD for the same relative token error' : `mixed: lower latent FD at σ = ${lower.join(', ')} only`;
  const r2 = Math.abs(lat.neighbourR2 - pix.neighbourR2) < 0.05 ? `about as predictable from their neighbours (R² ${f(lat.neighbourR2, 3)} vs ${f(pix.neighbourR2, 3)})`
    : lat.neighbourR2 < pix.neighbourR2 ? `less predictable from their neighbours (R² ${f(lat.neighbourR2, 3)} vs ${f(pix.neighbourR2, 3)})` : `more predictable from their neighbours (R² ${f(lat.neighbourR2, 3)} vs ${f(pix.neighbourR2, 3)})`;
  const cleared = lower.length === noisy.length && lat.neighbourR2 >= pix.neighbourR2 - 0.05;
  L(`Does the latent space amplify token errors? ${amplify}. Are latent tokens harder to predict locally? They are ${r2}. ${cleared ? 'So neither decoder sensitivity nor local smoothness explains the weak latent runs; what' : 'What'} is left to test with short training runs ${read(join(dir, 'short', 'control', 'eval', 'report.json')) ? '(below)' : '(not done yet)'} is the KL weight, the number of latent channels and the normalisation.`);
  L();
}

interface TokReport { psnr: number; fdReconstruction: number; images: number; tokens: { grid: number; tokenDim: number }; latentStats: { std: number[] } }
interface EvalRow { cfg?: number; fd: number; precision: number; recall: number; coverage: number }
interface EvalReport { rows: EvalRow[]; settings: { n: number }; source: { step: number } }

/** The variants of scripts/results/latent-short.sh, in its order, with the one change each makes. */
const SHORT_VARIANTS: [string, string, string][] = [
  ['control', 'KL 1e-4, 4 channels, normalised (latent.sh\'s tokenizer)', 'control'],
  ['nonorm', 'control tokenizer, latents not normalised (mean 0, std 1 in place of the measured statistics)', 'control'],
  ['kl1e-3', 'KL weight 1e-3 (×10)', 'kl1e-3'],
  ['kl1e-2', 'KL weight 1e-2 (×100)', 'kl1e-2'],
  ['ch8', '8 latent channels', 'ch8'],
  ['pixel', 'pixel patches (4×4, no tokenizer)', ''],
];

/** Issue #20's short training runs on latent variants (scripts/results/latent-short.sh), every number read from its reports. */
export function latentShortSection(dir: string, L: (s?: string) => void): void {
  // Each variant's evaluation has one row (one CFG scale).
  const rows = SHORT_VARIANTS.flatMap(([v, what, tok]) => {
    const ev = read<EvalReport>(join(dir, v, 'eval', 'report.json'));
    return ev ? [{ v, what, tok: tok ? read<TokReport>(join(dir, tok, 'tokenizer', 'report.json')) : null, ev, ...ev.rows[0]! }] : [];
  });
  if (!rows.length) return;
  const { ev: ev0, cfg } = rows[0]!;
  const settings = read<{ tokenizerSteps: number }>(join(dir, 'settings.json'));
  L(`Short runs, one change each (\`bash scripts/results/latent-short.sh\`): every tokenizer trained for ${settings ? `${settings.tokenizerSteps} steps (latent.sh's: 2000)` : 'the same steps'}, then NestAR for ${ev0.source.step} steps on its latents (the pixel runs' config, one latent cell per token), scored at CFG ${cfg} on ${ev0.settings.n} samples. Short runs: compare the rows with each other, not with the full runs above (one training seed each).`);
  L();
  L('| variant | change | tokenizer PSNR (dB) | FD of reconstructions | raw latent std (mean over channels) | NestAR FD ↓ | precision | recall | coverage |');
  L('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const { tok } = r, std = tok ? tok.latentStats.std.reduce((a, b) => a + b, 0) / tok.latentStats.std.length : NaN;
    L(`| ${r.v} | ${r.what} | ${tok ? f(tok.psnr) : '–'} | ${tok ? f(tok.fdReconstruction) : '–'} | ${tok ? f(std, 3) : '–'} | ${f(r.fd)} | ${f(r.precision, 3)} | ${f(r.recall, 3)} | ${f(r.coverage, 3)} |`);
  }
  L();
  const control = rows.find((r) => r.v === 'control')?.fd, pixel = rows.find((r) => r.v === 'pixel')?.fd;
  const latentRows = rows.filter((r) => r.v !== 'pixel');
  if (control !== undefined) {
    const best = bestFd(latentRows), parts = latentRows.filter((r) => r.v !== 'control').map((r) => `${r.v} ${f(r.fd / control, 2)}×`);
    L(`NestAR FD relative to the control: ${parts.join(', ')}${pixel !== undefined ? `; pixel patches ${f(pixel / control, 2)}×` : ''}. Best latent variant: ${best.v} (FD ${f(best.fd)}${pixel !== undefined ? `, ${best.fd <= pixel ? 'at or below' : 'above'} the pixel-patch run's ${f(pixel)}` : ''}).`);
    L();
  }
  const missing = SHORT_VARIANTS.map(([v]) => v).filter((v) => !rows.some((r) => r.v === v));
  if (missing.length) { L(`Not run yet: ${missing.join(', ')}.`); L(); }
}
