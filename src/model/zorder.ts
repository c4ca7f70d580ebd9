// Z-order (Morton) token order and the nested module plan (method.md §2).
// Index bit 2b is column bit b, bit 2b+1 is row bit b, so the first 4^j tokens are always the
// top-left 2^j x 2^j square and every patch of a module is a contiguous, congruent block.

/** Morton index -> [row, col] on a side x side grid (side a power of 2). */
export function mortonToRowCol(index: number): [number, number] {
  let row = 0, col = 0;
  for (let b = 0; index >> (2 * b); b++) {
    col |= ((index >> (2 * b)) & 1) << b;
    row |= ((index >> (2 * b + 1)) & 1) << b;
  }
  return [row, col];
}

/** Morton (Z-order) index of grid cell (row, col). */
export function rowColToMorton(row: number, col: number): number {
  let idx = 0;
  for (let b = 0; (row >> b) || (col >> b); b++) {
    idx |= ((col >> b) & 1) << (2 * b);
    idx |= ((row >> b) & 1) << (2 * b + 1);
  }
  return idx;
}

/** For each Morton index i < side*side, the raster index row*side+col. */
export function mortonToRaster(side: number): Int32Array {
  const m = new Int32Array(side * side);
  for (let i = 0; i < m.length; i++) {
    const [r, c] = mortonToRowCol(i);
    m[i] = r * side + c;
  }
  return m;
}

/** One module's share of the sequence. */
export interface ModulePlan {
  /** 1-based module number. */
  m: number;
  /** Tokens per generated patch (block size P). */
  patch: number;
  /** Sequential steps (patches generated one after another). */
  steps: number;
  /** Tokens given to the backbone as input during training (the prefix it conditions on). */
  inputTokens: number;
  /** Morton range [start, end) of the tokens this module generates. */
  start: number;
  end: number;
}

/**
 * Module 1 makes n1 tokens one at a time (patch 1, its output at the condition token predicts token 0).
 * Module m > 1 treats the first P = n1*k^(m-2) tokens as its first patch and makes patches 2..k.
 */
export function modulePlan(numTokens: number, k: number, n1: number): ModulePlan[] {
  const plans: ModulePlan[] = [{ m: 1, patch: 1, steps: n1, inputTokens: n1 - 1, start: 0, end: n1 }];
  let have = n1;
  while (have < numTokens) {
    plans.push({ m: plans.length + 1, patch: have, steps: k - 1, inputTokens: (k - 1) * have, start: have, end: have * k });
    have *= k;
  }
  return plans;
}

/** Sequential backbone calls of the whole sampler: n1 + (M-1)(k-1). */
export function sequentialCalls(plans: ModulePlan[]): number {
  return plans.reduce((s, p) => s + p.steps, 0);
}
