// Decoding one image file to the training resolution: transparency composited on the background colour,
// centre crop to a square, box-filter resize, and rounding to 8 bits (so the decoded, the cached and the
// worker-decoded paths give identical bytes).
import { readRegularFile, READ_LIMITS } from '../util/safeRead.js';
import { decodeImage } from '../util/png.js';

/** What images are decoded to: side, channels, and the RGB colour transparent pixels are composited on. */
export interface DecodeTarget { size: number; channels: 1 | 3; background: readonly [number, number, number] }

/**
 * Composites RGBA on `background` (alpha-weighted, so a transparent pixel's stored RGB never shows), crops the
 * centre square and box-filter resizes it to size×size×channels 8-bit values written at out[offset].
 */
export function cropResize(rgba: Uint8Array, w: number, h: number, target: DecodeTarget, out: Uint8Array, offset: number): void {
  const { size, channels } = target, [br, bg, bb] = target.background;
  const side = Math.min(w, h), x0 = Math.floor((w - side) / 2), y0 = Math.floor((h - side) / 2);
  const step = side / size;
  for (let y = 0; y < size; y++) {
    const ya = y0 + Math.floor(y * step), yb = Math.max(ya + 1, y0 + Math.floor((y + 1) * step));
    for (let x = 0; x < size; x++) {
      const xa = x0 + Math.floor(x * step), xb = Math.max(xa + 1, x0 + Math.floor((x + 1) * step));
      let r = 0, g = 0, b = 0, n = 0;
      for (let yy = ya; yy < yb; yy++) {
        for (let xx = xa; xx < xb; xx++) {
          const p = (yy * w + xx) * 4, a = rgba[p + 3]! / 255;
          r += a * rgba[p]! + (1 - a) * br; g += a * rgba[p + 1]! + (1 - a) * bg; b += a * rgba[p + 2]! + (1 - a) * bb;
          n++;
        }
      }
      const o = offset + (y * size + x) * channels;
      if (channels === 1) out[o] = Math.round((0.299 * r + 0.587 * g + 0.114 * b) / n);
      else { out[o] = Math.round(r / n); out[o + 1] = Math.round(g / n); out[o + 2] = Math.round(b / n); }
    }
  }
}

export interface DecodedFiles { pixels: Uint8Array; ok: boolean[]; errors: Array<string | null> }

/** Decodes files into consecutive slots of `per` bytes; a file that fails leaves its slot zero and says why. */
export function decodeFiles(paths: string[], target: DecodeTarget): DecodedFiles {
  const per = target.size * target.size * target.channels, pixels = new Uint8Array(paths.length * per);
  const ok: boolean[] = [], errors: Array<string | null> = [];
  paths.forEach((p, i) => {
    try {
      const img = decodeImage(readRegularFile(p, READ_LIMITS.image, 'image'));
      if (img.width < 1 || img.height < 1) throw new Error('empty image');
      cropResize(img.rgba, img.width, img.height, target, pixels, i * per);
      ok.push(true); errors.push(null);
    } catch (e) {
      ok.push(false); errors.push((e as Error).message);
    }
  });
  return { pixels, ok, errors };
}
