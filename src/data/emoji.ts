// `--data emoji`: Google's Noto colour emoji at 64×64 from the npm package emoji-datasource-google (images
// Apache-2.0). Each emoji.json entry with a Google image is one image, and so is each of its skin-tone
// variations; its category is its class (the 'Component' category — bare skin tones and hair parts — is left
// out). Transparent pixels are composited on the background colour; images are resized to the run's size.
// The package is 82 MB of mostly sprite sheets, so it is not a dependency: the loader names it when missing.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readJsonFile } from '../util/safeRead.js';
import { decodeFiles } from './imageDecode.js';
import { DEFAULT_BACKGROUND } from './imageFolder.js';
import type { ImageDataset } from './dataset.js';

export const EMOJI_PACKAGE = 'emoji-datasource-google';
const EXCLUDED = new Set(['Component']);

interface EmojiEntry { image: string; category: string; has_img_google?: boolean; sort_order?: number; skin_variations?: Record<string, { image: string; has_img_google?: boolean }> }

/** The package's folder, or a one-line error saying how to install it. */
export function emojiPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${EMOJI_PACKAGE}/package.json`));
  } catch {
    throw new Error(`--data emoji needs the npm package ${EMOJI_PACKAGE} (82 MB, not installed by default): npm install ${EMOJI_PACKAGE}@16`);
  }
}

/** The image files and their classes (categories in emoji.json's order of first appearance, by sort order). */
export function listEmoji(dir = emojiPackageDir()): { files: string[]; labels: number[]; classNames: string[] } {
  const entries = readJsonFile(join(dir, 'emoji.json'), 'emoji') as EmojiEntry[];
  if (!Array.isArray(entries)) throw new Error(`${join(dir, 'emoji.json')}: expected an array of emoji`);
  const sorted = [...entries].sort((a, b) => (a.sort_order ?? 0) - (b.sort_order ?? 0));
  const classNames: string[] = [], files: string[] = [], labels: number[] = [];
  for (const e of sorted) {
    if (EXCLUDED.has(e.category)) continue;
    let label = classNames.indexOf(e.category);
    for (const item of [e, ...Object.values(e.skin_variations ?? {})]) {
      if (!item.has_img_google) continue;
      if (label < 0) label = classNames.push(e.category) - 1;
      files.push(join(dir, 'img', 'google', '64', item.image));
      labels.push(label);
    }
  }
  return { files, labels, classNames };
}

/** Every emoji image as a labelled dataset (category = class). Unreadable files are skipped with a warning. */
export function loadEmoji(opts: { size: number; channels: 1 | 3; background?: readonly [number, number, number]; warn?: (m: string) => void; limit?: number }): ImageDataset {
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const listed = listEmoji();
  const files = opts.limit ? listed.files.slice(0, opts.limit) : listed.files;
  const target = { size: opts.size, channels: opts.channels, background: opts.background ?? DEFAULT_BACKGROUND };
  const d = decodeFiles(files, target); // a few thousand 64×64 PNGs: seconds on one thread
  const per = opts.size * opts.size * opts.channels;
  const keep = d.ok.flatMap((ok, i) => (ok ? [i] : []));
  d.ok.forEach((ok, i) => { if (!ok) warn(`warning: skipping '${files[i]}': ${d.errors[i]}`); });
  const data = new Float32Array(keep.length * per);
  keep.forEach((i, j) => { for (let k = 0; k < per; k++) data[j * per + k] = (d.pixels[i * per + k]! / 255) * 2 - 1; });
  return { data, count: keep.length, height: opts.size, width: opts.size, channels: opts.channels,
    labels: Int32Array.from(keep.map((i) => listed.labels[i]!)), classNames: listed.classNames, source: 'emoji' };
}
