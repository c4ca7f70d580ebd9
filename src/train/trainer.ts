// The training loop: AdamW + warm-up/cosine LR + global-norm clipping + EMA, teacher-forced flow-matching
// loss, periodic atomic checkpoints and sample grids, exact resume (weights, moments, RNG, data cursor).
import { ConfigError } from '../util/configError.js';
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { createGenerator } from '../model/factory.js';
import type { Generator } from '../model/generator.js';
import { PatchTokenizer } from '../tokenizer/patchTokenizer.js';
import { LatentTokenizer } from '../tokenizer/latentTokenizer.js';
import { loadLatentTokenizer } from '../tokenizer/trainTokenizer.js';
import { readLatentCache, tokenizerFingerprint, writeLatentCache } from '../tokenizer/latentCache.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ImageDataset } from '../data/dataset.js';
import { loadTrainingData } from '../data/load.js';
import { Rng } from '../util/rng.js';
import { DataCursor } from './dataCursor.js';
import { AdamW, globalNormScale, learningRate } from './optimizer.js';
import { Ema, withWeights } from './ema.js';
import { CHECKPOINT_FORMAT, loadCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint.js';
import { assignVariables, exportVariables } from './weights.js';
import type { RunConfig } from './config.js';
import { writeImageGrid } from '../util/png.js';
import { acquireRunLock } from './runLock.js';
import { resolveRunConfig } from './config.js';
import { checkpointModelSettings } from '../model/config.js';
import { coordStepAt } from '../model/coord.js';

/** One training step: loss (total and per module), learning rate, gradient norm, and whether it was skipped. */
export interface StepLog { step: number; loss: number; perModule: number[]; lr: number; gradNorm: number; skipped: boolean }

export interface TrainerOptions {
  runDir: string;
  /** Injected training images (tests); otherwise loaded from config.data. */
  data?: ImageDataset;
  /** The latent tokenizer to use (resume passes the checkpoint's own copy); otherwise loaded from config.tokenizer. */
  tokenizer?: LatentTokenizer;
  backendName?: string;
  warn?: (msg: string) => void;
}

/** Consecutive non-finite losses after which training stops rather than loop on garbage. */
const MAX_BAD_STEPS = 20;

/** Trains a generator with AdamW and EMA, writing crash-safe resumable checkpoints. */
export class Trainer {
  readonly model: Generator;
  readonly tokenizer: Tokenizer;
  readonly optimizer: AdamW;
  readonly ema: Ema;
  step = 0;
  losses: Array<[number, number]> = [];
  private tokens: Float32Array;
  private labels: Int32Array;
  private count: number;
  private cursor: DataCursor;
  private rngNoise: Rng;
  private badSteps = 0;
  /** Steps skipped for a non-finite loss or gradient, over the whole run. */
  skippedSteps = 0;
  /** Wall-clock seconds of run() so far, over every invocation of a resumed run (saved with each checkpoint). */
  trainSeconds = 0;
  private readonly releaseLock: () => void;
  /** The dataset's class names (none for MNIST's digits; empty for an unlabelled folder), saved so samplers and pages know the classes. */
  readonly classNames: string[] | undefined;

  private constructor(readonly config: RunConfig, readonly opts: TrainerOptions) {
    const { model: mc, data: dc, tokenizer: tc, train } = config;
    const ds = opts.data ?? loadTrainingData(dc, opts.warn);
    this.classNames = dc.source === 'mnist' ? undefined : ds.classNames ?? [];
    if (this.classNames && this.classNames.length > config.model.numClasses) {
      throw new ConfigError(`model.numClasses is ${config.model.numClasses} but ${dc.source} has ${this.classNames.length} classes; set model.numClasses to at least ${this.classNames.length}`);
    }
    if (tc.kind === 'patch') {
      this.tokenizer = new PatchTokenizer(dc.imageSize, dc.channels, tc.patch);
      this.tokens = this.tokenizer.encode(ds);
    } else {
      const tok = opts.tokenizer ?? loadLatentTokenizer(tc.checkpoint, tc.patch);
      this.tokenizer = tok;
      // Encode once per run; a matching cache from `nestar encode` skips even that.
      const fp = tokenizerFingerprint(tok), shape = { count: ds.count, numTokens: tok.numTokens, tokenDim: tok.tokenDim };
      const cached = tc.cache ? readLatentCache(tc.cache, fp, shape, opts.warn) : null;
      this.tokens = cached ?? tok.encode(ds);
      if (tc.cache && !cached) writeLatentCache(tc.cache, this.tokens, ds.labels, fp, shape, dc.source);
    }
    this.labels = ds.labels;
    this.count = ds.count;
    for (const l of this.labels) {
      if (l >= mc.numClasses) throw new Error(`data: label ${l} is out of range for model.numClasses=${mc.numClasses}`);
    }
    this.model = createGenerator(mc, train.seed);
    this.optimizer = new AdamW(this.model.params.vars, { beta1: train.beta1, beta2: train.beta2, eps: 1e-8, weightDecay: train.weightDecay });
    this.ema = new Ema(this.model.params.vars, train.emaDecay);
    this.cursor = new DataCursor(this.count, train.seed * 2 + 1);
    this.rngNoise = new Rng(train.seed * 2 + 2);
    // Last, so a constructor that fails earlier leaves no lock behind.
    this.releaseLock = acquireRunLock(opts.runDir);
  }

  /** A new run writing its checkpoints to `opts.runDir`. */
  static create(config: RunConfig, opts: TrainerOptions): Trainer {
    return new Trainer(config, opts);
  }

  /** Continues the run in opts.runDir from its latest checkpoint; `steps` may extend the run. */
  static resume(opts: TrainerOptions, overrides: { steps?: number; checkpointEvery?: number; sampleEvery?: number } = {}): Trainer {
    const { state, tensors, dir } = loadCheckpoint(opts.runDir);
    if (state.tokenizer && tensors.tokenizer && !opts.tokenizer) {
      opts = { ...opts, tokenizer: LatentTokenizer.fromParts(state.tokenizer, tensors.tokenizer, dir) };
    }
    let config: RunConfig;
    try {
      // The checkpoint's config is validated like a user's.
      const model = checkpointModelSettings(state.config.model);
      config = resolveRunConfig({ ...state.config, model, train: { ...state.config.train, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } });
    } catch (e) {
      throw new Error(`${dir}/state.json: ${(e as Error).message}`);
    }
    const t = new Trainer(config, opts);
    try {
      assignVariables(t.model.params.vars, tensors.model, `${dir}/model.safetensors`);
      assignVariables(t.ema.shadow, tensors.ema, `${dir}/ema.safetensors`);
      t.optimizer.restore(tensors.optimizer, state.optimizer.t, `${dir}/optimizer.safetensors`);
    } catch (e) {
      t.dispose();
      throw e;
    }
    t.step = state.step;
    t.losses = state.losses;
    t.skippedSteps = state.skippedSteps ?? 0;
    t.trainSeconds = state.trainSeconds ?? 0;
    t.rngNoise = new Rng(state.rng.noise);
    t.cursor.restore(state.rng, state.data);
    return t;
  }

  private nextBatch(B: number): { idx: Int32Array; labels: Int32Array } {
    const idx = new Int32Array(B), labels = new Int32Array(B);
    const nullClass = this.config.model.numClasses;
    for (let i = 0; i < B; i++) {
      const j = this.cursor.next();
      idx[i] = j;
      const l = this.labels[j]!;
      labels[i] = l < 0 || this.cursor.rng.next() < this.config.train.classDropProb ? nullClass : l;
    }
    return { idx, labels };
  }

  private batchTokens(idx: Int32Array): tf.Tensor3D {
    const n = this.tokenizer.numTokens, D = this.tokenizer.tokenDim, per = n * D;
    const buf = new Float32Array(idx.length * per);
    for (let i = 0; i < idx.length; i++) buf.set(this.tokens.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
    return tf.tensor3d(buf, [idx.length, n, D]);
  }

  /**
   * Loss and gradients of the batch. With train.microBatch the batch runs in chunks whose size-weighted
   * losses and gradients are summed: the gradient of the batch mean, with the memory of one chunk (the
   * noise draws differ from a whole-batch step, so the two agree in expectation, not bit for bit).
   */
  private batchGradients(x: tf.Tensor3D, labels: Int32Array): { value: tf.Scalar; grads: Map<string, tf.Tensor>; perModule: tf.Scalar[] } {
    const tc = this.config.train, B = labels.length;
    const chunk = tc.microBatch > 0 ? tc.microBatch : B;
    const opts = { headRepeats: tc.headRepeats, time: tc.timeSampling, coord: coordStepAt(this.config.coord, this.step) };
    let value: tf.Scalar | undefined, grads: Map<string, tf.Tensor> | undefined, perModule: tf.Scalar[] = [];
    for (let start = 0; start < B; start += chunk) {
      // b === B is the whole batch exactly as before (no ×1 ops), so runs without microBatch stay bit-identical.
      const b = Math.min(chunk, B - start), w = b / B;
      const xs = b === B ? x : tf.slice(x, [start, 0, 0], [b, -1, -1]);
      let pm: tf.Scalar[] = [];
      const r = this.model.params.grads(() => {
        const l = this.model.loss(xs, labels.subarray(start, start + b), this.rngNoise, opts);
        pm = l.perModule.map((t) => tf.keep(b === B ? t : tf.mul(t, w) as tf.Scalar));
        return b === B ? l.total : tf.mul(l.total, w) as tf.Scalar;
      });
      if (xs !== x) xs.dispose();
      if (!value || !grads) { value = r.value; grads = r.grads; perModule = pm; continue; }
      const sum = (a: tf.Tensor, c: tf.Tensor) => { const s = tf.add(a, c); a.dispose(); c.dispose(); return s; };
      value = sum(value, r.value) as tf.Scalar;
      for (const [k, g] of r.grads) grads.set(k, sum(grads.get(k)!, g));
      perModule = perModule.map((p, i) => sum(p, pm[i]!) as tf.Scalar);
    }
    return { value: value!, grads: grads!, perModule };
  }

  /** One optimisation step. A non-finite loss or gradient skips the update (weights untouched). */
  trainStep(): StepLog {
    const tc = this.config.train;
    const { idx, labels } = this.nextBatch(tc.batchSize);
    const x = this.batchTokens(idx);
    const { value, grads, perModule } = this.batchGradients(x, labels);
    const loss = value.dataSync()[0]!;
    const perModuleVals = perModule.map((l) => l.dataSync()[0]!);
    const lr = learningRate(this.step, tc.steps, tc.lr, tc.warmupSteps, tc.minLrRatio);
    // Clipping is the update's gradient scale, not a separate pass over the gradients.
    const { norm: gradNorm, scale } = globalNormScale(grads, tc.gradClip);
    const skipped = !Number.isFinite(loss) || !Number.isFinite(gradNorm);
    if (!skipped) {
      this.optimizer.apply(grads, lr, scale);
      this.ema.update(this.step);
      this.badSteps = 0;
      this.losses.push([this.step, loss]);
    } else if ((this.skippedSteps++, ++this.badSteps >= MAX_BAD_STEPS)) {
      tf.dispose([x, value, ...perModule, ...grads.values()]);
      throw new Error(`training diverged: ${MAX_BAD_STEPS} consecutive steps with a non-finite loss or gradient (last at step ${this.step}); lower train.lr`);
    }
    tf.dispose([x, value, ...perModule, ...grads.values()]);
    this.step++;
    return { step: this.step, loss, perModule: perModuleVals, lr, gradNorm, skipped };
  }

  /** The JSON half of a checkpoint: config, step, optimiser scalars and RNG states. */
  checkpointState(): CheckpointState {
    const tc = this.config.train, cursor = this.cursor.state();
    return {
      format: CHECKPOINT_FORMAT, config: this.config, step: this.step,
      optimizer: { t: this.optimizer.t, beta1: tc.beta1, beta2: tc.beta2, eps: 1e-8, weightDecay: tc.weightDecay },
      rng: { ...cursor.rng, noise: this.rngNoise.state() }, data: cursor.data, losses: this.losses, skippedSteps: this.skippedSteps,
      backend: this.opts.backendName ?? tf.getBackend(), savedAt: new Date().toISOString(), trainSeconds: this.trainSeconds,
      ...(this.classNames ? { classNames: this.classNames } : {}),
    };
  }

  /** Writes a checkpoint atomically and returns its folder. */
  saveCheckpoint(): string {
    const opt = this.optimizer.exportMoments();
    const tok = this.tokenizer instanceof LatentTokenizer ? this.tokenizer : null;
    return saveCheckpoint(this.opts.runDir, { ...this.checkpointState(), ...(tok ? { tokenizer: tok.state() } : {}) },
      { model: exportVariables(this.model.params.vars), ema: exportVariables(this.ema.shadow), optimizer: opt,
        ...(tok ? { tokenizer: exportVariables(tok.ae.params.vars) } : {}) },
      this.config.train.keepCheckpoints);
  }

  /** A grid of EMA samples: one row per class (8 each), or 64 unconditional samples. */
  async writeSampleGrid(path: string, opts: { cfg?: number; odeSteps?: number } = {}): Promise<void> {
    const K = this.config.model.numClasses, perClass = 8;
    const labelled = this.labels.some((l) => l >= 0);
    const classes = labelled ? Array.from({ length: K * perClass }, (_, i) => Math.floor(i / perClass)) : null;
    const count = classes ? classes.length : 64;
    const res = await withWeights(this.model.params.vars, this.ema.shadow, () =>
      this.model.sample({ count, classes, cfg: opts.cfg ?? 2, odeSteps: opts.odeSteps ?? 24, seed: this.config.train.seed }));
    writeImageGrid(path, this.tokenizer.decode(res.tokens, count), perClass);
  }

  /** Trains to config.train.steps, checkpointing and sampling on schedule. */
  async run(onStep?: (log: StepLog) => void): Promise<void> {
    const tc = this.config.train;
    let mark = performance.now();
    const clock = () => { const now = performance.now(); this.trainSeconds += (now - mark) / 1000; mark = now; };
    while (this.step < tc.steps) {
      const log = this.trainStep();
      onStep?.(log);
      clock();
      if (this.step % tc.checkpointEvery === 0 || this.step === tc.steps) this.saveCheckpoint();
      if (this.step % tc.sampleEvery === 0 || this.step === tc.steps) {
        await this.writeSampleGrid(join(this.opts.runDir, 'samples', `step-${String(this.step).padStart(7, '0')}.png`));
      }
    }
  }

  /** Frees the model, optimiser and EMA variables and releases the run lock. */
  dispose(): void {
    this.releaseLock();
    this.optimizer.dispose();
    this.ema.dispose();
    this.model.dispose();
    if (this.tokenizer instanceof LatentTokenizer) this.tokenizer.dispose();
  }
}
