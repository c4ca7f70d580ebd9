// `nestar train | sample | demo`: thin wrappers that turn flags into configs and call the library.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { readJsonFile } from '../util/safeRead.js';
import { resolveCheckpointDir } from '../train/checkpoint.js';
import { SHIPPED_DEMO } from './paths.js';
import { dirname, join, resolve } from 'node:path';
import { describeBackend, initBackend, parseBackendName } from '../engine/backend.js';
import { defaultChannels, resolveRunConfig, type RunConfigInput } from '../train/config.js';
import { Trainer, type StepLog } from '../train/trainer.js';
import { loadPipeline } from '../pipeline.js';
import { describeGenerator } from '../model/factory.js';
import { METHODS } from '../model/generator.js';
import { COORD_MODES, type ModuleWeights } from '../model/coord.js';
import { HEAD_KINDS } from '../flow/head.js';
import { TOKEN_ORDERS } from '../model/tokenOrder.js';
import { readTokenizerSource } from '../tokenizer/checkpointInfo.js';
import { writeImageGrid } from '../util/png.js';
import { ProgressBar } from './progress.js';
import { choice, num, parse, UsageError, type Options } from './args.js';
import { readSamplingFlags, SAMPLING_FLAGS, SAMPLING_USAGE } from './samplingFlags.js';
import { readConfigFile } from './configFile.js';
import { colourRecipe } from '../train/recipe.js';
import { loadTrainingData } from '../data/load.js';
import type { ImageDataset } from '../data/dataset.js';

const common: Options = { backend: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } };

async function backend(v: string | boolean | undefined): Promise<string> {
  const info = await initBackend(typeof v === 'string' ? parseBackendName(v, '--backend') : undefined);
  console.error(describeBackend(info));
  return info.name;
}

/** Settings a resumed run may change (they do not change what is trained, only how long and how often it saves). */
const RESUMABLE = ['steps', 'checkpointEvery', 'sampleEvery'] as const;

/**
 * On --resume, every setting given (flags or --config) must agree with the run's recorded config, except the
 * train settings in RESUMABLE, which are returned to be applied; anything else is an error naming it.
 */
function resumeOverrides(runDir: string, requested: RunConfigInput): Partial<Record<(typeof RESUMABLE)[number], number>> {
  const recorded = readJsonFile<{ config: Record<string, Record<string, unknown>> }>(join(resolveCheckpointDir(runDir), 'state.json'), 'checkpoint:').config;
  const overrides: Partial<Record<(typeof RESUMABLE)[number], number>> = {};
  for (const [section, values] of Object.entries(requested)) {
    for (const [key, v] of Object.entries((values ?? {}) as Record<string, unknown>)) {
      if (section === 'train' && (RESUMABLE as readonly string[]).includes(key)) { overrides[key as (typeof RESUMABLE)[number]] = v as number; continue; }
      const was = recorded?.[section]?.[key] ?? (section === 'model' && key === 'kind' ? 'nestar' : undefined);
      const same = JSON.stringify(was) === JSON.stringify(v) || (typeof v === 'string' && typeof was === 'string' && resolve(v) === resolve(was));
      if (!same) {
        throw new UsageError(`--resume: ${section}.${key} = ${JSON.stringify(v)} disagrees with the run in ${runDir}, which has ${JSON.stringify(was)}; ` +
          `a resumed run keeps its config (only ${RESUMABLE.map((k) => `train.${k}`).join(', ')} may change): drop the flag or train into a new --out`);
      }
    }
  }
  return overrides;
}

function stepFields(l: StepLog): Record<string, string> {
  return { loss: l.loss.toFixed(4), lr: l.lr.toExponential(1), ...(l.skipped ? { skipped: 'non-finite' } : {}) };
}

