// PNG grids of images in [-1, 1] (NHWC), and PNG/JPEG decoding for image folders.
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import type { ImageBatch } from '../tokenizer/patchTokenizer.js';
import { atomicWriteFile } from './atomicWrite.js';

/** Lays `images` out in a grid (`cols` per row, 2-pixel gutters) as RGBA bytes. */
export function gridRgba(images: ImageBatch, cols: number, gutter = 2, scale = 1): { width: number; height: number; rgba: Uint8Array } {
  const { count, height: H, width: W, channels: C, data } = images;
  const rows = Math.ceil(count / cols);
  const cw = W * scale, ch = H * scale;
  const width = cols * cw + (cols + 1) * gutter, height = rows * ch + (rows + 1) * gutter;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
  for (let n = 0; n < count; n++) {
    const ox = gutter + (n % cols) * (cw + gutter), oy = gutter + Math.floor(n / cols) * (ch + gutter);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const src = ((n * H + Math.floor(y / scale)) * W + Math.floor(x / scale)) * C;
        const dst = ((oy + y) * width + ox + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = data[src + (C === 1 ? 0 : c)]!;
          rgba[dst + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
        }
      }
    }
  }
  return { width, height, rgba };
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}

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
