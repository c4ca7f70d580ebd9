// The tokenizer's perceptual and adversarial terms (issue #49): gradients checked against finite differences, both
// off by default (old configs and checkpoints unchanged), the perceptual net never the evaluation net, and a run with
// both on resuming exactly.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, tf } from './helpers.js';
import { FeatureNet, defaultFeatureNetConfig } from '../src/eval/featureNet.js';
import { perceptualDistance, checkPerceptualNet } from '../src/tokenizer/perceptualLoss.js';
import { PatchDiscriminator } from '../src/tokenizer/patchDiscriminator.js';
import { KLAutoencoder } from '../src/tokenizer/klAutoencoder.js';
import { TokenizerTrainer, defaultTokenizerTrainConfig, resolveTokenizerRunConfig } from '../src/tokenizer/trainTokenizer.js';
import { exportVariables } from '../src/train/weights.js';
import { Rng } from '../src/util/rng.js';
import type { ImageDataset } from '../src/data/dataset.js';

before(setup);
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-tokloss-'));
const S = 8, C = 3;

function images(n: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, S, S, C], -1, 1, 'float32', seed) as tf.Tensor4D;
}

/** A feature net with random weights (training it is not what is tested here). */
function randomNet(seed: number): FeatureNet {
  return new FeatureNet({ ...defaultFeatureNetConfig, imageSize: S, channels: C, numClasses: 3, seed });
}

/**
 * Directional derivative check: (f(p + h·d) − f(p − h·d)) / 2h against <∇f(p), d> for a random direction d, within
 * `tol` relative. The losses are piecewise smooth (ReLU, max-pool), so a step across a kink costs a few per cent:
 * the tolerance catches a wrong term, factor or sign, not rounding.
 */
function compare(name: string, analytic: number, numeric: number, tol: number): void {
  assert.ok(Math.abs(analytic) > 1e-4, `${name}: gradient along d is ${analytic}, too small to compare`);
  assert.ok(Math.abs(numeric - analytic) <= tol * Math.abs(analytic), `${name}: finite differences ${numeric} vs gradient ${analytic}`);
}

/** The check for an input tensor p of f. */
function checkInput(name: string, f: (p: tf.Tensor) => tf.Scalar, p0: tf.Tensor, tol = 0.05, h = 1e-3): void {
  const d = tf.randomNormal(p0.shape, 0, 1, 'float32', 7);
  const analytic = tf.sum(tf.mul(tf.grad(f)(p0), d)).dataSync()[0]!;
  compare(name, analytic, (f(tf.add(p0, tf.mul(d, h))).dataSync()[0]! - f(tf.sub(p0, tf.mul(d, h))).dataSync()[0]!) / (2 * h), tol);
}

/** The check for a variable w that loss() reads (its gradient by tf.variableGrads, its differences by assigning). */
function checkVariable(name: string, loss: () => tf.Scalar, w: tf.Variable, tol = 0.05, h = 1e-3): void {
  const w0 = tf.clone(w), d = tf.randomNormal(w.shape, 0, 1, 'float32', 8);
  const g = tf.variableGrads(loss, [w]).grads[w.name]!;
  const analytic = tf.sum(tf.mul(g, d)).dataSync()[0]!;
  w.assign(tf.add(w0, tf.mul(d, h)));
  const plus = loss().dataSync()[0]!;
  w.assign(tf.sub(w0, tf.mul(d, h)));
  const minus = loss().dataSync()[0]!;
  w.assign(w0);
  compare(name, analytic, (plus - minus) / (2 * h), tol);
}

test('perceptual distance: zero for identical images, positive otherwise, gradient matches finite differences', () => {
  const net = randomNet(1), x = images(2, 1), y = images(2, 2);
  assert.equal(perceptualDistance(net, x, x).dataSync()[0], 0);
  const d = perceptualDistance(net, y, x).dataSync()[0]!;
  assert.ok(d > 0.01 && d <= 8, `distance ${d} (each of two layers is in [0, 4])`);
  checkInput('perceptual wrt the reconstruction', (p) => perceptualDistance(net, p as tf.Tensor4D, x), y);
  net.dispose();
});