/** Trains to the configured steps, runs `after` with the finished trainer, and always disposes it (releasing the run lock). */
async function runTraining(trainer: Trainer, runDir: string, after?: (t: Trainer) => Promise<void>): Promise<void> {
  const bar = new ProgressBar(trainer.config.train.steps, 'train', trainer.step);
  try {
    await trainer.run((l) => bar.update(l.step, stepFields(l)));
    console.log(`checkpoint: ${join(runDir, 'latest.json')}`);
    console.log(`samples:    ${join(runDir, 'samples')}`);
    await after?.(trainer);
  } finally {
    trainer.dispose(); // releases the run lock on success and on failure alike
  }
}

export const TRAIN_HELP = `nestar train [--method nestar|raster|nextscale] [--config FILE.json] [--out DIR] [--resume] [--steps N] [--batch-size N] [--micro-batch N] [--lr X]
  [--data mnist|emoji|FOLDER] [--image-size 32] [--channels 1|3] [--holdout 0.1] [--background #ffffff] [--limit N] [--patch P] [--tokenizer DIR [--latents FILE]] [--k K] [--n1 N1] [--width W] [--depth D] [--heads H]
  [--head token|patch] [--head-width W] [--head-depth D] [--head-heads H] [--order zorder|interleaved]
  [--coord none|noisy-context|generated-prefix|both] [--noise-max S] [--noise-zero-prob P] [--prefix-prob P] [--prefix-ramp STEPS]
  [--module-weights tokens|modules|W1,W2,...] [--checkpoint-every N] [--sample-every N] [--seed S] [--backend auto|native|native-js|wasm|cpu|tensorflow]`;

/** --module-weights: 'tokens' (equal per token), 'modules' (equal per module) or one number per module. */
function moduleWeights(v: string | boolean | undefined): ModuleWeights | undefined {
  if (v === undefined) return undefined;
  if (v === 'tokens' || v === 'modules') return v;
  const parts = typeof v === 'string' ? v.split(',').map((x) => Number(x.trim())) : [];
  if (parts.length === 0 || parts.some((x) => !Number.isFinite(x) || x < 0)) {
    throw new UsageError(`--module-weights expects 'tokens', 'modules' or comma-separated non-negative numbers (one per module), got '${String(v)}'`);
  }
  return parts;
}

