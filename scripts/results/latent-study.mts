// Issue #20's latent study, the measurements that need no training (scripts/results/latent-sensitivity.mts):
// a paragraph for RESULTS.md's latent section, every number and every comparison read from sensitivity.json.
import { join } from 'node:path';
import { f, read } from './reportFiles.mts';

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
  L(`Does the latent space amplify token errors? ${amplify}. Are latent tokens harder to predict locally? They are ${r2}. ${cleared ? 'So neither decoder sensitivity nor local smoothness explains the weak latent runs; what' : 'What'} is left to test with short training runs (not done yet) is the KL weight, the number of latent channels and the normalisation.`);
  L();
}
