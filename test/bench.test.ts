import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { speedBench, formulas } from '../src/bench/speed.js';

test('the quick speed bench runs and writes well-formed JSON whose call counts equal the formulas', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'nestar-bench-'));
  await speedBench(['--quick'], { outDir, log: () => {} });
  const j = JSON.parse(readFileSync(join(outDir, 'bench.json'), 'utf8'));
  assert.equal(j.benchmark, 'speed');
  assert.deepEqual(j.skipped, []);
  assert.equal(j.cells.length, 6, 'three methods on two grids');
  const want: Record<string, Record<number, number>> = { nestar: { 16: 7, 64: 10 }, raster: { 16: 16, 64: 64 }, nextscale: { 16: 3, 64: 4 } };
  for (const c of j.cells) {
    assert.equal(c.calls, want[c.method]![c.n], `${c.method} n=${c.n}`);
    assert.equal(c.calls, formulas[c.method as 'nestar'](c.n));
    assert.equal(c.calls, c.expectedCalls);
    assert.ok(c.latencyMedianMs > 0 && c.trainTokensPerS > 0 && c.peakRssMB > 0 && c.throughput.length > 0);
  }
  for (const f of ['bench-calls.svg', 'bench-latency.svg']) {
    const svg = readFileSync(join(outDir, f), 'utf8');
    assert.match(svg, /^<svg[^>]*>[\s\S]*<\/svg>\n$/);
    assert.ok((svg.match(/<polyline/g) ?? []).length >= 3);
  }
});
