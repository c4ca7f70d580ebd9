// The browser-safe half of the pipeline: build a generator of any method from a checkpoint's parts
// (its state.json object and weight arrays) and generate images with per-step progress. No file access,
// so the web worker uses exactly this code; pipeline.ts adds loading from disk.
import type { Generator, SampleOptions, SampleProgress } from './model/generator.js';
import { createGenerator } from './model/factory.js';
import { NestAR } from './model/nestar.js';
import { rowColToMorton } from './model/zorder.js';
import { checkpointModelSettings } from './model/config.js';
import { METHODS, type Method } from './model/generator.js';
import { PatchTokenizer } from './tokenizer/patchTokenizer.js';
import type { ImageBatch } from './util/imageBatch.js';
import { LatentTokenizer, type LatentTokenizerState } from './tokenizer/latentTokenizer.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';
import { assignVariables } from './train/weights.js';
import type { RunConfig } from './train/config.js';
import type { NamedArray } from './util/safetensors.js';

/** Generated images and tokens, with the counted and expected sequential calls. */
export interface GenerateResult { images: ImageBatch; tokens: Float32Array; backboneCalls: number; headEvals: number; expectedCalls: number }

/** SampleOptions, with an onStep that can also decode the canvas to images. */
export type GenerateOptions = Omit<SampleOptions, 'onStep'> & {
  /** Called after every sequential call; `images()` decodes the canvas so far (not-yet-made tokens are zero). */
  onStep?: (p: SampleProgress & { images: () => ImageBatch }) => void | Promise<void>;
};

/** A checkpoint loaded for generation: its model and tokenizer, producing images. */
export class NestARPipeline {
  constructor(readonly model: Generator, readonly tokenizer: Tokenizer, readonly config: RunConfig, readonly step: number, readonly source: string,
    /**
     * The classes' names in label order when the checkpoint records them (emoji categories, folder names; empty for
     * an unlabelled folder, whose model is sampled unconditionally), else digits 0..K-1.
     */
    readonly classNames: string[] = Array.from({ length: config.model.numClasses }, (_, c) => String(c))) {}

  /**
   * A pipeline from a checkpoint's state (parsed state.json) and one set of its weights. `source` names the
   * checkpoint in errors; with `method`, a checkpoint of another method is an error.
   */
  static fromParts(state: { config: RunConfig; step: number; tokenizer?: LatentTokenizerState; classNames?: string[] }, weights: Record<string, NamedArray>, source: string,
    opts: { method?: Method; weightsName?: string; tokenizerWeights?: Record<string, NamedArray> } = {}): NestARPipeline {
    const cfg = state?.config;
    const kind = cfg?.model?.kind as Method | undefined;
    if (!kind || !METHODS.includes(kind)) throw new Error(`checkpoint ${source}/state.json: unknown model kind ${JSON.stringify(kind)}`);
    if (opts.method && opts.method !== kind) throw new Error(`checkpoint ${source} holds a '${kind}' model, but --method ${opts.method} was asked for`);
    let model: Generator;
    try {
      model = createGenerator(checkpointModelSettings(cfg.model), 0);
    } catch (e) {
      throw new Error(`checkpoint ${source}/state.json: invalid model config: ${(e as Error).message}`);
    }
    try {
      assignVariables(model.params.vars, weights, `${source}/${opts.weightsName ?? 'ema.safetensors'}`);
    } catch (e) {
      model.dispose();
      throw e;
    }
    let tokenizer: Tokenizer;
    if (cfg.tokenizer.kind === 'kl') {
      if (!state.tokenizer || !opts.tokenizerWeights) {
        model.dispose();
        throw new Error(`checkpoint ${source}: its model works on latents, but the checkpoint has no tokenizer (state.json 'tokenizer' and tokenizer.safetensors)`);
      }
      tokenizer = LatentTokenizer.fromParts(state.tokenizer, opts.tokenizerWeights, source);
    } else {
      tokenizer = new PatchTokenizer(cfg.data.imageSize, cfg.data.channels, cfg.tokenizer.patch);
    }
    if (tokenizer.gridSize !== (cfg.model as { gridSize: number }).gridSize) {
      model.dispose();
      throw new Error(`checkpoint ${source}: the tokenizer gives a ${tokenizer.gridSize}x${tokenizer.gridSize} token grid, the model expects ${(cfg.model as { gridSize: number }).gridSize}`);
    }
    const K = cfg.model.numClasses;
    const names = Array.isArray(state.classNames) && state.classNames.length <= K && state.classNames.every((n) => typeof n === 'string') ? state.classNames : undefined;
    return new NestARPipeline(model, tokenizer, cfg, state.step, source, names);
  }

  /** Generates `opts.count` images; `onStep` sees each sequential call with the images so far. */
  async generate(opts: GenerateOptions): Promise<GenerateResult> {
    const { onStep, ...rest } = opts;
    const res = await this.model.sample({
      ...rest,
      onStep: onStep ? (p: SampleProgress) => onStep({ ...p, images: () => this.tokenizer.decode(p.canvas, opts.count) }) : undefined,
    });
    return { images: this.tokenizer.decode(res.tokens, opts.count), tokens: res.tokens, backboneCalls: res.backboneCalls, headEvals: res.headEvals, expectedCalls: this.model.sequentialSteps };
  }

  /**
   * Which pixels of an image exist once `tokensSoFar` tokens are made (1 = made), in this method's token order:
   * the nested stages a page draws while `generate` streams. Next-scale AR's every scale covers the canvas.
   */
  madeMask(tokensSoFar: number): Uint8Array {
    const g = this.tokenizer.gridSize, S = this.tokenizer.imageSize, patch = S / g; // pixels per token side
    const made = new Uint8Array(g * g);
    if (this.model.method === 'nextscale') made.fill(1);
    else if (this.model instanceof NestAR) for (let i = 0; i < tokensSoFar; i++) made[this.model.seqToMorton[i]!] = 1;
    else for (let r = 0; r < tokensSoFar; r++) made[rowColToMorton(Math.floor(r / g), r % g)] = 1;
    const px = new Uint8Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) px[y * S + x] = made[rowColToMorton(Math.floor(y / patch), Math.floor(x / patch))]!;
    return px;
  }

  /** Frees the model (and a latent tokenizer). */
  dispose(): void {
    this.model.dispose();
    if (this.tokenizer instanceof LatentTokenizer) this.tokenizer.dispose();
  }
}
