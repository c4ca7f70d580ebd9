// Next-scale AR baseline (VAR / FlowAR style, continuous; method.md §6). Token maps at sides 1, 2, 4, …, G
// are area-downsamplings of the token grid. Scale j is predicted in parallel from the nearest-upsampled
// scale j-1 under a block-causal mask over scales: log2(G) + 1 sequential calls.
// In Z-order both resamplings are contiguous: a scale-j cell averages a Morton range of the grid, and
// upsampling repeats each cell 4 times in place, so no gathers are needed.
import * as tf from '@tensorflow/tfjs-core';
import { baselineLossGroups, nextScaleSides, resolveBaselineConfig, type BaselineConfig } from './baselineConfig.js';
import { ParamStore } from './params.js';
import { BlockCausalTransformer, disposeCache } from './transformer.js';
import { createHead } from '../flow/heads.js';
import type { HeadLayout, VelocityHead } from '../flow/head.js';
import { guidanceAt, sampleHead, beginSampling, classOneHot, groupedHeadLoss, type Generator, type LossPart, type LossOptions, type SampleOptions, type SampleResult } from './generator.js';
import { mortonToRowCol } from './zorder.js';
import { coordinatedInput, moduleWeightValues, prefixActive, prefixEstimate } from './coord.js';
import type { Rng } from '../util/rng.js';

/** tokens [B, n, D] (Morton) -> the side x side map [B, side², D] (Morton), by area averaging. */
export function downsampleMorton(tokens_BnD: tf.Tensor3D, side: number): tf.Tensor3D {
  const [B, n, D] = tokens_BnD.shape;
  const cells = side * side, a = n / cells;
  if (!Number.isInteger(a)) throw new Error(`downsample: ${n} tokens do not split into ${cells} cells`);
  return a === 1 ? tokens_BnD : tf.mean(tf.reshape(tokens_BnD, [B, cells, a, D]), 2) as tf.Tensor3D;
}

/** Nearest upsampling by 2 of a Morton-ordered map: [B, m, D] -> [B, 4m, D]. */
export function upsampleMorton(map_BmD: tf.Tensor3D, factor = 4): tf.Tensor3D {
  const [B, m, D] = map_BmD.shape;
  return tf.reshape(tf.tile(tf.reshape(map_BmD, [B, m, 1, D]), [1, 1, factor, 1]), [B, m * factor, D]) as tf.Tensor3D;
}

export class NextScaleAR implements Generator {
  readonly method = 'nextscale' as const;
  readonly config: BaselineConfig;
  readonly params: ParamStore;
  readonly backbone: BlockCausalTransformer;
  readonly head: VelocityHead;
  /** One head segment per scale: a patch head generates each scale jointly (FlowAR). */
  private readonly layout: HeadLayout;
  readonly sides: number[];
  private readonly lossWeights: number[];

  constructor(config: Partial<BaselineConfig>, seed = 0) {
    this.config = resolveBaselineConfig({ ...config, kind: 'nextscale' });
    const { gridSize: g, tokenDim, numClasses, width, depth, heads, mlpRatio } = this.config;
    this.sides = nextScaleSides(g);
    // Slot positions on the full grid: the centre of the cell, so every scale shares one coordinate frame.
    const cellPos = (side: number, q: number): [number, number] => {
      const [r, c] = mortonToRowCol(q), f = g / side;
      return [(r + 0.5) * f - 0.5, (c + 0.5) * f - 0.5];
    };
    const own: Array<[number, number]> = [], blockIds: number[] = [], targets: Array<[number, number] | null> = [cellPos(1, 0)];
    this.sides.slice(1).forEach((side, j) => {
      for (let q = 0; q < side * side; q++) {
        own.push(cellPos(side, q));
        targets.push(cellPos(side, q));
        blockIds.push(j);
      }
    });
    this.params = new ParamStore(seed);
    this.backbone = new BlockCausalTransformer(this.params, 'ns', {
      width, depth, heads, mlpRatio, tokenDim, numClasses, maxInputTokens: own.length, blockSize: 1, blockIds, gridSize: g,
      ownPositions: own, targetPositions: targets, noiseInput: !!this.config.contextNoise,
    });
    this.lossWeights = moduleWeightValues(this.config.lossWeights, baselineLossGroups('nextscale', g), 'scales');
    // The head's slots are the output rows: every scale's cells in order, which is what `targets` lists.
    let slot = 0;
    this.layout = { segments: this.sides.map((side) => { const seg = { slot, length: side * side }; slot += seg.length; return seg; }) };
    this.head = createHead(this.params, 'ns.head', this.config.headKind, this.config, { tokenDim, condDim: width, gridSize: g,
      slotPositions: targets as Array<[number, number]> });
  }

