// A patch discriminator for the tokenizer (VQGAN / LDM KL-f8's adversarial term, scaled to these image sizes): a few
// convolutions, halving the resolution twice with space-to-depth, giving one real/fake logit per patch. Hinge losses:
// the discriminator pushes real logits above 1 and reconstructions' below -1; the autoencoder is rewarded for raising
// its reconstructions' logits. Off unless train.discWeight > 0 (old tokenizer runs and checkpoints are unchanged).
import * as tf from '@tensorflow/tfjs-core';
import { ParamStore } from '../model/params.js';
import { conv2dAuto } from '../model/conv.js';
import { spaceToDepth } from './klAutoencoder.js';

interface Conv { w: tf.Variable; b: tf.Variable }

const leaky = (x: tf.Tensor4D): tf.Tensor4D => tf.leakyRelu(x, 0.2) as tf.Tensor4D;

/** Patch discriminator: images [N, S, S, C] in [-1, 1] -> logits [N, S/4, S/4, 1]. */
export class PatchDiscriminator {
  readonly params: ParamStore;
  private readonly convs: Conv[] = [];

  constructor(readonly channels: number, readonly width: number, seed: number) {
    this.params = new ParamStore(seed);
    const conv = (name: string, i: number, o: number): Conv => ({
      w: this.params.create(`disc.${name}.w`, [3, 3, i, o], { kind: 'normal', std: Math.sqrt(2 / (9 * i)) }),
      b: this.params.create(`disc.${name}.b`, [o], { kind: 'zeros' }),
    });
    const W = width;
    this.convs.push(conv('in', channels, W), conv('down0', 4 * W, 2 * W), conv('down1', 8 * W, 4 * W), conv('out', 4 * W, 1));
  }

  private apply(c: Conv, x: tf.Tensor4D): tf.Tensor4D {
    return tf.add(conv2dAuto(x, c.w as tf.Tensor4D), c.b) as tf.Tensor4D;
  }

  /** One logit per S/4 × S/4 patch. */
  logits(x: tf.Tensor4D): tf.Tensor4D {
    const [cin, d0, d1, out] = this.convs as [Conv, Conv, Conv, Conv];
    let h = leaky(this.apply(cin, x));
    h = leaky(this.apply(d0, spaceToDepth(h)));
    h = leaky(this.apply(d1, spaceToDepth(h)));
    return this.apply(out, h);
  }

  /** Hinge loss of the discriminator: mean relu(1 − D(real)) + mean relu(1 + D(fake)). */
  loss(real: tf.Tensor4D, fake: tf.Tensor4D): tf.Scalar {
    return tf.add(tf.mean(tf.relu(tf.sub(1, this.logits(real)))), tf.mean(tf.relu(tf.add(1, this.logits(fake))))) as tf.Scalar;
  }

  /** The autoencoder's adversarial loss: −mean D(fake) (gradients flow into fake; the discriminator is not updated by it). */
  generatorLoss(fake: tf.Tensor4D): tf.Scalar {
    return tf.neg(tf.mean(this.logits(fake))) as tf.Scalar;
  }

  dispose(): void {
    this.params.dispose();
  }
}
