// Writes a file so that readers see either the old content or the whole new content, never a part:
// write to a temporary file in the same folder, fsync it, rename over the target, fsync the folder.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** An fs error as one line naming the path and what went wrong (ENOSPC, EROFS, … in words). */
export class WriteError extends Error {
  constructor(readonly path: string, readonly code: string | undefined, readonly detail: string) {
    super(`cannot write ${path}: ${detail}`);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device', EROFS: 'read-only file system', EACCES: 'permission denied', EPERM: 'operation not permitted',
  EISDIR: 'it is a directory', ENOTDIR: 'a parent of it is not a directory', EDQUOT: 'disk quota exceeded', EEXIST: 'it already exists',
};

export function describeFsError(path: string, e: unknown): WriteError {
  if (e instanceof WriteError) return e;
  const err = e as NodeJS.ErrnoException;
  return new WriteError(path, err.code, (err.code && REASONS[err.code]) ? `${REASONS[err.code]} (${err.code})` : err.code ?? err.message);
}

/** Test hook (test/diskFull.test.ts): a write whose target path contains NESTAR_TEST_DISK_FULL fails with
 * ENOSPC after half its bytes reached the temporary file, as a disk filling up mid-write would. An env
 * variable, not a function, so the CLI in a child process can be tested the same way. */
function diskFullFor(path: string): boolean {
  const at = process.env.NESTAR_TEST_DISK_FULL;
  return !!at && path.includes(at);
}

export function atomicWriteFile(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw describeFsError(path, e);
  }
  try {
    let off = 0;
    if (diskFullFor(path)) {
      writeSync(fd, bytes, 0, bytes.length >> 1);
      throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
    }
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw describeFsError(path, e);
  }
  try {
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch { /* some filesystems cannot fsync a directory */ }
}