export async function trainCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { ...common, config: { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
    steps: { type: 'string' }, 'batch-size': { type: 'string' }, 'micro-batch': { type: 'string' }, lr: { type: 'string' }, data: { type: 'string' },
    limit: { type: 'string' }, patch: { type: 'string' }, method: { type: 'string' }, k: { type: 'string' }, n1: { type: 'string' }, width: { type: 'string' },
    depth: { type: 'string' }, heads: { type: 'string' }, 'checkpoint-every': { type: 'string' }, 'sample-every': { type: 'string' },
    coord: { type: 'string' }, 'noise-max': { type: 'string' }, 'noise-zero-prob': { type: 'string' }, 'prefix-prob': { type: 'string' },
    'prefix-ramp': { type: 'string' }, 'module-weights': { type: 'string' }, tokenizer: { type: 'string' }, latents: { type: 'string' },
    head: { type: 'string' }, 'head-width': { type: 'string' }, 'head-depth': { type: 'string' }, 'head-heads': { type: 'string' }, order: { type: 'string' },
    'image-size': { type: 'string' }, channels: { type: 'string' }, holdout: { type: 'string' }, background: { type: 'string' } });
  if (a.help) return void console.log(TRAIN_HELP);
  const runDir = resolve(typeof a.out === 'string' ? a.out : 'runs/train');
  const name = await backend(a.backend);
  const input: RunConfigInput = typeof a.config === 'string' ? readConfigFile(a.config) : {};
  const train = { ...input.train }, data = { ...input.data }, tokenizer = { ...input.tokenizer }, coord = { ...input.coord };
  const model: Record<string, unknown> = { ...input.model };
  const method = choice(a.method, 'method', METHODS);
  if (method) model.kind = method;
  const set = <T extends object>(o: T, k: keyof T, v: number | string | undefined) => { if (v !== undefined) (o as Record<string, unknown>)[k as string] = v; };
  set(train, 'steps', num(a.steps, 'steps', { int: true, min: 1 }));
  set(train, 'batchSize', num(a['batch-size'], 'batch-size', { int: true, min: 1 }));
  set(train, 'microBatch', num(a['micro-batch'], 'micro-batch', { int: true, min: 0 }));
  set(train, 'lr', num(a.lr, 'lr', { min: 0 }));
  set(train, 'seed', num(a.seed, 'seed', { int: true, min: 0 }));
  set(train, 'checkpointEvery', num(a['checkpoint-every'], 'checkpoint-every', { int: true, min: 1 }));
  set(train, 'sampleEvery', num(a['sample-every'], 'sample-every', { int: true, min: 1 }));
  set(data, 'source', typeof a.data === 'string' ? a.data : undefined);
  set(data, 'limit', num(a.limit, 'limit', { int: true, min: 1 }));
  set(data, 'imageSize', num(a['image-size'], 'image-size', { int: true, min: 1 }));
  // Emoji and folders are colour unless told otherwise; MNIST is grayscale.
  set(data, 'channels', num(a.channels, 'channels', { int: true, min: 1, max: 3 }) ?? (data.channels === undefined && data.source !== undefined ? defaultChannels(data.source) : undefined));
  set(data, 'holdout', num(a.holdout, 'holdout', { min: 0, max: 0.99 }));
  set(data, 'background', typeof a.background === 'string' ? a.background : undefined);
  set(tokenizer, 'patch', num(a.patch, 'patch', { int: true, min: 1 }));
  if (typeof a.tokenizer === 'string') {
    // Latent tokens: --patch then counts latent cells per token side (default 1); data geometry comes from the tokenizer.
    Object.assign(tokenizer, { kind: 'kl', checkpoint: resolve(a.tokenizer) });
    const tdata = readTokenizerSource(a.tokenizer).data;
    Object.assign(data, { imageSize: tdata.imageSize, channels: tdata.channels, ...(data.source === undefined ? { source: tdata.source } : {}) });
  } else if (a.latents !== undefined) {
    throw new UsageError('--latents needs --tokenizer DIR (the tokenizer that wrote them)');
  }
  if (typeof a.latents === 'string') Object.assign(tokenizer, { cache: resolve(a.latents) });
  for (const f of ['k', 'n1', 'width', 'depth', 'heads'] as const) set(model, f, num(a[f], f, { int: true, min: 1 }));
  set(model, 'headKind', choice(a.head, 'head', HEAD_KINDS));
  set(model, 'headWidth', num(a['head-width'], 'head-width', { int: true, min: 1 }));
  set(model, 'headDepth', num(a['head-depth'], 'head-depth', { int: true, min: 1 }));
  set(model, 'headHeads', num(a['head-heads'], 'head-heads', { int: true, min: 1 }));
  set(model, 'order', choice(a.order, 'order', TOKEN_ORDERS));
  const weights = moduleWeights(a['module-weights']);
  if (weights !== undefined) model.lossWeights = weights;
  set(coord, 'mode', choice(a.coord, 'coord', COORD_MODES));
  set(coord, 'noiseMax', num(a['noise-max'], 'noise-max', { min: 0, max: 1 }));
  set(coord, 'noiseZeroProb', num(a['noise-zero-prob'], 'noise-zero-prob', { min: 0, max: 1 }));
  set(coord, 'prefixProb', num(a['prefix-prob'], 'prefix-prob', { min: 0, max: 1 }));
  set(coord, 'prefixRampSteps', num(a['prefix-ramp'], 'prefix-ramp', { int: true, min: 0 }));
  const requested: RunConfigInput = { ...input, train, data, model: model as RunConfigInput['model'], tokenizer, coord };
  if (a.resume) {
    const overrides = resumeOverrides(runDir, requested);
    const trainer = Trainer.resume({ runDir, backendName: name }, overrides);
    console.error(`resuming ${runDir} at step ${trainer.step}` + Object.entries(overrides).map(([k, v]) => `; train.${k} = ${v}`).join(''));
    return runTraining(trainer, runDir);
  }
  if (existsSync(join(runDir, 'latest.json'))) {
    throw new UsageError(`--out ${runDir} already holds a run; pass --resume to continue it or choose another --out`);
  }
  // A colour source with no model, tokenizer or training settings gets the measured colour recipe, sized to it.
  const chosen = RECIPE_BLOCKERS.some((f) => a[f] !== undefined) || input.model || input.train || input.tokenizer || (data.source ?? 'mnist') === 'mnist'
    ? undefined : chooseRecipe(requested);
  const config = resolveRunConfig(chosen?.requested ?? requested);
  const trainer = Trainer.create(config, { runDir, backendName: name, ...(chosen ? { data: chosen.data } : {}) });
  console.error(`model: ${describeGenerator(trainer.model)}; coordination: ${config.coord.mode}`);
  return runTraining(trainer, runDir);
}

