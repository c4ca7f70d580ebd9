// PNG grids of images in [-1, 1] (NHWC), and PNG/JPEG decoding for image folders.
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { ImageBatch } from './imageBatch.js';
import { atomicWriteFile } from './atomicWrite.js';
import { gridRgba } from './imageGrid.js';

export { gridRgba } from './imageGrid.js';

/** RGBA bytes as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}

/** Writes `images` as one PNG grid (`cols` per row), atomically. */
export function writeImageGrid(path: string, images: ImageBatch, cols: number, scale = 2): void {
  const g = gridRgba(images, cols, 2, scale);
  atomicWriteFile(path, encodePng(g.width, g.height, g.rgba));
}

/** The most pixels an image file may declare: checked from the header before anything is inflated. */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Decodes PNG or JPEG bytes to RGBA; throws a plain Error saying what is wrong when the bytes are neither or are corrupt. */
export function decodeImage(bytes: Buffer): { width: number; height: number; rgba: Uint8Array } {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) {
    // IHDR is the first chunk: width and height at bytes 16..23. A decompression bomb (a few hundred KB
    // declaring 32000x32000) is refused here, before pngjs allocates and inflates it.
    if (bytes.length < 24 || bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('truncated or corrupt PNG (no IHDR header)');
    const w = bytes.readUInt32BE(16), h = bytes.readUInt32BE(20);
    if (w * h > MAX_IMAGE_PIXELS) throw new Error(`PNG declares ${w}x${h} pixels, over the limit of ${MAX_IMAGE_PIXELS / 1e6} megapixels`);
    let p: PNG;
    try {
      p = PNG.sync.read(bytes);
    } catch (e) {
      throw new Error(`truncated or corrupt PNG (${(e as Error).message.replace('waitng', 'waiting')})`);
    }
    return { width: p.width, height: p.height, rgba: new Uint8Array(p.data) };
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    try {
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
      return { width: j.width, height: j.height, rgba: j.data };
    } catch (e) {
      throw new Error(`truncated, corrupt or oversized JPEG (${(e as Error).message})`);
    }
  }
  throw new Error('not a PNG or JPEG file');
}
