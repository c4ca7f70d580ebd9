// Raster AR baseline (LlamaGen / MAR-causal style, method.md §6): one causal transformer over the tokens
// in raster order, one token per sequential step (n calls), sampled with a KV cache, same flow head.
// It makes one token a step, so its head is always the per-token one (per-token is already joint there).
import * as tf from '@tensorflow/tfjs-core';
import { resolveBaselineConfig, type BaselineConfig } from './baselineConfig.js';
import { ParamStore } from './params.js';
import { BlockCausalTransformer, disposeCache } from './transformer.js';
import { FlowHead } from '../flow/flowHead.js';
import { singleSegment } from '../flow/head.js';
import { canvasGather, guidanceAt, sampleHead, beginSampling, classOneHot, groupedHeadLoss, writeTokens, type Generator, type LossPart, type LossOptions, type SampleOptions, type SampleResult } from './generator.js';
import { rowColToMorton } from './zorder.js';
import { coordinatedInput, moduleWeightValues, prefixActive, prefixEstimate } from './coord.js';
import type { Rng } from '../util/rng.js';

export class RasterAR implements Generator {
  readonly method = 'raster' as const;
  readonly config: BaselineConfig;
  readonly params: ParamStore;
  readonly backbone: BlockCausalTransformer;
  readonly head: FlowHead;
  /** rasterToMorton[r] = Morton index of the r-th token in raster order (data and canvases are Morton-ordered). */
  readonly rasterToMorton: Int32Array;
  private readonly lossWeights: number[];

  constructor(config: Partial<BaselineConfig>, seed = 0) {
    this.config = resolveBaselineConfig({ ...config, kind: 'raster' });
    const { gridSize: g, tokenDim, numClasses, width, depth, heads, mlpRatio, headWidth, headDepth } = this.config;
    const n = g * g;
    this.rasterToMorton = Int32Array.from({ length: n }, (_, r) => rowColToMorton(Math.floor(r / g), r % g));
    this.params = new ParamStore(seed);
    const rc = (r: number): [number, number] => [Math.floor(r / g), r % g];
    this.backbone = new BlockCausalTransformer(this.params, 'ar', {
      width, depth, heads, mlpRatio, tokenDim, numClasses, maxInputTokens: n - 1, blockSize: 1, gridSize: g,
      ownPositions: Array.from({ length: n - 1 }, (_, i) => rc(i)), targetPositions: Array.from({ length: n }, (_, j) => rc(j)),
      noiseInput: !!this.config.contextNoise,
    });
    this.lossWeights = moduleWeightValues(this.config.lossWeights, [n]);
    this.head = new FlowHead(this.params, 'ar.head', { tokenDim, condDim: width, width: headWidth, depth: headDepth });
  }

  get numTokens(): number { return this.config.gridSize ** 2; }
  get sequentialSteps(): number { return this.numTokens; }
  get lossParts(): LossPart[] { return [{ name: 'all tokens', tokens: this.numTokens, hasPrefix: true }]; }


  /**
   * Teacher-forced loss over all n tokens. Coordination: every input token is a prefix made by earlier
   * steps, so a generated prefix replaces all of a sample's inputs with the model's own estimates (from a
   * first, teacher-forced pass, detached), and noisy context noises all of them.
   */
  loss(tokens_BnD: tf.Tensor3D, labels: Int32Array, rng: Rng, opts: LossOptions = {}): { total: tf.Scalar; perModule: tf.Scalar[] } {
    const [B, n, D] = tokens_BnD.shape;
    // Data carries no gradient, so a gather (whose gradient WASM lacks) is fine here.
    const raster = tf.gather(tokens_BnD, tf.tensor1d(this.rasterToMorton, 'int32'), 1) as tf.Tensor3D;
    const onehot = classOneHot(labels, this.config.numClasses);
    const gt = tf.slice(raster, [0, 0, 0], [B, n - 1, D]);
    const coord = opts.coord;
    let gen: tf.Tensor3D | null = null;
    if (prefixActive(coord)) {
      const z0 = tf.reshape(this.backbone.forward(gt, onehot), [-1, this.config.width]) as tf.Tensor2D;
      const est = prefixEstimate(this.head, z0, D, coord!.prefixSource ?? { kind: 'one-step' }, (coord!.prefixRng ?? rng).seed(), singleSegment(1));
      gen = tf.slice(tf.reshape(est, [B, n, D]), [0, 0, 0], [B, n - 1, D]) as tf.Tensor3D;
    }
    const { x, s } = coordinatedInput(0, gt, gen, coord, rng);
    const h = this.backbone.forward(x, onehot, s);
    return groupedHeadLoss(this.head, raster, h, rng, opts, [n], this.lossWeights, singleSegment(1));
  }

  async sample(opts: SampleOptions): Promise<SampleResult> {
    const { tokenDim: D, width: C, numClasses } = this.config;
    const n = this.numTokens;
    const { labels, useCfg, B, onehot, rng } = beginSampling(opts, numClasses);
    const canvas = new Float32Array(B * n * D);
    const cache = this.backbone.newCache();
    let calls = 0, headEvals = 0;
    for (let r = 0; r < n; r++) {
      const w = guidanceAt(opts, r / n);
      const out = tf.tidy(() => {
        // The token made last (raster r-1, stored at its Morton index) is the only new input.
        const prev = r > 0 ? this.rasterToMorton[r - 1]! : -1;
        const x = prev >= 0 ? canvasGather(canvas, B, n, D, [prev], useCfg) : null;
        const h = this.backbone.extend(cache, x, onehot);
        const z = tf.reshape(tf.slice(h, [0, h.shape[1] - 1, 0], [labels.length, 1, C]), [-1, C]) as tf.Tensor2D;
        const res = sampleHead(this.head, z, D, useCfg, w, opts, rng.seed(), singleSegment(1));
        headEvals += res.evals;
        return res.y;
      });
      calls++;
      const vals = out.dataSync() as Float32Array;
      out.dispose();
      writeTokens(canvas, vals, B, n, D, [this.rasterToMorton[r]!]);
      if (opts.onStep) await opts.onStep({ module: 1, patch: r + 1, tokensSoFar: r + 1, calls, totalCalls: n, canvas });
    }
    disposeCache(cache);
    onehot.dispose();
    return { tokens: canvas, backboneCalls: calls, headEvals };
  }

  dispose(): void {
    this.backbone.dispose();
    this.params.dispose();
  }
}
