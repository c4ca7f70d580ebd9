import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modulePlan, mortonToRaster, mortonToRowCol, rowColToMorton, sequentialCalls } from '../src/model/zorder.js';
import { ConfigError, resolveNestARConfig } from '../src/model/config.js';

test('Z-order map is a bijection onto the grid and inverts rowColToMorton', () => {
  for (const side of [1, 2, 4, 8, 16, 32]) {
    const m = mortonToRaster(side);
    assert.equal(new Set(m).size, side * side);
    for (let i = 0; i < side * side; i++) {
      const [r, c] = mortonToRowCol(i);
      assert.ok(r < side && c < side);
      assert.equal(rowColToMorton(r, c), i);
    }
  }
});

/** The grid cells [row, col] covered by Morton range [a, b). */
function cells(a: number, b: number): string[] {
  const out: string[] = [];
  for (let i = a; i < b; i++) out.push(mortonToRowCol(i).join(','));
  return out.sort();
}
function square(r0: number, c0: number, s: number): string[] {
  const out: string[] = [];
  for (let r = r0; r < r0 + s; r++) for (let c = c0; c < c0 + s; c++) out.push(`${r},${c}`);
  return out.sort();
}

test('patches of each module are the square blocks of the spec worked examples (k=4, n1=4)', () => {
  for (const [side, steps] of [[4, 7], [8, 10], [16, 13]] as const) {
    const plans = modulePlan(side * side, 4, 4);
    assert.equal(sequentialCalls(plans), steps, `${side}x${side}`);
    assert.equal(plans.length, Math.log2(side));
    // Module 1: four single tokens forming the top-left 2x2 square.
    assert.deepEqual(cells(0, 4), square(0, 0, 2));
    for (const p of plans.slice(1)) {
      const s = Math.sqrt(p.patch); // patch side
      assert.equal(p.steps, 3);
      // Patch i (i = 2..4) of module m is the i-th quadrant of the 2s x 2s canvas: top-right, bottom-left, bottom-right.
      const quadrants = [[0, s], [s, 0], [s, s]] as const;
      quadrants.forEach(([r0, c0], j) => {
        const a = p.start + j * p.patch;
        assert.deepEqual(cells(a, a + p.patch), square(r0, c0, s), `module ${p.m} patch ${j + 2} on ${side}x${side}`);
      });
    }
  }
});

test('config validation rejects invalid combinations with what would be valid', () => {
  assert.throws(() => resolveNestARConfig({ gridSize: 6 }), (e: Error) => e instanceof ConfigError && /gridSize must be a power of 2/.test(e.message));
  assert.throws(() => resolveNestARConfig({ gridSize: 8, n1: 2, k: 4 }), /valid n1 values are 1, 4, 16, 64/);
  assert.throws(() => resolveNestARConfig({ k: 3 }), /model.k must be a power of 2/);
  assert.throws(() => resolveNestARConfig({ width: 30, heads: 4 }), /not divisible by heads/);
  assert.throws(() => resolveNestARConfig({ gridSize: 8, depth: [1, 2] }), /2 values given but the model has 3 modules/);
  const ok = resolveNestARConfig({ gridSize: 16, k: 4, n1: 4 });
  assert.equal(ok.modules.length, 4);
  assert.equal(sequentialCalls(ok.modules), 13);
});

test('mortonToRaster gives row*side+col of each Morton cell, and the module plan has the fields the spec defines', () => {
  assert.deepEqual([...mortonToRaster(2)], [0, 1, 2, 3]);
  assert.deepEqual([...mortonToRaster(4)].slice(0, 8), [0, 1, 4, 5, 2, 3, 6, 7]);
  // n = 64, k = 4, n1 = 4 (method.md §2): module 1 makes 4 tokens one by one; module m makes 3 patches of 4^(m-1) tokens.
  assert.deepEqual(modulePlan(64, 4, 4), [
    { m: 1, patch: 1, steps: 4, inputTokens: 3, start: 0, end: 4 },
    { m: 2, patch: 4, steps: 3, inputTokens: 12, start: 4, end: 16 },
    { m: 3, patch: 16, steps: 3, inputTokens: 48, start: 16, end: 64 },
  ]);
  assert.deepEqual(modulePlan(16, 2, 2).map((p) => [p.patch, p.steps, p.inputTokens, p.end]), [[1, 2, 1, 2], [2, 1, 2, 4], [4, 1, 4, 8], [8, 1, 8, 16]]);
});
