import type { ImageBatch } from '../util/imageBatch.js';

/** A labelled image set held in memory. labels[i] = -1 for unlabelled images. */
export interface ImageDataset extends ImageBatch {
  labels: Int32Array;
  classNames: string[];
  source: string;
}

/** m indices evenly spaced over 0..n-1 (floor(i·n/m)): on a class-ordered list, every class keeps its share. */
export function evenlySpaced(n: number, m: number): Int32Array {
  if (!Number.isInteger(m) || m < 0 || m > n) throw new Error(`evenlySpaced: m must be an integer in 0..${n}, got ${m}`);
  return Int32Array.from({ length: m }, (_, i) => Math.floor((i * n) / m));
}

/** A subset of a dataset by indices (copies). */
export function subset(ds: ImageDataset, indices: ArrayLike<number>): ImageDataset {
  const per = ds.height * ds.width * ds.channels;
  const data = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    data.set(ds.data.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j]!;
  }
  return { ...ds, data, labels, count: indices.length };
}
