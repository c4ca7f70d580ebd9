// Token orders (issue #17): the interleaved order is a bijection, module 1 spans the grid, every patch of
// a module is a shifted copy of its first (a congruent lattice), and no two tokens of one step touch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIdentity, sequenceToMorton, sequencePositions } from '../src/model/tokenOrder.js';
import { modulePlan } from '../src/model/zorder.js';

test('both orders are bijections onto the grid; Z-order is the identity', () => {
  for (const side of [1, 2, 4, 8, 16, 32]) {
    for (const order of ['zorder', 'interleaved'] as const) {
      const m = sequenceToMorton(order, side);
      assert.equal(new Set(m).size, side * side, `${order} ${side}`);
      assert.ok(m.every((x) => x >= 0 && x < side * side));
    }
    assert.ok(sequenceToMorton('zorder', side).every((x, i) => x === i));
  }
  assert.throws(() => sequenceToMorton('interleaved', 6), /power of 2/);
});

test('interleaved: the first 4^j tokens are the lattice of spacing side/2^j, so module 1 spans the grid', () => {
  for (const side of [4, 8, 16]) {
    const pos = sequencePositions('interleaved', side);
    for (let j = 1; 4 ** j <= side * side; j++) {
      const step = side / 2 ** j, got = pos.slice(0, 4 ** j).map((p) => p.join(',')).sort();
      const want: string[] = [];
      for (let r = 0; r < side; r += step) for (let c = 0; c < side; c += step) want.push(`${r},${c}`);
      assert.deepEqual(got, want.sort(), `side ${side}, first ${4 ** j} tokens`);
    }
    // Module 1 (n1 = 4) touches all four quadrants; Z-order's stays in the top-left corner.
    const quads = (p: Array<[number, number]>) => new Set(p.slice(0, 4).map(([r, c]) => `${r >= side / 2 ? 1 : 0}${c >= side / 2 ? 1 : 0}`)).size;
    assert.equal(quads(pos), 4);
    assert.equal(quads(sequencePositions('zorder', side)), 1);
  }
});

test('every patch of every module is its first patch shifted by one offset, in both orders; interleaved patches have no touching tokens', () => {
  for (const side of [4, 8, 16]) {
    for (const n1 of [1, 4, 16].filter((x) => x < side * side)) {
      for (const order of ['zorder', 'interleaved'] as const) {
        const pos = sequencePositions(order, side);
        for (const mod of modulePlan(side * side, 4, n1).slice(1)) {
          const P = mod.patch;
          for (let a = 1; a < 4; a++) {
            const dr = pos[a * P]![0] - pos[0]![0], dc = pos[a * P]![1] - pos[0]![1];
            assert.ok(dr !== 0 || dc !== 0);
            for (let j = 0; j < P; j++) {
              assert.deepEqual([pos[a * P + j]![0] - pos[j]![0], pos[a * P + j]![1] - pos[j]![1]], [dr, dc], `${order} side ${side} n1 ${n1} module ${mod.m} patch ${a} token ${j}`);
            }
          }
          if (order === 'interleaved') {
            for (let a = 0; a < 4; a++) {
              const cells = new Set(pos.slice(a * P, (a + 1) * P).map((p) => p.join(',')));
              for (const [r, c] of pos.slice(a * P, (a + 1) * P)) {
                for (const [nr, nc] of [[r + 1, c], [r, c + 1]]) assert.ok(!cells.has(`${nr},${nc}`), `side ${side} module ${mod.m}: ${r},${c} touches ${nr},${nc}`);
              }
            }
          }
        }
      }
    }
  }
});

test('isIdentity tells the identity (no gathers) from any other map', () => {
  assert.equal(isIdentity(sequenceToMorton('zorder', 8)), true);
  assert.equal(isIdentity(sequenceToMorton('interleaved', 8)), false);
  // One fixed point is not enough, and a map that moves only its last entries is still not the identity.
  assert.equal(isIdentity(Int32Array.from([0, 2, 1])), false);
  assert.equal(isIdentity(Int32Array.from([1, 0, 2])), false);
  assert.equal(isIdentity(new Int32Array(0)), true);
});