test('patch discriminator: one logit per 4x4 patch, hinge losses by their formulas, gradients match finite differences', () => {
  const disc = new PatchDiscriminator(C, 4, 3), real = images(2, 3), fake = images(2, 4);
  assert.deepEqual(disc.logits(real).shape, [2, S / 4, S / 4, 1]);
  const lr = disc.logits(real).dataSync(), lf = disc.logits(fake).dataSync();
  const mean = (a: ArrayLike<number>, f: (v: number) => number) => Array.from(a).reduce((s, v) => s + f(v), 0) / a.length;
  const hinge = mean(lr, (v) => Math.max(0, 1 - v)) + mean(lf, (v) => Math.max(0, 1 + v));
  assert.ok(Math.abs(disc.loss(real, fake).dataSync()[0]! - hinge) < 1e-6);
  assert.ok(Math.abs(disc.generatorLoss(fake).dataSync()[0]! + mean(lf, (v) => v)) < 1e-6);
  // The autoencoder's adversarial gradient flows into the fake images …
  checkInput('adversarial wrt the reconstruction', (p) => disc.generatorLoss(p as tf.Tensor4D), fake);
  // … and both losses into the discriminator's weights: its output layer (the hinge's kinks only), and its first
  // convolution through every layer (a small step: this tiny net has many leaky-ReLU inputs near their kink).
  checkVariable('discriminator loss wrt disc.out.w', () => disc.loss(real, fake), disc.params.vars.get('disc.out.w')!, 0.01);
  checkVariable('adversarial loss wrt disc.in.w', () => disc.generatorLoss(fake), disc.params.vars.get('disc.in.w')!, 0.01, 1e-4);
  disc.dispose();
});

test('the whole tokenizer loss with both terms: gradient in a decoder weight matches finite differences', () => {
  const ae = new KLAutoencoder({ imageSize: S, channels: C, factor: 4, latentChannels: 2, width: 6, decoderWidth: 10 });
  const net = randomNet(2), disc = new PatchDiscriminator(C, 4, 5), x = images(2, 5);
  const terms = [{ weight: 0.5, f: (y: tf.Tensor4D, x0: tf.Tensor4D) => perceptualDistance(net, y, x0) }, { weight: 0.1, f: (y: tf.Tensor4D) => disc.generatorLoss(y) }];
  const w = ae.params.vars.get('dec.up0.a.w')!;
  assert.deepEqual(w.shape, [3, 3, 10, 10], 'decoderWidth sets the decoder\'s hidden channels');
  // The same RNG seed for every evaluation: the same posterior sample, so the loss is a deterministic function of w.
  checkVariable('tokenizer loss wrt dec.up0.a.w', () => ae.loss(x, new Rng(9), { recon: 'l2', klWeight: 1e-3, terms }).total, w);
  const r = ae.loss(x, new Rng(9), { recon: 'l2', klWeight: 1e-3, terms });
  const expected = r.recon.dataSync()[0]! + 1e-3 * r.kl.dataSync()[0]! + 0.5 * r.terms[0]!.dataSync()[0]! + 0.1 * r.terms[1]!.dataSync()[0]!;
  assert.ok(Math.abs(r.total.dataSync()[0]! - expected) < 1e-5, 'total = recon + kl + weighted terms');
  ae.dispose(); net.dispose(); disc.dispose();
});

