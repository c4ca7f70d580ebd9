// A folder of PNG/JPEG images: one sub-folder per class (class = folder name), or images directly in
// the folder (unlabelled). Images are centre-cropped to a square, resized (box filter) to `size` and
// stored as 8-bit values. Decoding uses both cores (the main thread and one worker thread each take half
// the files), and the result is cached in <folder>/.nestar-cache, keyed by the files' names, sizes and
// modification times, so later runs skip decoding altogether.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { readRegularFile, READ_LIMITS } from '../util/safeRead.js';
import { availableParallelism } from 'node:os';
import { extname, join, relative } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { decodeFiles, type DecodedFiles, type DecodeTarget } from './imageDecode.js';
import type { ImageDataset } from './dataset.js';

export { cropResize, type DecodeTarget } from './imageDecode.js';

/** What transparent pixels are composited on unless a run says otherwise (data.background): white, as a page shows them. */
export const DEFAULT_BACKGROUND: readonly [number, number, number] = [255, 255, 255];

const EXTS = new Set(['.png', '.jpg', '.jpeg']);
const CACHE_MAGIC = 'NESTARIMG1';

export interface ImageFolderOptions {
  size: number;
  channels: 1 | 3;
  /** RGB that transparent pixels are composited on (default DEFAULT_BACKGROUND). */
  background?: readonly [number, number, number];
  warn?: (msg: string) => void;
  /** Read and write the pre-processing cache (default true). */
  cache?: boolean;
  /** Decode with a worker thread as well as the main thread when there are at least this many files (default 128; 0 = never). */
  parallelFrom?: number;
  /** Filled in with how the load went: from the cache, or decoded on how many threads (tests and diagnostics). */
  stats?: { fromCache?: boolean; decodeThreads?: number };
}

interface Listed { files: Array<{ path: string; label: number }>; classNames: string[] }

/** stat that follows symlinks and answers null for a dangling one or a loop (those are skipped, not fatal). */
function statOrNull(p: string): ReturnType<typeof statSync> | null {
  try { return statSync(p); } catch { return null; }
}

function listFolder(dir: string, warn: (m: string) => void): Listed {
  const st = statOrNull(dir);
  if (!st) throw new Error(`image folder '${dir}' does not exist`);
  if (!st.isDirectory()) throw new Error(`'${dir}' is a file, not a folder: --data takes a folder of PNG/JPEG images (one sub-folder per class, or images directly in it)`);
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (e) {
    throw new Error(`image folder '${dir}' cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const isImageName = (f: string) => !f.startsWith('.') && EXTS.has(extname(f).toLowerCase());
  const subdirs = entries.filter((e) => !e.startsWith('.') && !isImageName(e) && statOrNull(join(dir, e))?.isDirectory());
  const files: Array<{ path: string; label: number }> = [];
  // An entry with an image name that is not a readable regular file (a dangling symlink, a loop, a folder
  // called x.png) is kept in the list: decoding skips it with a warning naming it, like any unreadable file.
  if (subdirs.length > 0) {
    subdirs.forEach((d, label) => {
      let inner: string[] = [];
      try { inner = readdirSync(join(dir, d)).sort(); } catch (e) { warn(`warning: skipping class folder '${join(dir, d)}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
      for (const f of inner) if (isImageName(f)) files.push({ path: join(dir, d, f), label });
    });
    const top = entries.filter(isImageName);
    if (top.length > 0) warn(`warning: ${top.length} image(s) at the top level of '${dir}' (e.g. ${top[0]}) are ignored: the folder has class sub-folders (${subdirs.slice(0, 3).join(', ')}${subdirs.length > 3 ? ', …' : ''}), so only their images are used`);
  } else {
    for (const f of entries) if (isImageName(f)) files.push({ path: join(dir, f), label: -1 });
  }
  if (files.length === 0) throw new Error(`image folder '${dir}' contains no PNG or JPEG images (files ending .png, .jpg or .jpeg, directly or in class sub-folders)`);
  return { files, classNames: subdirs };
}

