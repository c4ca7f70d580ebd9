// `nestar train-tokenizer | eval-tokenizer | encode` (issue #7).
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeBackend, initBackend, parseBackendName } from '../engine/backend.js';
import { loadSplit, loadTrainingData } from '../data/load.js';
import { readTokenizerRunConfig, readTokenizerSource } from '../tokenizer/checkpointInfo.js';
import { resolveTokenizerRunConfig, TokenizerTrainer, loadLatentTokenizer, type TokenizerRunConfig } from '../tokenizer/trainTokenizer.js';
import { tokenizerReport, writeReconstructionGrid } from '../tokenizer/report.js';
import { tokenizerFingerprint, writeLatentCache } from '../tokenizer/latentCache.js';
import type { LatentTokenizer } from '../tokenizer/latentTokenizer.js';
import { FeatureNet } from '../eval/featureNet.js';
import { checkPerceptualNet } from '../tokenizer/perceptualLoss.js';
import type { DataConfig } from '../train/config.js';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { defaultFeatureDir, ensureFeatureNet } from '../eval/featureNets.js';
import { ProgressBar } from './progress.js';
import { choice, num, parse, UsageError } from './args.js';
import { readConfigFile } from './configFile.js';
import { defaultChannels, resolveRunConfig } from '../train/config.js';
import { PatchTokenizer } from '../tokenizer/patchTokenizer.js';
import { exportVariables } from '../train/weights.js';

export const TRAIN_TOKENIZER_HELP = `nestar train-tokenizer [--data mnist|FOLDER] [--image-size 32] [--channels 1|3] [--limit N] [--out runs/tokenizer]
  [--resume] [--factor 4|8] [--latent-channels 4] [--width 48] [--steps 2000] [--batch-size 64] [--lr 2e-3] [--recon l1|l2]
  [--kl-weight 1e-4] [--decoder-width W] [--perceptual-weight 0 [--perceptual-net DIR]] [--disc-weight 0] [--disc-start 0] [--disc-width 32]
  [--features DIR] [--report-n 1000] [--checkpoint-every 250] [--seed 0] [--backend B]
  --perceptual-net: a classifier trained here on the training split that is NOT the evaluation net (default: the
  dataset's evaluation net folder + '-perceptual', trained with seed 1 when missing); --features: the evaluation net of
  the final report. --disc-weight > 0 adds a patch discriminator (hinge loss) from step --disc-start on.`;
export const EVAL_TOKENIZER_HELP = 'nestar eval-tokenizer --tokenizer DIR [--n 1000] [--features runs/features/mnist] [--out DIR] [--backend B]';
export const ENCODE_HELP = `nestar encode --tokenizer DIR --out latents.safetensors [--data mnist|FOLDER] [--patch 1] [--limit N] [--backend B]
nestar encode --config run.json --out tokens.safetensors [--data mnist|emoji|FOLDER] [--backend B]
  The second form writes the tokens a run config trains on (its training split, either tokenizer kind) with the
  resolved config and class names: the PyTorch twin trains from it on any dataset (python -m nestar_torch.train --tokens FILE).`;

async function backend(v: string | boolean | undefined): Promise<string> {
  const info = await initBackend(typeof v === 'string' ? parseBackendName(v, '--backend') : undefined);
  console.error(describeBackend(info));
  return info.name;
}

/** Held-out images for a report: MNIST's test split, or the held-out split of emoji or a folder. */
function heldOut(data: DataConfig, n: number) {
  return loadSplit(data, 'heldout', { limit: n });
}

/**
 * The dataset's feature net for FD (trained on its training split when missing; `dir` given = --features), or
 * null with a note for an unlabelled folder without one: the report then has PSNR only.
 */
function featureNetFor(data: DataConfig, dir: string | undefined): FeatureNet | null {
  try {
    return ensureFeatureNet(dir ?? defaultFeatureDir(data), data, { allowOther: dir !== undefined }).net;
  } catch (e) {
    if (!/no class sub-folders/.test((e as Error).message)) throw e;
    console.error(`note: no feature net for ${data.source} (${(e as Error).message.split(';')[0]}); the report has PSNR only`);
    return null;
  }
}

