// How NestAR's 1-D sequence maps onto the token grid (method.md §2). The paper fixes the factorisation
// (module 1 makes the first n1 tokens, module m the next patches), not this map. Data and canvases are
// always stored in Morton order; an order says which Morton index sequence position i is.
//  - 'zorder': position i is Morton index i, so module 1 draws the top-left corner and every patch is a
//    contiguous square block.
//  - 'interleaved': the Morton index with its base-4 digits reversed, so module 1 draws a coarse lattice
//    over the whole image and each later module refines it; patch a is patch 0 shifted by one offset (the
//    position pairing of next-patch prediction holds) and tokens made in one step are never neighbours.
import { mortonToRowCol } from './zorder.js';

export type TokenOrder = 'zorder' | 'interleaved';
export const TOKEN_ORDERS: readonly TokenOrder[] = ['zorder', 'interleaved'];

/** seqToMorton[i] = Morton index of sequence position i on a side×side grid (side a power of 2). */
export function sequenceToMorton(order: TokenOrder, side: number): Int32Array {
  const n = side * side, digits = Math.round(Math.log2(side));
  if (2 ** digits !== side) throw new Error(`token order: grid side ${side} is not a power of 2`);
  const map = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (order === 'zorder') { map[i] = i; continue; }
    let m = 0;
    for (let d = 0; d < digits; d++) m |= ((i >> (2 * d)) & 3) << (2 * (digits - 1 - d));
    map[i] = m;
  }
  return map;
}

/** [row, col] of every sequence position. */
export function sequencePositions(order: TokenOrder, side: number): Array<[number, number]> {
  return Array.from(sequenceToMorton(order, side), (m) => mortonToRowCol(m));
}

/** True when the map is the identity (no gathers needed). */
export const isIdentity = (map: Int32Array): boolean => map.every((m, i) => m === i);