/** Flags that set model, tokenizer or training settings: any of them means the user chose, and no recipe applies.
 * The budget flags (--steps, --checkpoint-every, --sample-every) and --seed change the recipe's run, not its settings. */
const RECIPE_BLOCKERS = ['config', 'batch-size', 'micro-batch', 'lr', 'patch', 'tokenizer', 'latents', 'method', 'k', 'n1', 'width', 'depth', 'heads',
  'head', 'head-width', 'head-depth', 'head-heads', 'order', 'coord', 'noise-max', 'noise-zero-prob', 'prefix-prob', 'prefix-ramp', 'module-weights',
] as const;

/** The colour recipe for the data `requested` names: its training split is read once (and handed to the trainer). */
function chooseRecipe(requested: RunConfigInput): { requested: RunConfigInput; data: ImageDataset } {
  const probe = resolveRunConfig({ data: requested.data });
  const data = loadTrainingData(probe.data, (m) => console.error(`warning: ${m}`));
  const { input, record: sized } = colourRecipe(data.count, probe.data.imageSize);
  const train = { ...input.train, ...requested.train }, steps = train.steps!;
  const record = { ...sized, steps, expectedHours: Math.round((steps * sized.secondsPerStep) / 360) / 10 };
  console.error(`recipe: ${record.name} for ${data.count} training images: ${steps} steps x ${train.batchSize}${steps !== sized.steps ? ` (--steps; the recipe's budget is ${sized.steps})` : ''}, ` +
    `expected wall-clock about ${record.expectedHours} h on 2 cores (${record.secondsPerStep} s a step where it was measured); ` +
    'a model or training flag other than --steps replaces the recipe with your settings');
  return { requested: { ...requested, ...input, train, recipe: record }, data };
}

/** The most images one grid PNG may hold (a bigger grid would not fit in memory as one RGBA buffer). */
export const MAX_GRID_IMAGES = 16384;

export const SAMPLE_HELP = `nestar sample --checkpoint PATH [--method nestar|raster|nextscale] [--n 64] [--class C] [--cfg 2]
  ${SAMPLING_USAGE}
  [--weights ema|raw] [--batch 250] (--out grid.png [--cols 8] | --out-dir DIR)
  Large N is sampled in batches of --batch (image i gets seed + its batch's offset, as in eval); a grid holds at
  most ${MAX_GRID_IMAGES} images, --out-dir writes one PNG per image for any N.`;

/** Fails before any work when `out` cannot be the grid file (a folder, or under a file). */
function checkOutputFile(out: string, flag: string): void {
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`${flag} ${out} is a directory; give a file name such as grid.png (or --out-dir DIR for one PNG per image)`);
  let parent = dirname(out);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new UsageError(`${flag} ${out}: ${parent} is a file, not a folder`);
}

