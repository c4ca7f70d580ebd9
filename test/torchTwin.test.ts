// The PyTorch twin (python/nestar_torch, issue #22) against nestar: the same weights, tokens and (t, eps)
// draws give the same loss and the same gradient of every parameter, for both flow heads, both token
// orders, per-module widths and both loss weightings. Needs Debian's python3-torch (installed by .ci/run).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, tf } from './helpers.js';
import { findTorchPython, runTwin } from './python.js';
import { NestAR } from '../src/model/nestar.js';
import { RasterAR } from '../src/model/rasterAR.js';
import { NextScaleAR } from '../src/model/nextScaleAR.js';
import type { NestARConfig } from '../src/model/config.js';
import type { BaselineConfig } from '../src/model/baselineConfig.js';
import type { Generator } from '../src/model/generator.js';
import { exportVariables } from '../src/train/weights.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../src/util/safetensors.js';
import { Rng } from '../src/util/rng.js';

let python = '';
before(async () => { await setup(); python = findTorchPython(); });

type AnyModel = Generator & { params: NestAR['params']; config: { tokenDim: number }; numTokens: number; sequentialSteps: number; dispose(): void };
const CASES: Array<{ name: string; model: Partial<NestARConfig> | (Partial<BaselineConfig> & { kind: 'raster' | 'nextscale' }) }> = [
  { name: 'patch head, interleaved, 3 modules, per-module widths',
    model: { gridSize: 8, tokenDim: 5, numClasses: 3, width: [16, 16, 24], depth: [1, 2, 1], heads: 2, headKind: 'patch', headWidth: 16, headDepth: 2, headHeads: 2, order: 'interleaved' } },
  { name: 'per-token head, zorder, loss weight 1 per module',
    model: { gridSize: 4, tokenDim: 6, numClasses: 3, width: 16, depth: 1, heads: 4, headKind: 'token', headWidth: 24, headDepth: 2, order: 'zorder', lossWeights: 'modules' } },
  // The emoji-64 latent geometry: a 16x16 grid of 4-d KL latents (four modules).
  { name: 'latent geometry: 16x16 grid of 4-d tokens, patch head',
    model: { gridSize: 16, tokenDim: 4, numClasses: 3, width: 16, depth: 1, heads: 2, headKind: 'patch', headWidth: 16, headDepth: 1, headHeads: 2, order: 'interleaved' } },
  { name: 'raster AR, depth matched to NestAR\'s parameters',
    model: { kind: 'raster', gridSize: 4, tokenDim: 5, numClasses: 3, width: 16, heads: 2, headWidth: 16, headDepth: 2 } },
  { name: 'next-scale AR, patch head over each scale, per-scale loss weights',
    model: { kind: 'nextscale', gridSize: 4, tokenDim: 5, numClasses: 3, width: 16, depth: 2, heads: 2, headKind: 'patch', headWidth: 16, headDepth: 1, headHeads: 2, lossWeights: [1, 0.5, 2] } },
  { name: 'next-scale AR, per-token head',
    model: { kind: 'nextscale', gridSize: 4, tokenDim: 3, numClasses: 3, width: 16, depth: 1, heads: 2, headKind: 'token', headWidth: 16, headDepth: 1 } },
];

function build(config: (typeof CASES)[number]['model'], seed: number): AnyModel {
  const kind = (config as { kind?: string }).kind;
  return (kind === 'raster' ? new RasterAR(config as Partial<BaselineConfig>, seed) : kind === 'nextscale' ? new NextScaleAR(config as Partial<BaselineConfig>, seed)
    : new NestAR(config as Partial<NestARConfig>, seed)) as unknown as AnyModel;
}

/** A model with random weights everywhere: the zero-initialised modulations and outputs would otherwise hide most terms. */
function randomModel(config: (typeof CASES)[number]['model'], seed: number, rng: Rng): AnyModel {
  const model = build(config, seed);
  for (const v of model.params.vars.values()) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => 0.3 * rng.normal()), v.shape));
  return model;
}

/** Writes the model's weights, the inputs and meta.json where nestar_torch.twin_check reads them, runs it, returns the folder. */
function runTwinCheck(model: AnyModel, inputs: Record<string, NamedArray>, meta: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-twin-'));
  writeFileSync(join(dir, 'weights.safetensors'), encodeSafetensors(exportVariables(model.params.vars)));
  writeFileSync(join(dir, 'inputs.safetensors'), encodeSafetensors(inputs));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ model: model.config, ...meta }));
  runTwin(python, 'nestar_torch.twin_check', [dir]);
  return dir;
}

