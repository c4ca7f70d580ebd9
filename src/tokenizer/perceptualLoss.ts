// The tokenizer's perceptual term (LPIPS-style, without learned layer weights): the squared distance between the
// channel-normalised convolution activations of the reconstruction and of the original, in a classifier trained here
// on the training split. It must never be the evaluation feature net: a tokenizer trained to match the very features
// FD is computed in would score well by construction (checkPerceptualNet refuses it).
import * as tf from '@tensorflow/tfjs-core';
import type { FeatureNet } from '../eval/featureNet.js';

/** Each position's channel vector scaled to unit length (LPIPS's normalisation; eps keeps zero vectors at zero). */
function unitChannels(a: tf.Tensor4D): tf.Tensor4D {
  return tf.div(a, tf.add(tf.sqrt(tf.sum(tf.square(a), 3, true)), 1e-6)) as tf.Tensor4D;
}

/**
 * Perceptual distance of y from x, mean over the batch: for each of the net's two conv layers, the mean over
 * positions of the squared difference of unit channel vectors (in [0, 4]), summed over the layers. Zero when y = x.
 */
export function perceptualDistance(net: FeatureNet, y: tf.Tensor4D, x: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const ay = net.convActivations(y), ax = net.convActivations(x);
    let total = tf.scalar(0);
    for (let l = 0; l < ay.length; l++) {
      const d = tf.sum(tf.square(tf.sub(unitChannels(ay[l]!), unitChannels(ax[l]!))), 3);
      total = tf.add(total, tf.mean(d)) as tf.Scalar;
    }
    return total;
  });
}

/** Refuses a perceptual net whose weights are the evaluation net's (same hash), naming both folders. */
export function checkPerceptualNet(perceptual: { hash: string; dir: string }, evaluation: { hash: string; dir: string } | undefined): void {
  if (evaluation && perceptual.hash === evaluation.hash) {
    throw new Error(`the perceptual net ${perceptual.dir} is the evaluation feature net (${evaluation.dir}, sha256 ${evaluation.hash.slice(0, 12)}…): ` +
      'a tokenizer trained on the features FD is measured in would score well by construction; train a separate net ' +
      '(nestar train-features --seed 1 --out DIR) and pass it with --perceptual-net DIR');
  }
}
