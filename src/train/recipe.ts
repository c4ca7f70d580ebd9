// The default colour recipe (issue #49): what `nestar train --data FOLDER` (or --data emoji) trains when it is given
// no model, tokenizer or training settings — the best recipe measured on the colour runs (RESULTS.md's colour
// section: the pilots chose its changes, the long runs its budget), sized to the folder: the same number of passes
// over the data as the measured run, within a floor and an 8-hour ceiling. The run records what was chosen
// (config.recipe), so a checkpoint says which recipe made it.
import type { RecipeRecord, RunConfigInput } from './config.js';

/** The measured colour recipe at 32x32 (8x8 grid of 4x4x3 patches). */
export const COLOUR_RECIPE = {
  name: 'colour-v1',
  model: { width: 128, heads: 4, headKind: 'patch', headWidth: 192, headDepth: 2, headHeads: 4, order: 'interleaved' },
  train: { batchSize: 64, lr: 1e-3, warmupSteps: 50, emaDecay: 0.995, timeSampling: 'logit-normal', keepCheckpoints: 8 },
  /** Passes over the training split of the measured run (3600 steps x 64 / 3,403 emoji training images). */
  epochs: 68,
  minSteps: 1200,
  maxHours: 8,
  /** One training step of the recipe at 32x32 on two BLAS threads: steps 1800-2400 of colour-long.sh's NestAR run
   * (trainSeconds difference / 600 = 3.10 s, an evaluation sharing the cores, so an upper bound). */
  secondsPerStep: 3.1,
  basis: 'results/RESULTS.md, "Colour: what limits it" (scripts/results/colour-pilots.sh, colour-long.sh); step time measured on the 2-core machine of those runs',
} as const;

/** Steps of the recipe for a training split of `images`: the measured run's passes, at least minSteps, at most maxHours. */
export function recipeSteps(images: number): number {
  const r = COLOUR_RECIPE;
  const byEpochs = Math.round((r.epochs * images) / r.train.batchSize / 100) * 100;
  const ceiling = Math.floor((r.maxHours * 3600) / r.secondsPerStep / 100) * 100;
  return Math.min(ceiling, Math.max(r.minSteps, byEpochs));
}

/**
 * The recipe's config sections for a colour source of `images` training images at `imageSize` (the 8x8 token grid
 * is kept: patch = imageSize / 8), and what the run records of it.
 */
export function colourRecipe(images: number, imageSize: number): { input: Required<Pick<RunConfigInput, 'model' | 'train' | 'tokenizer'>>; record: RecipeRecord } {
  if (!Number.isInteger(images) || images < 1) throw new Error(`the colour recipe needs the number of training images, got ${images}`);
  if (imageSize % 8 !== 0) throw new Error(`the colour recipe keeps an 8x8 token grid: data.imageSize must be a multiple of 8, got ${imageSize}`);
  const steps = recipeSteps(images), r = COLOUR_RECIPE;
  const every = Math.max(100, Math.round(steps / 6 / 100) * 100);
  return {
    input: {
      model: { ...r.model } as RunConfigInput['model'] & object,
      tokenizer: { kind: 'patch', patch: imageSize / 8 },
      train: { ...r.train, steps, checkpointEvery: every, sampleEvery: 2 * every } as RunConfigInput['train'] & object,
    },
    record: { name: r.name, trainImages: images, steps, secondsPerStep: r.secondsPerStep, expectedHours: Math.round((steps * r.secondsPerStep) / 360) / 10, basis: r.basis },
  };
}