for (const c of CASES) {
  test(`PyTorch twin: loss and every gradient match nestar (${c.name})`, () => {
    const rng = new Rng(11);
    const model = randomModel(c.model, 3, rng);
    const n = model.numTokens, D = model.config.tokenDim, B = 3, repeats = 2;
    const tokens = tf.tensor3d(Float32Array.from({ length: B * n * D }, () => rng.normal()), [B, n, D]);
    const labels = Int32Array.from([0, 2, 3]); // 3 = the null class, which the trainer passes for dropped labels
    const draws: Record<string, NamedArray> = {};
    const { value, grads } = model.params.grads(() => model.loss(tokens, labels, new Rng(5), {
      headRepeats: repeats,
      recordDraws: (i, t, eps) => {
        draws[`t${i}`] = { shape: [t.length], data: Float32Array.from(t) };
        draws[`eps${i}`] = { shape: [...eps.shape], data: eps.dataSync() as Float32Array };
      },
    }).total);
    const dir = runTwinCheck(model, { ...draws, tokens: { shape: [B, n, D], data: tokens.dataSync() as Float32Array } }, { labels: [...labels], headRepeats: repeats });
    const out = JSON.parse(readFileSync(join(dir, 'loss.json'), 'utf8')) as { loss: number; params: Array<[string, number[]]>; perModule: number[] };
    // Same names, shapes and creation order of parameters.
    assert.deepEqual(out.params, [...model.params.vars].map(([k, v]) => [k, v.shape]));
    const loss = value.dataSync()[0]!;
    assert.ok(Math.abs(out.loss - loss) <= 1e-5 * Math.abs(loss), `loss: nestar ${loss}, PyTorch ${out.loss}`);
    const theirs = decodeSafetensors(readFileSync(join(dir, 'grads.safetensors'))).tensors;
    // Relative to the tensor's own scale, floored at 1e-3 of the largest gradient of the model: the key biases'
    // gradients are zero in exact arithmetic (softmax ignores a per-query constant), float32 leaves ~1e-9 there.
    const top = Math.max(...[...grads.keys()].map((k) => theirs[k]!.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
    let worst = 0, worstName = '';
    for (const [k, g] of grads) {
      const a = g.dataSync(), b = theirs[k]!.data;
      let diff = 0, scale = 1e-3 * top;
      for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
      if (diff / scale > worst) { worst = diff / scale; worstName = k; }
    }
    assert.equal(grads.size, model.params.vars.size, 'every parameter has a gradient');
    assert.ok(worst <= 1e-4, `worst gradient relative error ${worst.toExponential(2)} at ${worstName}`);
    tf.dispose([tokens, value, ...grads.values()]);
    model.dispose();
  });
}

test('PyTorch twin: given nestar\'s starting noise, its sampler makes the same tokens (guidance, linear schedule, interval, Heun) for NestAR, raster AR and next-scale AR', async () => {
  for (const c of [CASES[0]!, CASES[3]!, CASES[4]!]) {
  const model = randomModel(c.model, 4, new Rng(12));
  const noises: Record<string, NamedArray> = {};
  let k = 0;
  const opts = { classes: [1, 2, -1], cfg: 2.5, cfgSchedule: 'linear' as const, cfgInterval: [0.1, 0.9] as [number, number], odeSteps: 3, solver: 'heun' as const };
  const res = await model.sample({ count: 3, seed: 9, ...opts,
    recordStartNoise: (y0) => { noises[`noise${k++}`] = { shape: [...y0.shape], data: Float32Array.from(y0.dataSync()) }; } });
  assert.equal(k, model.sequentialSteps, 'one head integration per sequential call');
  const dir = runTwinCheck(model, noises, { sample: opts });
  const theirs = decodeSafetensors(readFileSync(join(dir, 'tokens.safetensors'))).tensors.tokens!;
  assert.deepEqual(theirs.shape, [3, model.numTokens, model.config.tokenDim]);
  let diff = 0, scale = 0;
  for (let i = 0; i < res.tokens.length; i++) { diff = Math.max(diff, Math.abs(res.tokens[i]! - theirs.data[i]!)); scale = Math.max(scale, Math.abs(theirs.data[i]!)); }
  assert.ok(diff <= 1e-4 * scale, `tokens differ by ${diff} (scale ${scale})`);
  assert.equal(JSON.parse(readFileSync(join(dir, 'sample.json'), 'utf8')).calls, res.backboneCalls);
  model.dispose();
  }
});