/** Decodes `paths` on two threads at once, synchronously: a worker takes the second half while this thread does the first. */
function decodeParallel(paths: string[], target: DecodeTarget, warn: (m: string) => void, stats?: ImageFolderOptions['stats']): DecodedFiles {
  const half = Math.ceil(paths.length / 2);
  const { port1, port2 } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(8)); // [0]: 1 = started, 2 = failed to start; [1]: 1 = done
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./imageDecodeWorker${fromSource ? '.ts' : '.js'}`, import.meta.url).href;
  // Run from TypeScript sources (tsx), the worker must register tsx itself; a failure to start is signalled, not thrown.
  const boot = `const { workerData } = require('node:worker_threads');
    const fail = () => { Atomics.store(workerData.signal, 0, 2); Atomics.notify(workerData.signal, 0); };
    (${fromSource ? `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); })` : `import(${JSON.stringify(url)})`}).catch(fail);`;
  let worker: Worker | null = null;
  try {
    worker = new Worker(boot, { eval: true, workerData: { paths: paths.slice(half), target, port: port2, signal }, transferList: [port2] });
    worker.on('error', () => { /* reported through the signal; the main thread decodes that half itself */ });
  } catch (e) {
    warn(`warning: no decode worker (${(e as Error).message}); decoding on one thread`);
    return decodeFiles(paths, target);
  }
  const mine = decodeFiles(paths.slice(0, half), target);
  // The main thread's event loop is blocked here, so the worker reports through shared memory and a port read synchronously.
  if (Atomics.load(signal, 0) === 0) Atomics.wait(signal, 0, 0, 10_000);
  let theirs: DecodedFiles | undefined;
  if (Atomics.load(signal, 0) === 1) {
    while (Atomics.load(signal, 1) === 0) Atomics.wait(signal, 1, 0, 1000);
    if (Atomics.load(signal, 1) === 1) theirs = receiveMessageOnPort(port1)?.message as DecodedFiles | undefined;
  }
  void worker.terminate();
  port1.close();
  if (!theirs) {
    warn('warning: the decode worker did not start or failed; decoding its half on this thread');
    theirs = decodeFiles(paths.slice(half), target);
  } else if (stats) stats.decodeThreads = 2;
  const per = target.size * target.size * target.channels, pixels = new Uint8Array(paths.length * per);
  pixels.set(mine.pixels, 0);
  pixels.set(new Uint8Array(theirs.pixels.buffer, theirs.pixels.byteOffset, theirs.pixels.length), half * per);
  return { pixels, ok: [...mine.ok, ...theirs.ok], errors: [...mine.errors, ...theirs.errors] };
}

function cacheKey(dir: string, listed: Listed, target: DecodeTarget): string {
  // The background is in the key: caches written before transparency was composited get a new name and are ignored.
  const h = createHash('sha256').update(`${CACHE_MAGIC} ${target.size} ${target.channels} bg ${target.background.join(',')}\n`);
  for (const f of listed.files) {
    const st = statOrNull(f.path);
    h.update(`${relative(dir, f.path)}\t${f.label}\t${st?.size ?? -1}\t${st?.mtimeMs ?? -1}\n`);
  }
  return h.digest('hex').slice(0, 20);
}

interface CacheHeader { count: number; labels: number[]; skipped: Array<{ path: string; reason: string }> }

/** The cached decode, or null (then the folder is decoded again and the cache rewritten) when it is absent or does not validate. */
function readCache(path: string, per: number, files: number, warn: (m: string) => void): { header: CacheHeader; pixels: Uint8Array } | null {
  if (!existsSync(path)) return null;
  try {
    const buf = readRegularFile(path, READ_LIMITS.safetensors, 'cache');
    if (buf.length < 14 || buf.toString('latin1', 0, 10) !== CACHE_MAGIC) throw new Error('wrong magic bytes');
    const hlen = buf.readUInt32LE(10);
    if (14 + hlen > buf.length) throw new Error('header runs past the end of the file');
    const header = JSON.parse(buf.toString('utf8', 14, 14 + hlen)) as CacheHeader;
    if (!header || !Number.isInteger(header.count) || header.count < 0 || header.count > files || !Array.isArray(header.labels)
      || header.labels.length !== header.count || !Array.isArray(header.skipped)) throw new Error('header fields do not validate');
    const pixels = new Uint8Array(buf.buffer, buf.byteOffset + 14 + hlen, buf.length - 14 - hlen);
    if (pixels.length !== header.count * per) throw new Error(`${pixels.length} pixel bytes for ${header.count} images`);
    return { header, pixels };
  } catch (e) {
    warn(`warning: the pre-processing cache ${path} is corrupt (${(e as Error).message}); decoding the folder again and rewriting it`);
    return null;
  }
}

function writeCache(path: string, header: CacheHeader, pixels: Uint8Array): void {
  const h = Buffer.from(JSON.stringify(header), 'utf8'), head = Buffer.alloc(14);
  head.write(CACHE_MAGIC, 0, 'latin1');
  head.writeUInt32LE(h.length, 10);
  atomicWriteFile(path, Buffer.concat([head, h, pixels]));
}

/** Every PNG/JPEG under `dir` (one subfolder per class, or none), resized and cached, as a dataset. */
export function loadImageFolder(dir: string, opts: ImageFolderOptions): ImageDataset {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const listed = listFolder(dir, warn);
  const { size, channels } = opts, per = size * size * channels;
  const target: DecodeTarget = { size, channels, background: opts.background ?? DEFAULT_BACKGROUND };
  const cachePath = join(dir, '.nestar-cache', `${size}x${size}x${channels}-${cacheKey(dir, listed, target)}.bin`);
  let header: CacheHeader, pixels: Uint8Array;
  const cached = opts.cache === false ? null : readCache(cachePath, per, listed.files.length, warn);
  if (opts.stats) { opts.stats.fromCache = !!cached; opts.stats.decodeThreads = cached ? 0 : 1; }
  if (cached) {
    ({ header, pixels } = cached);
  } else {
    const paths = listed.files.map((f) => f.path);
    const from = opts.parallelFrom ?? 128;
    const d = from > 0 && paths.length >= from && availableParallelism() > 1 ? decodeParallel(paths, target, warn, opts.stats) : decodeFiles(paths, target);
    const keep = d.ok.flatMap((ok, i) => (ok ? [i] : []));
    pixels = new Uint8Array(keep.length * per);
    keep.forEach((i, j) => pixels.set(d.pixels.subarray(i * per, (i + 1) * per), j * per));
    header = {
      count: keep.length, labels: keep.map((i) => listed.files[i]!.label),
      skipped: d.ok.flatMap((ok, i) => (ok ? [] : [{ path: listed.files[i]!.path, reason: d.errors[i]! }])),
    };
    if (opts.cache !== false && header.count > 0) {
      try {
        mkdirSync(join(dir, '.nestar-cache'), { recursive: true });
        writeCache(cachePath, header, pixels);
      } catch (e) {
        warn(`warning: could not write the pre-processing cache ${cachePath} (${(e as Error).message}); continuing without it`);
      }
    }
  }
  for (const s of header.skipped) warn(`warning: skipping '${s.path}': ${s.reason}`);
  if (header.count === 0) throw new Error(`image folder '${dir}': none of its ${listed.files.length} images could be read`);
  const data = new Float32Array(header.count * per);
  for (let i = 0; i < data.length; i++) data[i] = (pixels[i]! / 255) * 2 - 1;
  return { data, count: header.count, height: size, width: size, channels, labels: Int32Array.from(header.labels),
    classNames: listed.classNames, source: `folder:${dir}` };
}