/**
 * The perceptual net of a tokenizer run: `dir` (--perceptual-net), or the dataset's evaluation-net folder with
 * '-perceptual' appended, trained there with seed 1 when missing. Never the evaluation net itself (same weights).
 */
function perceptualNetFor(data: DataConfig, dir: string | boolean | undefined): { net: FeatureNet; dir: string } {
  const evalDir = defaultFeatureDir(data);
  const pdir = typeof dir === 'string' ? resolve(dir) : `${evalDir}-perceptual`;
  const { net } = ensureFeatureNet(pdir, data, { seed: 1, limit: data.limit, allowOther: typeof dir === 'string' });
  const evalHash = existsSync(join(evalDir, 'feature-net.safetensors')) ? FeatureNet.load(evalDir) : undefined;
  try {
    checkPerceptualNet({ hash: net.hash(), dir: pdir }, evalHash ? { hash: evalHash.hash(), dir: evalDir } : undefined);
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    evalHash?.dispose();
  }
  return { net, dir: pdir };
}

function writeReport(tok: LatentTokenizer, data: DataConfig, n: number, featuresDir: string | undefined, outDir: string, extra: Record<string, unknown>): void {
  const images = heldOut(data, n);
  const net = featureNetFor(data, featuresDir);
  const { report, recon } = tokenizerReport(tok, images, net);
  net?.dispose();
  mkdirSync(outDir, { recursive: true });
  const full = { kind: 'nestar-tokenizer-report', ...extra, data: data.source === 'mnist' ? 'mnist test' : data.source, ...report, latentStats: tok.stats };
  atomicWriteFile(join(outDir, 'report.json'), JSON.stringify(full, null, 1) + '\n');
  const fd = report.fdReconstruction === null ? 'n/a (no feature net for this data)' : report.fdReconstruction.toFixed(3);
  atomicWriteFile(join(outDir, 'report.md'), `# Tokenizer report\n\n| images | PSNR (dB) | MSE | FD (reconstructions vs originals) | tokens |\n|---:|---:|---:|---:|---|\n` +
    `| ${report.images} | ${report.psnr.toFixed(2)} | ${report.mse.toExponential(3)} | ${fd} | ${report.tokens.grid}×${report.tokens.grid} × ${report.tokens.tokenDim} |\n`);
  writeReconstructionGrid(join(outDir, 'reconstructions.png'), images, recon);
  console.log(`tokenizer: PSNR ${report.psnr.toFixed(2)} dB, FD(reconstructions) ${fd} on ${report.images} held-out images; ` +
    `tokens ${report.tokens.grid}x${report.tokens.grid}x${report.tokens.tokenDim}; report in ${outDir}`);
}

