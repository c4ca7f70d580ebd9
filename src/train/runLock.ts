// One training per run folder: a `.lock` file created exclusively, naming its owner by pid *and* that
// process's start time (Linux /proc; the host name elsewhere), so a pid reused by an unrelated process
// later is not taken for the owner. A lock whose owner is gone (killed, crashed) is stale and taken over,
// so a SIGKILL never blocks a resume. Locks are released by their release function and, as a last
// resort, when the process exits (the CLI turns SIGINT/SIGTERM into an exit).
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

const held = new Map<string, string>(); // run folder -> lock path
let exitHook = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's identity beyond its pid: its start time in clock ticks since boot (Linux), else empty. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

interface LockOwner { pid: number; start: string; host: string }

function parseOwner(text: string): LockOwner | null {
  const [pidS, start = '', host = ''] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidS ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? { pid, start: start === '-' ? '' : start, host } : null;
}

/** True while the process that wrote the lock still runs (same pid, same start time, same host). */
function ownerAlive(o: LockOwner): boolean {
  if (o.host && o.host !== hostname()) return true; // another machine's process: cannot tell, assume alive
  if (!alive(o.pid)) return false;
  return !o.start || o.start === processStartTime(o.pid);
}

function releaseAll(): void {
  for (const path of held.values()) {
    try { unlinkSync(path); } catch { /* already gone */ }
  }
  held.clear();
}

export function acquireRunLock(runDir: string): () => void {
  const dir = resolve(runDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`run folder ${dir} cannot be created (${err.code === 'EROFS' ? 'read-only file system' : err.code === 'EACCES' ? 'permission denied' : err.code ?? err.message})`);
  }
  const path = join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid} ${processStartTime(process.pid) || '-'} ${hostname()}\n`);
      closeSync(fd);
      held.set(dir, path);
      if (!exitHook) { process.once('exit', releaseAll); exitHook = true; }
      return () => {
        if (!held.delete(dir)) return;
        try { unlinkSync(path); } catch { /* already gone */ }
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw new Error(`run folder ${dir}: cannot create ${path} (${code === 'EROFS' ? 'read-only file system' : code === 'EACCES' ? 'permission denied' : code ?? (e as Error).message})`);
      }
      let owner: LockOwner | null = null;
      try { owner = parseOwner(readFileSync(path, 'utf8')); } catch { /* unreadable: treat as stale */ }
      if (owner && ownerAlive(owner) && (owner.pid !== process.pid || held.has(dir))) {
        throw new Error(`run folder ${dir} is in use by another training (pid ${owner.pid}); wait for it to finish, or delete ${path} if that process is gone`);
      }
      unlinkSync(path); // stale: its process is gone (or the pid now belongs to another process)
    }
  }
  throw new Error(`run folder ${dir}: could not take ${path}`);
}
