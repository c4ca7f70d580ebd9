import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr } from './helpers.js';
import { NestAR } from '../src/model/nestar.js';
import { ParamStore } from '../src/model/params.js';
import { BlockCausalTransformer } from '../src/model/transformer.js';

before(setup);

// Every module of an 8x8 grid (k=4, n1=4), in both token orders. One token (the last of block b) is moved:
// slots of earlier blocks must not react, and every slot of block b and later ones must, including the
// *first* token of block b (which a plain token-causal mask would hide from the last one).
test('block-causal through NestAR\'s modules: moving the last token of block b changes every slot of blocks >= b (its own block\'s first token too) and no slot before', () => {
  for (const order of ['zorder', 'interleaved'] as const) {
    const model = new NestAR({ gridSize: 8, tokenDim: 4, width: 16, depth: 2, heads: 2, headWidth: 16, headDepth: 1, order }, 3);
    for (const mi of [0, 1, 2]) {
      const mod = model.modules[mi]!;
      const T = mod.inputTokens, P = mod.patch, D = 4;
      const base = tf.randomNormal([2, T, D], 0, 1, 'float32', 7) as tf.Tensor3D;
      const labels = new Int32Array([1, 5]);
      const out0 = model.backboneOutputs(mi, base, labels).arraySync() as number[][][];
      // Slot j+1 is input token j; module 1's blocks are single tokens.
      for (let b = 0; b < T / P; b++) {
        const data = base.arraySync() as number[][][];
        const moved = (b + 1) * P - 1;
        for (const row of data) row[moved] = row[moved]!.map((v) => v + 1.5);
        const out1 = model.backboneOutputs(mi, tf.tensor3d(data), labels).arraySync() as number[][][];
        for (let s = 0; s < T + 1; s++) {
          const blockOfSlot = s === 0 ? -1 : Math.floor((s - 1) / P);
          const diff = Math.max(...out0.flatMap((r, bi) => r[s]!.map((v, c) => Math.abs(v - out1[bi]![s]![c]!))));
          if (blockOfSlot < b) assert.ok(diff < 1e-6, `${order} module ${mod.m}: slot ${s} (block ${blockOfSlot}) changed by ${diff} after moving token ${moved} of block ${b}`);
          else assert.ok(diff > 1e-4, `${order} module ${mod.m}: slot ${s} (block ${blockOfSlot}) did not react to moving token ${moved} of block ${b}`);
        }
      }
      base.dispose();
    }
    model.dispose();
  }
});

// Sampling memory: extend() frees each block's temporaries before the next block runs, so the peak over a
// deep backbone stays near a shallow one's (all blocks' attention maps at once overran the WASM heap).
test('KV-cache extend: peak memory does not grow with depth, and outputs match forward()', async () => {
  const T = 32, B = 8;
  const make = (depth: number) => new BlockCausalTransformer(new ParamStore(depth), `t${depth}`, {
    width: 32, depth, heads: 2, mlpRatio: 4, tokenDim: 4, numClasses: 10, maxInputTokens: T, blockSize: 8,
    ownPositions: Array.from({ length: T }, (_, i) => [i >> 3, i & 7]), targetPositions: Array.from({ length: T + 1 }, () => null), gridSize: 8,
  });
  const x = tf.randomNormal([B, T, 4], 0, 1, 'float32', 3) as tf.Tensor3D;
  const onehot = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 11).toFloat() as tf.Tensor2D;
  const peak = async (t: BlockCausalTransformer) => {
    const cache = t.newCache();
    const info = await tf.profile(() => tf.tidy(() => t.extend(cache, x, onehot)));
    cache.k.forEach((k) => k.dispose()); cache.v.forEach((v) => v.dispose());
    return info.peakBytes - info.newBytes;
  };
  const shallow = make(1), deep = make(8);
  const p1 = await peak(shallow), p8 = await peak(deep);
  assert.ok(p8 < 1.5 * p1, `peak temporaries ${p8} B at depth 8 vs ${p1} B at depth 1`);
  const cache = deep.newCache();
  const viaCache = deep.extend(cache, x, onehot), direct = deep.forward(x, onehot);
  assert.ok(maxRelErr(viaCache.dataSync(), direct.dataSync()) < 1e-5);
  tf.dispose([viaCache, direct, x, onehot, ...cache.k, ...cache.v]);
  shallow.dispose(); deep.dispose();
});
