// No import cycles among src/ files (issue #50): every import and re-export, type-only ones included, read from the
// source text, and the strongly connected components of that graph found; any component of two or more files is a
// cycle, named file by file with the imports that close it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const SRC = join(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** file -> the src files it imports (static imports, re-exports and dynamic import() of relative paths). */
export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8'), deps = new Set<string>();
    const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g)];
    for (const m of specs) {
      const target = join(dirname(f), m[1]!).replace(/\.js$/, '.ts');
      if (existsSync(target)) deps.add(target);
    }
    graph.set(f, [...deps]);
  }
  return graph;
}

/** Strongly connected components of two or more nodes (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], onStack = new Set<string>(), found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++; stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the cycle finder finds a two-file loop and a three-file loop, and nothing in a chain', () => {
  const g = new Map([['a', ['b']], ['b', ['a']], ['c', ['d']], ['d', ['e']], ['e', ['c']], ['x', ['y']], ['y', []]]);
  assert.deepEqual(cycles(g).map((c) => c.sort()), [['a', 'b'], ['c', 'd', 'e']]);
  assert.deepEqual(cycles(new Map([['x', ['y']], ['y', ['z']], ['z', []]])), []);
});

test('src/ has no import cycles (type-only imports count)', () => {
  const graph = importGraph(sourceFiles(SRC));
  assert.ok(graph.size > 50, `expected the src tree, read ${graph.size} files`);
  const rel = (p: string): string => relative(join(SRC, '..'), p);
  const named = cycles(graph).map((c) => c.map((f) => `${rel(f)} -> ${graph.get(f)!.filter((d) => c.includes(d)).map(rel).join(', ')}`).join('; '));
  assert.deepEqual(named, []);
});
