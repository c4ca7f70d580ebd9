// The one interface both flow-head kinds implement, so generators and samplers never care which they hold
// (method.md §3). A head maps noisy tokens y_t, a time t and per-token conditions z to velocities.
// Rows are grouped by a layout: every sample contributes the same run of rows, split into segments; a patch
// head lets the tokens of one segment (one patch, or one scale) attend to each other and draws one t per
// segment in training, a per-token head treats every row on its own.
import type * as tf from '@tensorflow/tfjs-core';

export type HeadKind = 'token' | 'patch';
export const HEAD_KINDS: readonly HeadKind[] = ['token', 'patch'];

/** One segment of a sample's rows: `length` consecutive tokens whose in-patch positions start at table slot `slot`. */
export interface HeadSegment { slot: number; length: number }

/** The rows one sample gives the head, in order (their total is the rows per sample). */
export interface HeadLayout { segments: HeadSegment[] }

export const layoutRows = (l: HeadLayout): number => l.segments.reduce((a, s) => a + s.length, 0);

/** One segment of `length` tokens starting at slot 0 (a patch of NestAR, a sampled scale seen alone). */
export const singleSegment = (length: number, slot = 0): HeadLayout => ({ segments: [{ slot, length }] });

export interface VelocityHead {
  readonly kind: HeadKind;
  readonly name: string;
  /**
   * y_ND (N = samples × rows of the layout, sample-major), t one value for all rows or one per row
   * (constant within a segment for a patch head), z_NC -> v_ND.
   */
  forward(y_ND: tf.Tensor2D, t: number | Float32Array, z_NC: tf.Tensor2D, layout: HeadLayout): tf.Tensor2D;
  /**
   * The velocity field of fixed conditions z_NC and layout, for an ODE solver: what does not depend on (y, t)
   * (the condition projection, in-patch positions, attention mask) is computed here once, and the time
   * embeddings of `times` (the solver's grid) in one batch; velocity(y, t) then equals forward(y, t, z, layout)
   * up to float rounding. dispose() frees what was computed here.
   */
  prepare(z_NC: tf.Tensor2D, layout: HeadLayout, times: ArrayLike<number>): PreparedVelocity;
}

/** A head bound to its conditions (VelocityHead.prepare). */
export interface PreparedVelocity {
  velocity(y_ND: tf.Tensor2D, t: number): tf.Tensor2D;
  dispose(): void;
}

/** Rows that share one t in training: a segment for a patch head, a single token for a per-token head. */
export function timeGroups(head: VelocityHead, layout: HeadLayout, rows: number): number[] {
  const per = layoutRows(layout);
  if (rows % per !== 0) throw new Error(`${head.name}: ${rows} rows do not split into samples of ${per} rows`);
  if (head.kind === 'token') return new Array(rows).fill(1);
  const out: number[] = [];
  for (let s = 0; s < rows / per; s++) for (const seg of layout.segments) out.push(seg.length);
  return out;
}

/** The plain binding of a head to its conditions, each step one forward pass (for heads with nothing to hoist). */
export const prepareByForward = (head: Pick<VelocityHead, 'forward'>, z_NC: tf.Tensor2D, layout: HeadLayout): PreparedVelocity =>
  ({ velocity: (y_ND, t) => head.forward(y_ND, t, z_NC, layout), dispose: () => {} });
