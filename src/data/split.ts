// The held-out split of datasets that do not come with one (image folders, emoji): per class, a seeded
// shuffle puts round(fraction × count) images in the held-out part (none for a class of one image), so the
// split is deterministic, disjoint and stratified. Unlabelled images (label -1) form one stratum.
import { Rng, permutation } from '../util/rng.js';

export interface Split { train: Int32Array; heldOut: Int32Array }

/** Indices of the training and held-out images, each ascending. */
export function holdoutSplit(labels: Int32Array, fraction: number, seed: number): Split {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`held-out fraction must be in [0, 1), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => { const c = byClass.get(l); if (c) c.push(i); else byClass.set(l, [i]); });
  const held = new Uint8Array(labels.length);
  for (const [label, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const take = idx.length < 2 ? 0 : Math.round(fraction * idx.length);
    // One stream per class, so adding images of one class never moves another class's split.
    const order = permutation(idx.length, new Rng(seed * 1000003 + label + 1));
    for (let j = 0; j < take; j++) held[idx[order[j]!]!] = 1;
  }
  const train: number[] = [], heldOut: number[] = [];
  held.forEach((h, i) => (h ? heldOut : train).push(i));
  return { train: Int32Array.from(train), heldOut: Int32Array.from(heldOut) };
}
