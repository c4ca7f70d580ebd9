// Reading files nestar did not write itself: only regular files (a symlink to /dev/zero or a FIFO would
// otherwise be read until memory runs out), and never more than the format allows.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const MiB = 2 ** 20;
/** Sane upper bounds of what nestar reads, named in the errors. */
export const READ_LIMITS = { json: 64 * MiB, safetensors: 2047 * MiB, image: 64 * MiB } as const;

export class FileReadError extends Error {}

/** The bytes of a regular file of at most maxBytes; a clear error naming the file otherwise. */
export function readRegularFile(path: string, maxBytes: number, what = 'file'): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'does not exist (or is a dangling symlink)' : err.code === 'ELOOP' ? 'is a symlink loop'
      : err.code === 'EACCES' ? 'is not readable (permission denied)' : err.code === 'EISDIR' ? 'is a directory' : `cannot be opened (${err.code ?? err.message})`;
    throw new FileReadError(`${what} ${path} ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileReadError(`${what} ${path} is not a regular file (a device, FIFO, socket or directory); refusing to read it`);
    if (st.size > maxBytes) throw new FileReadError(`${what} ${path} is ${(st.size / MiB).toFixed(1)} MiB, over the ${(maxBytes / MiB).toFixed(0)} MiB this format allows`);
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === st.size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** A JSON file read with readRegularFile; the error names the file and says what is wrong. */
export function readJsonFile<T = unknown>(path: string, what = 'file'): T {
  const text = readRegularFile(path, READ_LIMITS.json, what).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new FileReadError(`${what} ${path} is not valid JSON (${(e as Error).message}${text.length === 0 ? '; the file is empty' : ''})`);
  }
}