export async function sampleCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { ...common, ...SAMPLING_FLAGS, checkpoint: { type: 'string' }, n: { type: 'string' }, class: { type: 'string' },
    cfg: { type: 'string' }, weights: { type: 'string' }, out: { type: 'string' }, 'out-dir': { type: 'string' }, cols: { type: 'string' },
    method: { type: 'string' }, batch: { type: 'string' } });
  if (a.help) return void console.log(SAMPLE_HELP);
  // Every argument is checked before anything is loaded or sampled.
  if (typeof a.checkpoint !== 'string') throw new UsageError('--checkpoint PATH is required (a checkpoint folder or a run folder)');
  const n = num(a.n, 'n', { int: true, min: 1 }) ?? 64;
  const cls = num(a.class, 'class', { int: true });
  const opts = { cfg: num(a.cfg, 'cfg', { min: 0 }) ?? 2, ...readSamplingFlags(a) };
  const weights = choice(a.weights, 'weights', ['ema', 'raw'] as const) ?? 'ema';
  const batch = num(a.batch, 'batch', { int: true, min: 1, max: 4096 }) ?? 250;
  const colsFlag = num(a.cols, 'cols', { int: true, min: 1 });
  const outDir = typeof a['out-dir'] === 'string' ? resolve(a['out-dir']) : undefined;
  if (outDir && a.out !== undefined) throw new UsageError('give --out FILE.png (a grid) or --out-dir DIR (one PNG per image), not both');
  const out = resolve(typeof a.out === 'string' ? a.out : 'samples.png');
  if (outDir) {
    if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`--out-dir ${outDir} exists and is not a folder`);
  } else {
    if (n > MAX_GRID_IMAGES) throw new UsageError(`--n ${n}: one grid holds at most ${MAX_GRID_IMAGES} images; use --out-dir DIR for one PNG per image`);
    checkOutputFile(out, '--out');
  }
  await backend(a.backend);
  const pipe = loadPipeline(a.checkpoint, { weights, method: choice(a.method, 'method', METHODS) });
  try {
    const K = pipe.config.model.numClasses;
    if (cls !== undefined && (cls < 0 || cls >= K)) throw new UsageError(`--class ${cls} is out of range: this model has classes 0..${K - 1}`);
    // Without --class: cycle through the classes (one row per class when n is a multiple of K).
    const classOf = (i: number) => (cls !== undefined ? cls : Math.floor(i / Math.max(1, Math.ceil(n / K))) % K);
    const S = pipe.config.data.imageSize, C = pipe.config.data.channels, per = S * S * C;
    const grid = outDir ? null : new Float32Array(n * per);
    if (outDir) mkdirSync(outDir, { recursive: true });
    const bar = new ProgressBar(n, `sample (${pipe.model.method})`);
    const t0 = performance.now();
    let calls = 0, expected = 0, headEvals = 0;
    for (let i = 0; i < n; i += batch) {
      const b = Math.min(batch, n - i);
      const res = await pipe.generate({ count: b, classes: Array.from({ length: b }, (_, j) => classOf(i + j)), ...opts, seed: opts.seed + i });
      calls = res.backboneCalls; expected = res.expectedCalls; headEvals += res.headEvals;
      if (grid) grid.set(res.images.data, i * per);
      else for (let j = 0; j < b; j++) {
        writeImageGrid(join(outDir!, `${String(i + j).padStart(6, '0')}.png`), { ...res.images, data: res.images.data.subarray(j * per, (j + 1) * per), count: 1 }, 1, 1);
      }
      bar.update(i + b);
    }
    const secs = (performance.now() - t0) / 1000;
    if (grid) {
      const cols = colsFlag ?? Math.min(n, cls !== undefined ? 8 : Math.max(1, Math.ceil(n / K)));
      writeImageGrid(out, { data: grid, count: n, height: S, width: S, channels: C }, cols);
    }
    console.log(`wrote ${outDir ? `${n} PNG files to ${outDir}` : out}`);
    const formula = { nestar: 'n1 + (M-1)(k-1)', raster: 'n', nextscale: 'log2(side) + 1' }[pipe.model.method];
    console.log(`sequential backbone calls: ${calls} (${formula} = ${expected}); head evaluations: ${headEvals}; ${secs.toFixed(2)} s`);
  } finally {
    pipe.dispose();
  }
}

