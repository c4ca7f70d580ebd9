// Fixed 2-D sin-cos position features; they initialise the learned position tables of backbones and heads.

/** 2-D sin-cos features of a grid position (MAE-style), used to initialise the learned position tables. */
export function sinCos2d(pos: [number, number] | null, dim: number, grid: number): Float32Array {
  const out = new Float32Array(dim);
  if (!pos) return out;
  const quarter = Math.floor(dim / 4);
  for (let a = 0; a < 2; a++) {
    for (let i = 0; i < quarter; i++) {
      const w = (pos[a]! / grid) * Math.PI * Math.pow(grid, i / Math.max(1, quarter - 1));
      out[a * 2 * quarter + i] = Math.sin(w);
      out[a * 2 * quarter + quarter + i] = Math.cos(w);
    }
  }
  return out;
}
