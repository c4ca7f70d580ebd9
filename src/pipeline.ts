// A diffusers-style entry point: load a checkpoint once, then generate images (tokens decoded to
// pixels) with per-step progress, so a caller can stream partial images.
import { NestAR, type SampleOptions, type SampleProgress } from './model/nestar.js';
import { PatchTokenizer, type ImageBatch } from './tokenizer/patchTokenizer.js';
import { loadCheckpoint } from './train/checkpoint.js';
import { assignVariables } from './train/weights.js';
import type { RunConfig } from './train/config.js';

export interface GenerateResult { images: ImageBatch; backboneCalls: number; headEvals: number; expectedCalls: number }

export class NestARPipeline {
  private constructor(readonly model: NestAR, readonly tokenizer: PatchTokenizer, readonly config: RunConfig, readonly step: number, readonly source: string) {}

  /** Loads a checkpoint (folder, or run folder for its latest); uses the EMA weights unless `weights: 'raw'`. */
  static fromCheckpoint(path: string, opts: { weights?: 'ema' | 'raw' } = {}): NestARPipeline {
    const { dir, state, tensors } = loadCheckpoint(path);
    const cfg = state.config;
    if (cfg?.model?.kind !== 'nestar') {
      throw new Error(`checkpoint ${dir} holds a '${cfg?.model?.kind ?? 'unknown'}' model, not a NestAR model`);
    }
    let model: NestAR;
    try {
      model = new NestAR(cfg.model, 0);
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
      onStep: onStep ? (p) => onStep({ ...p, images: () => this.tokenizer.decode(p.canvas, opts.count) }) : undefined,
    });
    return { images: this.tokenizer.decode(res.tokens, opts.count), backboneCalls: res.backboneCalls, headEvals: res.headEvals, expectedCalls: this.model.sequentialSteps };
  }

  dispose(): void {
    this.model.dispose();
  }
}
