// The one image type every part passes around (datasets, tokenizers, PNG writers, evaluation): its own module so
// that none of them imports another just for the type.

/** A batch of images, NHWC values in [-1, 1]. */
export interface ImageBatch {
  /** NHWC, values in [-1, 1]. */
  data: Float32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}