test('both terms are off by default; a config without the new fields resolves as before; the evaluation net is refused as the perceptual net', () => {
  assert.equal(defaultTokenizerTrainConfig.perceptualWeight, 0);
  assert.equal(defaultTokenizerTrainConfig.discWeight, 0);
  // An old run's train section (before discWeight/discStart/discWidth existed) still resolves.
  const old = resolveTokenizerRunConfig({ tokenizer: { factor: 4, latentChannels: 4, width: 16 }, train: { steps: 10, batchSize: 4, klWeight: 1e-2, perceptualWeight: 0 } });
  assert.equal(old.train.discWeight, 0);
  assert.equal(old.tokenizer.decoderWidth, undefined);
  assert.throws(() => resolveTokenizerRunConfig({ train: { discWeight: -1 } }), /train\.discWeight must be non-negative/);
  assert.throws(() => resolveTokenizerRunConfig({ train: { discStart: 1.5 } }), /train\.discStart must be a non-negative integer/);
  assert.throws(() => resolveTokenizerRunConfig({ tokenizer: { decoderWidth: 0 } }), /tokenizer\.decoderWidth must be a positive integer/);
  assert.throws(() => checkPerceptualNet({ hash: 'abc', dir: 'p' }, { hash: 'abc', dir: 'e' }), /perceptual net p is the evaluation feature net \(e/);
  checkPerceptualNet({ hash: 'abc', dir: 'p' }, { hash: 'abd', dir: 'e' });
});

test('a tokenizer run with the perceptual and adversarial terms resumes exactly and saves its discriminator', () => {
  const count = 16, per = S * S * C, data: ImageDataset = {
    data: images(count, 11).dataSync() as Float32Array, count, height: S, width: S, channels: C,
    labels: new Int32Array(count), classNames: [],
  } as unknown as ImageDataset;
  const config = resolveTokenizerRunConfig({ data: { source: 'mnist', imageSize: S, channels: C }, tokenizer: { factor: 4, latentChannels: 2, width: 6 },
    train: { steps: 4, batchSize: 4, lr: 3e-3, warmupSteps: 1, statsImages: 8, checkpointEvery: 1000, perceptualWeight: 0.5, discWeight: 0.1, discStart: 1, discWidth: 4 } });
  assert.equal(data.data.length, count * per);
  const perceptual = { net: randomNet(4), dir: 'test-perceptual' };
  const dir = tmp();
  const straight = TokenizerTrainer.create(config, join(dir, 'a'), { data, perceptual });
  const logs = [];
  for (let i = 0; i < 4; i++) logs.push(straight.trainStep());
  assert.equal(logs[0]!.adversarial, undefined, 'before discStart there is no adversarial term');
  assert.ok(logs[3]!.perceptual! > 0 && Number.isFinite(logs[3]!.adversarial!) && Number.isFinite(logs[3]!.disc!), JSON.stringify(logs[3]));
  const first = TokenizerTrainer.create(config, join(dir, 'b'), { data, perceptual });
  first.trainStep(); first.trainStep();
  const ck = first.saveCheckpoint();
  assert.ok(existsSync(join(ck, 'discriminator.safetensors')) && existsSync(join(ck, 'discriminatorOptimizer.safetensors')), readdirSync(ck).join(', '));
  first.dispose();
  const resumed = TokenizerTrainer.resume(join(dir, 'b'), { data, perceptual });
  resumed.trainStep(); resumed.trainStep();
  const w1 = exportVariables(straight.ae.params.vars), w2 = exportVariables(resumed.ae.params.vars);
  for (const k of Object.keys(w1)) assert.deepEqual(Array.from(w2[k]!.data), Array.from(w1[k]!.data), k);
  straight.dispose(); resumed.dispose();
  // Defaults: no discriminator built or saved.
  const plain = TokenizerTrainer.create(resolveTokenizerRunConfig({ data: { source: 'mnist', imageSize: S, channels: C }, tokenizer: { factor: 4, latentChannels: 2, width: 6 },
    train: { steps: 1, batchSize: 4, statsImages: 8 } }), join(dir, 'c'), { data });
  plain.trainStep();
  const ck2 = plain.saveCheckpoint();
  assert.ok(!existsSync(join(ck2, 'discriminator.safetensors')));
  plain.dispose();
  perceptual.net.dispose();
});
