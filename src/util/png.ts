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

/** Decodes PNG or JPEG bytes to RGBA; throws a plain Error when the bytes are neither or are corrupt. */
export function decodeImage(bytes: Buffer): { width: number; height: number; rgba: Uint8Array } {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47) {
    const p = PNG.sync.read(bytes);
    return { width: p.width, height: p.height, rgba: new Uint8Array(p.data) };
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
    return { width: j.width, height: j.height, rgba: j.data };
  }
  throw new Error('not a PNG or JPEG file');
}
