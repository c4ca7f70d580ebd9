import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { NestAR } from '../src/model/nestar.js';

before(setup);

// Module 3 of an 8x8 grid (k=4, n1=4): patches of 16 tokens, inputs = 3 blocks (48 tokens).
test('block-causal: editing patch i+1 leaves outputs conditioning patches <= i unchanged; editing patch i changes patch i+1', () => {
  const model = new NestAR({ gridSize: 8, tokenDim: 4, width: 16, depth: 2, heads: 2, headWidth: 16, headDepth: 1 }, 3);
  for (const mi of [0, 1, 2]) {
    const mod = model.modules[mi]!;
    const T = mod.inputTokens, P = mod.patch, D = 4;
    if (T < 2 * P) continue;
    const base = tf.randomNormal([2, T, D], 0, 1, 'float32', 7) as tf.Tensor3D;
    const labels = new Int32Array([1, 5]);
    const out0 = model.backboneOutputs(mi, base, labels).arraySync() as number[][][];
    // Perturb input block b (tokens b*P .. (b+1)*P-1); slot j+1 is input token j.
    for (let b = 0; b < T / P; b++) {
      const data = base.arraySync() as number[][][];
      for (const row of data) for (let j = b * P; j < (b + 1) * P; j++) row[j] = row[j]!.map((v) => v + 1.5);
      const out1 = model.backboneOutputs(mi, tf.tensor3d(data), labels).arraySync() as number[][][];
      for (let s = 0; s < T + 1; s++) {
        const blockOfSlot = s === 0 ? -1 : Math.floor((s - 1) / P);
        const diff = Math.max(...out0.flatMap((r, bi) => r[s]!.map((v, c) => Math.abs(v - out1[bi]![s]![c]!))));
        if (blockOfSlot < b) assert.ok(diff < 1e-6, `module ${mod.m}: slot ${s} (block ${blockOfSlot}) changed by ${diff} after editing block ${b}`);
        else assert.ok(diff > 1e-4, `module ${mod.m}: slot ${s} (block ${blockOfSlot}) did not react to editing block ${b}`);
      }
    }
  }
  model.dispose();
});
