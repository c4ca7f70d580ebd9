// The guidance scale each sequential step of each generator uses (constant, or the linear schedule over the
// fraction of tokens made), read off exactly: every flow head is replaced by one whose conditional velocity is
// 1 and unconditional 0, so with temperature 0 a guided step makes tokens equal to its guidance scale w.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { createGenerator } from '../src/model/factory.js';
import type { Generator } from '../src/model/generator.js';
import type { VelocityHead } from '../src/flow/head.js';

before(setup);

const tiny = { gridSize: 4, tokenDim: 1, width: 8, depth: 1, heads: 2, headWidth: 8, headDepth: 1, headHeads: 2, mlpRatio: 2, numClasses: 3 };

/** v = 1 on the first half of the rows it is bound to (the conditional ones under guidance), 0 on the rest. */
const guidanceProbe: VelocityHead = {
  kind: 'token', name: 'probe',
  forward: () => { throw new Error('not used by the samplers'); },
  prepare: (z) => {
    const R = z.shape[0], c = tf.keep(tf.concat([tf.ones([R / 2, 1]), tf.zeros([R / 2, 1])], 0));
    return { velocity: (y) => tf.tidy(() => tf.mul(tf.onesLike(y), c)) as tf.Tensor2D, dispose: () => c.dispose() };
  },
};

function probed(kind: 'nestar' | 'raster' | 'nextscale'): Generator {
  const g = createGenerator({ ...tiny, kind }, 0) as Generator & { heads?: VelocityHead[]; head?: VelocityHead };
  if (g.heads) g.heads.fill(guidanceProbe);
  else Object.assign(g, { head: guidanceProbe });
  return g;
}

/** The value every token made at each step holds (they all hold the step's w), in order of the steps. */
async function stepScales(g: Generator, cfgSchedule: 'constant' | 'linear'): Promise<number[]> {
  const seen: number[] = [];
  let prev = new Float32Array(g.numTokens);
  await g.sample({ count: 1, classes: 1, cfg: 3, cfgSchedule, odeSteps: 2, temperature: 0, onStep: ({ canvas }) => {
    // Next-scale shows each whole scale; the others add tokens to the canvas.
    const fresh = g.method === 'nextscale' ? Array.from(canvas) : Array.from(canvas).filter((v, i) => v !== prev[i]);
    assert.ok(fresh.length > 0 && fresh.every((v) => Math.abs(v - fresh[0]!) < 1e-6), `${g.method}: one value per step, got ${fresh}`);
    seen.push(fresh[0]!);
    prev = Float32Array.from(canvas);
  } });
  return seen;
}

test('guidance per step: CFG 3 at every step, or 1 + 2 × (fraction of tokens already made) with the linear schedule', async () => {
  const close = (a: number[], b: number[], what: string) => assert.ok(a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < 1e-5), `${what}: ${a} vs ${b}`);
  const n = 16;
  // NestAR 4x4, k = 4, n1 = 4: module 1 makes tokens 0..3 one at a time, module 2 the patches starting at 4, 8, 12.
  const starts = { nestar: [0, 1, 2, 3, 4, 8, 12], raster: Array.from({ length: 16 }, (_, r) => r), nextscale: [0, 1, 4] };
  for (const kind of ['nestar', 'raster', 'nextscale'] as const) {
    const g = probed(kind);
    close(await stepScales(g, 'constant'), new Array(starts[kind].length).fill(3), `${kind}, constant`);
    close(await stepScales(g, 'linear'), starts[kind].map((s) => 1 + 2 * s / n), `${kind}, linear`);
    g.dispose();
  }
});
