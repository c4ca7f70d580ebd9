// A folder of PNG/JPEG images: one sub-folder per class (class = folder name), or images directly in
// the folder (unlabelled). Images are centre-cropped to a square and resized (area average) to `size`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { decodeImage } from '../util/png.js';
import type { ImageDataset } from './dataset.js';

const EXTS = new Set(['.png', '.jpg', '.jpeg']);

export interface ImageFolderOptions { size: number; channels: 1 | 3; warn?: (msg: string) => void }

/** Centre crop to a square, then box-filter resize to size x size; values to [-1, 1]. */
export function cropResize(rgba: Uint8Array, w: number, h: number, size: number, channels: 1 | 3, out: Float32Array, offset: number): void {
  const side = Math.min(w, h), x0 = Math.floor((w - side) / 2), y0 = Math.floor((h - side) / 2);
  const step = side / size;
  for (let y = 0; y < size; y++) {
    const ya = y0 + Math.floor(y * step), yb = Math.max(ya + 1, y0 + Math.floor((y + 1) * step));
    for (let x = 0; x < size; x++) {
      const xa = x0 + Math.floor(x * step), xb = Math.max(xa + 1, x0 + Math.floor((x + 1) * step));
      const acc = [0, 0, 0];
      let n = 0;
      for (let yy = ya; yy < yb; yy++) {
        for (let xx = xa; xx < xb; xx++) {
          const p = (yy * w + xx) * 4;
          acc[0]! += rgba[p]!; acc[1]! += rgba[p + 1]!; acc[2]! += rgba[p + 2]!;
          n++;
        }
      }
      const o = offset + (y * size + x) * channels;
      if (channels === 1) out[o] = ((0.299 * acc[0]! + 0.587 * acc[1]! + 0.114 * acc[2]!) / n / 255) * 2 - 1;
      else for (let c = 0; c < 3; c++) out[o + c] = (acc[c]! / n / 255) * 2 - 1;
    }
  }
}

export function loadImageFolder(dir: string, opts: ImageFolderOptions): ImageDataset {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    throw new Error(`image folder '${dir}' does not exist or cannot be read`);
  }
  const subdirs = entries.filter((e) => statSync(join(dir, e)).isDirectory());
  const files: Array<{ path: string; label: number }> = [];
  const classNames = subdirs;
  if (subdirs.length > 0) {
    subdirs.forEach((d, label) => {
      for (const f of readdirSync(join(dir, d)).sort()) if (EXTS.has(extname(f).toLowerCase())) files.push({ path: join(dir, d, f), label });
    });
  } else {
    for (const f of entries) if (EXTS.has(extname(f).toLowerCase())) files.push({ path: join(dir, f), label: -1 });
  }
  if (files.length === 0) throw new Error(`image folder '${dir}' contains no PNG or JPEG images`);
  const per = opts.size * opts.size * opts.channels;
  const data = new Float32Array(files.length * per);
  const labels: number[] = [];
  let count = 0;
  for (const f of files) {
    try {
      const img = decodeImage(readFileSync(f.path));
      cropResize(img.rgba, img.width, img.height, opts.size, opts.channels, data, count * per);
      labels.push(f.label);
      count++;
    } catch (e) {
      warn(`warning: skipping '${f.path}': ${(e as Error).message}`);
    }
  }
  if (count === 0) throw new Error(`image folder '${dir}': none of its ${files.length} images could be read`);
  return { data: data.slice(0, count * per), count, height: opts.size, width: opts.size, channels: opts.channels,
    labels: Int32Array.from(labels), classNames: subdirs.length ? classNames : [], source: `folder:${dir}` };
}