export async function trainTokenizerCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { data: { type: 'string' }, 'image-size': { type: 'string' }, channels: { type: 'string' }, limit: { type: 'string' },
    out: { type: 'string' }, resume: { type: 'boolean' }, factor: { type: 'string' }, 'latent-channels': { type: 'string' }, width: { type: 'string' },
    steps: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, recon: { type: 'string' }, 'kl-weight': { type: 'string' },
    'perceptual-weight': { type: 'string' }, 'perceptual-net': { type: 'string' }, 'disc-weight': { type: 'string' }, 'disc-start': { type: 'string' },
    'disc-width': { type: 'string' }, 'decoder-width': { type: 'string' },
    features: { type: 'string' }, 'report-n': { type: 'string' }, 'checkpoint-every': { type: 'string' },
    seed: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(TRAIN_TOKENIZER_HELP);
  const runDir = resolve(typeof a.out === 'string' ? a.out : 'runs/tokenizer');
  const name = await backend(a.backend);
  const featuresDir = typeof a.features === 'string' ? resolve(a.features) : undefined;
  const steps = num(a.steps, 'steps', { int: true, min: 1 });
  let trainer: TokenizerTrainer;
  if (a.resume) {
    const prev = readTokenizerRunConfig(runDir);
    const perceptual = prev.train.perceptualWeight > 0 ? perceptualNetFor(prev.data, a['perceptual-net']) : undefined;
    trainer = TokenizerTrainer.resume(runDir, { backendName: name, steps, perceptual });
    console.error(`resuming ${runDir} at step ${trainer.step}`);
  } else {
    if (existsSync(join(runDir, 'latest.json'))) throw new UsageError(`--out ${runDir} already holds a run; pass --resume to continue it or choose another --out`);
    const train: Record<string, unknown> = {}, tokenizer: Record<string, unknown> = {}, data: Record<string, unknown> = {};
    const set = (o: Record<string, unknown>, k: string, v: unknown) => { if (v !== undefined) o[k] = v; };
    set(data, 'source', typeof a.data === 'string' ? a.data : undefined);
    set(data, 'imageSize', num(a['image-size'], 'image-size', { int: true, min: 4 }));
    set(data, 'channels', num(a.channels, 'channels', { int: true, min: 1, max: 3 }));
    set(data, 'limit', num(a.limit, 'limit', { int: true, min: 1 }));
    set(tokenizer, 'factor', num(a.factor, 'factor', { int: true, min: 2 }));
    set(tokenizer, 'latentChannels', num(a['latent-channels'], 'latent-channels', { int: true, min: 1 }));
    set(tokenizer, 'width', num(a.width, 'width', { int: true, min: 1 }));
    set(tokenizer, 'decoderWidth', num(a['decoder-width'], 'decoder-width', { int: true, min: 1 }));
    set(train, 'discWeight', num(a['disc-weight'], 'disc-weight', { min: 0 }));
    set(train, 'discStart', num(a['disc-start'], 'disc-start', { int: true, min: 0 }));
    set(train, 'discWidth', num(a['disc-width'], 'disc-width', { int: true, min: 1 }));
    set(train, 'steps', steps);
    set(train, 'batchSize', num(a['batch-size'], 'batch-size', { int: true, min: 1 }));
    set(train, 'lr', num(a.lr, 'lr', { min: 0 }));
    set(train, 'recon', choice(a.recon, 'recon', ['l1', 'l2'] as const));
    set(train, 'klWeight', num(a['kl-weight'], 'kl-weight', { min: 0 }));
    set(train, 'perceptualWeight', num(a['perceptual-weight'], 'perceptual-weight', { min: 0 }));
    set(train, 'checkpointEvery', num(a['checkpoint-every'], 'checkpoint-every', { int: true, min: 1 }));
    set(train, 'seed', num(a.seed, 'seed', { int: true, min: 0 }));
    const config: TokenizerRunConfig = resolveTokenizerRunConfig({ data: data as Partial<DataConfig>, tokenizer, train });
    const perceptual = config.train.perceptualWeight > 0 ? perceptualNetFor(config.data, a['perceptual-net']) : undefined;
    trainer = TokenizerTrainer.create(config, runDir, { backendName: name, perceptual });
  }
  const c = trainer.config;
  console.error(`tokenizer: KL autoencoder, factor ${c.tokenizer.factor}, ${c.tokenizer.latentChannels} latent channels, ${trainer.ae.params.count().toLocaleString()} parameters`);
  const bar = new ProgressBar(c.train.steps, 'tokenizer', trainer.step);
  await trainer.run((l) => bar.update(l.step, { recon: l.recon.toFixed(4), kl: l.kl.toFixed(3),
    ...(l.perceptual !== undefined ? { perc: l.perceptual.toFixed(4) } : {}), ...(l.disc !== undefined ? { disc: l.disc.toFixed(3) } : {}) }));
  console.log(`checkpoint: ${join(runDir, 'latest.json')}`);
  const tok = trainer.tokenizer();
  writeReport(tok, c.data, num(a['report-n'], 'report-n', { int: true, min: 1 }) ?? 1000, featuresDir, join(runDir, 'report'), { tokenizer: runDir, step: trainer.step, backend: name });
  trainer.dispose();
}

export async function evalTokenizerCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { tokenizer: { type: 'string' }, n: { type: 'string' }, features: { type: 'string' }, out: { type: 'string' },
    backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(EVAL_TOKENIZER_HELP);
  if (typeof a.tokenizer !== 'string') throw new UsageError('--tokenizer DIR is required (a tokenizer run or checkpoint folder)');
  const name = await backend(a.backend);
  const source = readTokenizerSource(a.tokenizer), tok = loadLatentTokenizer(source), data = source.data;
  writeReport(tok, data, num(a.n, 'n', { int: true, min: 1 }) ?? 1000, typeof a.features === 'string' ? resolve(a.features) : undefined,
    resolve(typeof a.out === 'string' ? a.out : join(a.tokenizer, 'report')), { tokenizer: resolve(a.tokenizer), backend: name });
  tok.dispose();
}

