// Finds a Python that imports torch and numpy (Debian's python3-torch is for /usr/bin/python3, which a
// pyenv or venv python3 on PATH may shadow); NESTAR_PYTHON overrides. Shared by the PyTorch-twin tests.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PYTHON_DIR = join(import.meta.dirname, '..', 'python');

export function findTorchPython(): string {
  const candidates = [process.env.NESTAR_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  throw new Error(`no Python with torch and numpy among ${candidates.join(', ')}: install Debian's python3-torch and python3-numpy (the README's first command does)`);
}

/** How the twin's modules are run: from python/, importable, no bytecode left in the checkout. */
const twinSpawn = (env: Record<string, string>) => ({ encoding: 'utf8' as const, cwd: PYTHON_DIR, timeout: 600_000,
  env: { ...process.env, PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: '1', ...env } });

/** Runs `python -m module args` with python/ on the path; throws with its stderr when it fails. */
export function runTwin(python: string, module: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(python, ['-m', module, ...args], twinSpawn(env));
  if (r.status !== 0) throw new Error(`${python} -m ${module} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/**
 * `torchrun` (the one next to `python`, else on PATH) with n local processes running `-m module`, one thread each.
 * Debian's torch 1.13 on Python 3.11 needs explicit --redirects/--tee (see README). Returns the finished process.
 */
export function torchrun(python: string, n: number, module: string, args: string[], env: Record<string, string> = {}) {
  const beside = join(dirname(python), 'torchrun');
  return spawnSync(python.includes('/') && existsSync(beside) ? beside : 'torchrun',
    ['--nproc_per_node', String(n), '--redirects', '2', '--tee', '2', '-m', module, ...args], twinSpawn({ OMP_NUM_THREADS: '1', ...env }));
}

/**
 * Two torchrun launchers on this machine as the two nodes of one job (issue #51): --nnodes 2, one process each,
 * rendezvous over c10d on localhost:port. Resolves when both have exited, with their statuses and stderr.
 */
export function torchrunTwoNodes(python: string, port: number, module: string, args: string[], env: Record<string, string> = {}): Promise<Array<{ status: number | null; stderr: string }>> {
  const beside = join(dirname(python), 'torchrun');
  const bin = python.includes('/') && existsSync(beside) ? beside : 'torchrun';
  const opts = twinSpawn({ OMP_NUM_THREADS: '1', ...env });
  return Promise.all([0, 1].map((rank) => new Promise<{ status: number | null; stderr: string }>((done) => {
    const p = spawn(bin, ['--nnodes', '2', '--node_rank', String(rank), '--nproc_per_node', '1', '--rdzv_backend', 'c10d',
      '--rdzv_endpoint', `localhost:${port}`, '--rdzv_id', `nestar-test-${port}`, '--redirects', '2', '--tee', '2', '-m', module, ...args],
    { cwd: opts.cwd, env: opts.env, timeout: opts.timeout });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (status) => done({ status, stderr }));
  })));
}
