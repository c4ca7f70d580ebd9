// The nestar CLI in a child process, as the tests call it (tsx, the checkout's sources, cwd at the root).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;

/** `nestar ARGS…` in a child process; `env` is added to this process's environment. */
export function spawnNestar(args: readonly string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, ...env } });
}

/** `nestar ARGS…`: exit code, stdout, and stderr as lines without the backend banner or blank lines. */
export function nestarCli(args: readonly string[], env: Record<string, string> = {}): { code: number | null; stdout: string; err: string[] } {
  const r = spawnNestar(args, env);
  return { code: r.status, stdout: r.stdout, err: r.stderr.trim().split('\n').filter((l) => l && !l.startsWith('backend:')) };
}