export async function encodeCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { tokenizer: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, data: { type: 'string' }, patch: { type: 'string' },
    limit: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (a.help) return void console.log(ENCODE_HELP);
  if (typeof a.out !== 'string') throw new UsageError('--out FILE.safetensors is required');
  if (typeof a.config === 'string') {
    if (a.tokenizer !== undefined || a.patch !== undefined || a.limit !== undefined) throw new UsageError('--config takes the tokenizer and data limit from the config; --tokenizer, --patch and --limit belong to the other form');
    await backend(a.backend);
    return encodeRunTokens(a.config, typeof a.data === 'string' ? a.data : undefined, resolve(a.out));
  }
  if (typeof a.tokenizer !== 'string') throw new UsageError('--tokenizer DIR (or --config run.json) is required');
  await backend(a.backend);
  const source = readTokenizerSource(a.tokenizer), tok = loadLatentTokenizer(source, num(a.patch, 'patch', { int: true, min: 1 }) ?? 1);
  const data = { ...source.data, ...(typeof a.data === 'string' ? { source: a.data } : {}), limit: num(a.limit, 'limit', { int: true, min: 1 }) };
  const ds = loadTrainingData(data);
  const t0 = performance.now();
  const tokens = tok.encode(ds);
  writeLatentCache(resolve(a.out), tokens, ds.labels, tokenizerFingerprint(tok), { count: ds.count, numTokens: tok.numTokens, tokenDim: tok.tokenDim }, data.source);
  console.log(`encoded ${ds.count} images to ${tok.gridSize}x${tok.gridSize} tokens of ${tok.tokenDim} channels in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${resolve(a.out)}`);
  tok.dispose();
}

/** `nestar encode --config`: the training tokens of a run config, as its trainer makes them, with the resolved config. */
function encodeRunTokens(configPath: string, source: string | undefined, out: string): void {
  const input = readConfigFile(configPath);
  // As `nestar train --config` reads the file: the source may come from --data, channels default by source.
  const data = { ...input.data, ...(source ? { source } : {}) };
  if (data.channels === undefined && data.source !== undefined) data.channels = defaultChannels(data.source);
  const config = resolveRunConfig({ ...input, data });
  const { data: dc, tokenizer: tc } = config;
  const ds = loadTrainingData(dc);
  const t0 = performance.now();
  const tok = tc.kind === 'patch' ? new PatchTokenizer(dc.imageSize, dc.channels, tc.patch) : loadLatentTokenizer(tc.checkpoint!, tc.patch);
  const tokens = tok.encode(ds);
  const fingerprint = tok instanceof PatchTokenizer ? `patch ${dc.imageSize}x${dc.imageSize}x${dc.channels} / ${tc.patch}` : tokenizerFingerprint(tok);
  const classNames = dc.source === 'mnist' ? undefined : ds.classNames ?? [];
  // KL latents: the tokenizer travels with them (state + weights), so a run trained elsewhere can be decoded by nestar.
  const latent = tok instanceof PatchTokenizer ? undefined : tok;
  const tokTensors = latent ? Object.fromEntries(Object.entries(exportVariables(latent.ae.params.vars)).map(([k, v]) => [`tokenizer.${k}`, v])) : {};
  writeLatentCache(out, tokens, ds.labels, fingerprint, { count: ds.count, numTokens: tok.numTokens, tokenDim: tok.tokenDim }, dc.source,
    { config: JSON.stringify(config), ...(classNames ? { classNames: JSON.stringify(classNames) } : {}), ...(latent ? { tokenizer: JSON.stringify(latent.state()) } : {}) }, tokTensors);
  console.log(`encoded the ${ds.count} training images of ${dc.source} to ${tok.numTokens} tokens of ${tok.tokenDim} values (${tc.kind} tokenizer) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${out}`);
  if (!(tok instanceof PatchTokenizer)) tok.dispose();
}
