// A diffusers-style entry point: load a checkpoint of any method once, then generate images (tokens
// decoded to pixels) with per-step progress, so a caller can stream partial images.
import type { Generator, SampleOptions, SampleProgress } from './model/generator.js';
import { createGenerator } from './model/factory.js';
import { METHODS, type Method } from './model/generator.js';
import { PatchTokenizer, type ImageBatch } from './tokenizer/patchTokenizer.js';
import { loadCheckpoint } from './train/checkpoint.js';
import { assignVariables } from './train/weights.js';
import type { RunConfig } from './train/config.js';

export interface GenerateResult { images: ImageBatch; backboneCalls: number; headEvals: number; expectedCalls: number }

export class NestARPipeline {
  private constructor(readonly model: Generator, readonly tokenizer: PatchTokenizer, readonly config: RunConfig, readonly step: number, readonly source: string) {}

  /**
   * Loads a checkpoint (folder, or run folder for its latest); uses the EMA weights unless `weights: 'raw'`.
   * With `method`, a checkpoint of another method is an error.
   */
  static fromCheckpoint(path: string, opts: { weights?: 'ema' | 'raw'; method?: Method } = {}): NestARPipeline {
    const { dir, state, tensors } = loadCheckpoint(path);
    const cfg = state.config;
    const kind = cfg?.model?.kind as Method | undefined;
    if (!kind || !METHODS.includes(kind)) throw new Error(`checkpoint ${dir}/state.json: unknown model kind ${JSON.stringify(kind)}`);
    if (opts.method && opts.method !== kind) {
      throw new Error(`checkpoint ${dir} holds a '${kind}' model, but --method ${opts.method} was asked for`);
    }
    let model: Generator;
    try {
      model = createGenerator(cfg.model, 0);
    } catch (e) {
      throw new Error(`checkpoint ${dir}/state.json: invalid model config: ${(e as Error).message}`);
    }
    const which = opts.weights ?? 'ema';
    try {
      assignVariables(model.params.vars, which === 'ema' ? tensors.ema : tensors.model, `${dir}/${which === 'ema' ? 'ema' : 'model'}.safetensors`);
    } catch (e) {
      model.dispose();
      throw e;
    }
    const tokenizer = new PatchTokenizer(cfg.data.imageSize, cfg.data.channels, cfg.tokenizer.patch);
    return new NestARPipeline(model, tokenizer, cfg, state.step, dir);
  }

  async generate(opts: Omit<SampleOptions, 'onStep'> & { onStep?: (p: SampleProgress & { images: () => ImageBatch }) => void | Promise<void> }): Promise<GenerateResult> {
    const { onStep, ...rest } = opts;
    const res = await this.model.sample({
      ...rest,
      onStep: onStep ? (p: SampleProgress) => onStep({ ...p, images: () => this.tokenizer.decode(p.canvas, opts.count) }) : undefined,
    });
    return { images: this.tokenizer.decode(res.tokens, opts.count), backboneCalls: res.backboneCalls, headEvals: res.headEvals, expectedCalls: this.model.sequentialSteps };
  }

  dispose(): void {
    this.model.dispose();
  }
}
