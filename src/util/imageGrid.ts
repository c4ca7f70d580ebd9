// Images in [-1, 1] (NHWC) laid out as one RGBA grid: no Node APIs, so the browser entry and canvases use it too.
import type { ImageBatch } from './imageBatch.js';

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
