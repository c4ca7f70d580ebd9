// One training per run folder: a `.lock` file holding the owner's pid, created exclusively. A lock
// whose process is gone (killed, crashed) is stale and taken over, so a SIGKILL never blocks a resume.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireRunLock(runDir: string): () => void {
  const dir = resolve(runDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(dir);
      return () => {
        if (!held.delete(dir)) return;
        try { unlinkSync(path); } catch { /* already gone */ }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`run folder ${dir}: cannot create ${path}: ${(e as Error).message}`);
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && alive(pid) && (pid !== process.pid || held.has(dir))) {
        throw new Error(`run folder ${dir} is in use by another training (pid ${pid}); wait for it to finish, or delete ${path} if that process is gone`);
      }
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`run folder ${dir}: could not take ${path}`);
}