/** The embedded default: a small NestAR on MNIST, sized to finish in about 10 minutes on 2 cores with the native pack. */
export const DEMO_CONFIG: RunConfigInput = {
  model: { width: 128, depth: 2, heads: 4, headKind: 'patch', headWidth: 96, headDepth: 2, headHeads: 4, order: 'interleaved' },
  train: { steps: 600, batchSize: 64, lr: 1e-3, warmupSteps: 50, checkpointEvery: 100, sampleEvery: 200, emaDecay: 0.995 },
};

/** How the demo samples the shipped NestAR: its best four-seed setting in RESULTS.md ("Training 3× longer"), the
 * linear guidance schedule at CFG 3, 32 Euler steps. */
export const DEMO_SAMPLING = { cfg: 3, cfgSchedule: 'linear', odeSteps: 32 } as const;

export async function demoCommand(argv: string[]): Promise<void> {
  const a = parse(argv, { ...common, out: { type: 'string' }, steps: { type: 'string' }, train: { type: 'boolean' } });
  if (a.help) return void console.log('nestar demo [--train] [--out runs/demo] [--steps N] [--seed S] [--backend B]: sample a grid from the shipped NestAR checkpoint, or (--train, or when none is shipped) train a small NestAR on MNIST first');
  if (!a.train && existsSync(join(SHIPPED_DEMO, 'state.json'))) {
    await backend(a.backend);
    const pipe = loadPipeline(SHIPPED_DEMO);
    const out = resolve(typeof a.out === 'string' ? a.out : 'runs/demo', 'demo-grid.png');
    mkdirSync(dirname(out), { recursive: true });
    const t0 = performance.now();
    const K = pipe.config.model.numClasses;
    const res = await pipe.generate({ count: 8 * K, classes: Array.from({ length: 8 * K }, (_, i) => Math.floor(i / 8)), ...DEMO_SAMPLING, seed: num(a.seed, 'seed', { int: true, min: 0 }) ?? 0 });
    writeImageGrid(out, res.images, 8);
    console.log(`demo grid from the shipped checkpoint ${SHIPPED_DEMO} (step ${pipe.step}; one row per digit 0-9; CFG ${DEMO_SAMPLING.cfg}, ${DEMO_SAMPLING.cfgSchedule} schedule; ${res.backboneCalls} sequential calls per image, ${((performance.now() - t0) / 1000).toFixed(1)} s): ${out}`);
    console.log('train one yourself: nestar demo --train');
    pipe.dispose();
    return;
  }
  const runDir = resolve(typeof a.out === 'string' ? a.out : 'runs/demo');
  const name = await backend(a.backend);
  const steps = num(a.steps, 'steps', { int: true, min: 1 });
  let trainer: Trainer;
  if (existsSync(join(runDir, 'latest.json'))) {
    trainer = Trainer.resume({ runDir, backendName: name }, { steps });
    console.error(`resuming the demo run in ${runDir} at step ${trainer.step}`);
  } else {
    const config = resolveRunConfig({ ...DEMO_CONFIG, train: { ...DEMO_CONFIG.train, ...(steps ? { steps } : {}),
      ...(a.seed !== undefined ? { seed: num(a.seed, 'seed', { int: true, min: 0 }) } : {}) } });
    trainer = Trainer.create(config, { runDir, backendName: name });
  }
  if (name !== 'native' && name !== 'tensorflow') console.error(`note: the '${name}' backend is several times slower than the native pack; the demo will take longer`);
  await runTraining(trainer, runDir, async (t) => {
    const grid = join(runDir, 'demo-grid.png');
    await t.writeSampleGrid(grid, { cfg: 2, odeSteps: 32 });
    console.log(`demo grid (one row per digit 0-9, ${t.model.sequentialSteps} sequential calls per image): ${grid}`);
  });
}