  get numTokens(): number { return this.config.gridSize ** 2; }
  get sequentialSteps(): number { return this.sides.length; }
  /** Scale 1 (1×1) is conditioned on the class only; scale j on the upsampled scale j-1. */
  get lossParts(): LossPart[] { return this.sides.map((s, j) => ({ name: `scale ${s}x${s}`, tokens: s * s, hasPrefix: j > 0 })); }


  /**
   * Teacher-forced loss, reported per scale. Coordination: a generated prefix replaces a sample's
   * upsampled scales by the upsampled estimates of those scales (first pass, teacher-forced, detached);
   * noisy context noises all inputs.
   */
  loss(tokens_BnD: tf.Tensor3D, labels: Int32Array, rng: Rng, opts: LossOptions = {}): { total: tf.Scalar; perModule: tf.Scalar[] } {
    const B = tokens_BnD.shape[0], D = this.config.tokenDim;
    const maps = this.sides.map((s) => downsampleMorton(tokens_BnD, s));
    const upsampledInputs = (m: tf.Tensor3D[]) => tf.concat(m.slice(0, -1).map((x) => upsampleMorton(x)), 1) as tf.Tensor3D;
    const gt = upsampledInputs(maps);
    const onehot = classOneHot(labels, this.config.numClasses);
    const groups = baselineLossGroups('nextscale', this.config.gridSize);
    const coord = opts.coord;
    let gen: tf.Tensor3D | null = null;
    if (prefixActive(coord)) {
      const z0 = tf.reshape(this.backbone.forward(gt, onehot), [-1, this.config.width]) as tf.Tensor2D;
      const est = tf.reshape(prefixEstimate(this.head, z0, D, coord!.prefixSource ?? { kind: 'one-step' }, (coord!.prefixRng ?? rng).seed(), this.layout), [B, -1, D]);
      let off = 0;
      gen = upsampledInputs(groups.map((g) => { const m = tf.slice(est, [0, off, 0], [B, g, D]) as tf.Tensor3D; off += g; return m; }));
    }
    const { x, s } = coordinatedInput(0, gt, gen, coord, rng);
    const h = this.backbone.forward(x, onehot, s);
    return groupedHeadLoss(this.head, tf.concat(maps, 1) as tf.Tensor3D, h, rng, opts, groups, this.lossWeights, this.layout);
  }

  async sample(opts: SampleOptions): Promise<SampleResult> {
    const { tokenDim: D, width: C, numClasses } = this.config;
    const n = this.numTokens;
    const { labels, useCfg, B, onehot, rng } = beginSampling(opts, numClasses);
    const cache = this.backbone.newCache();
    let prev: tf.Tensor3D | null = null; // the last scale made, [B, side², D]
    let calls = 0, headEvals = 0;
    for (let j = 0; j < this.sides.length; j++) {
      const side = this.sides[j]!, cells = side * side;
      const w = guidanceAt(opts, j === 0 ? 0 : (this.sides[j - 1]! ** 2) / n);
      const map: tf.Tensor3D = tf.tidy(() => {
        const x = prev ? upsampleMorton(useCfg ? tf.concat([prev, prev], 0) as tf.Tensor3D : prev) : null;
        const h = this.backbone.extend(cache, x, onehot);
        const z = tf.reshape(tf.slice(h, [0, h.shape[1] - cells, 0], [labels.length, cells, C]), [-1, C]) as tf.Tensor2D;
        const res = sampleHead(this.head, z, D, useCfg, w, opts, rng.seed(), { segments: [this.layout.segments[j]!] });
        headEvals += res.evals;
        return tf.reshape(res.y, [B, cells, D]) as tf.Tensor3D;
      });
      calls++;
      prev?.dispose();
      prev = map;
      if (opts.onStep) {
        // Stream the current scale shown at full resolution (nearest upsampling to the whole grid).
        const full = tf.tidy(() => (cells === n ? tf.clone(map) : upsampleMorton(map, n / cells)));
        const canvas = full.dataSync() as Float32Array;
        full.dispose();
        await opts.onStep({ module: j + 1, patch: 1, tokensSoFar: cells, calls, totalCalls: this.sides.length, canvas });
      }
    }
    const tokens = prev!.dataSync() as Float32Array;
    prev!.dispose();
    disposeCache(cache);
    onehot.dispose();
    return { tokens: Float32Array.from(tokens), backboneCalls: calls, headEvals };
  }

  dispose(): void {
    this.backbone.dispose();
    this.params.dispose();
  }
}
