// Benchmarks run each measurement in a child process (a tfjs backend is chosen once per process, and
// peak RSS is per process). Children run the same way as the parent: compiled JS, or TS under tsx.
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** node arguments that run src/bench/<name> (or dist/bench/<name>.js) like this process runs its code. */
export function childScript(name: string): string[] {
  const ext = extname(fileURLToPath(import.meta.url));
  return [...process.execArgv, join(here, name + ext)];
}

/** The package root (src/bench and dist/bench are both two levels down). */
export function packageRoot(): string {
  const root = join(here, '..', '..');
  if (!existsSync(join(root, 'package.json'))) throw new Error(`cannot find the nestar package root from ${here}`);
  return root;
}
