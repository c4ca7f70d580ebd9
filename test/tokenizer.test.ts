// The KL autoencoder tokenizer, latent-space training and image-folder datasets (issue #7).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { setup, tf } from './helpers.js';
import { KLAutoencoder, depthToSpace, spaceToDepth } from '../src/tokenizer/klAutoencoder.js';
import { TokenizerTrainer, loadLatentTokenizer, resolveTokenizerRunConfig } from '../src/tokenizer/trainTokenizer.js';
import { loadMnist } from '../src/data/mnist.js';
import { loadImageFolder } from '../src/data/imageFolder.js';
import { loadPipeline } from '../src/pipeline.js';
import { readTokenizerSource } from '../src/tokenizer/checkpointInfo.js';
import { exportVariables } from '../src/train/weights.js';
import { Rng } from '../src/util/rng.js';
import { spawnNestar } from './cliRun.js';

before(setup);
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-tok-'));
const cli = (...args: string[]) => spawnNestar(args);
const tinyAe = { factor: 4, latentChannels: 4, width: 16 };
const trainCfg = (steps: number) => resolveTokenizerRunConfig({ tokenizer: tinyAe, train: { steps, batchSize: 16, lr: 3e-3, warmupSteps: 5, statsImages: 64, checkpointEvery: 1000 } });

test('space-to-depth and depth-to-space are inverse; encoder/decoder shapes for factors 4 and 8; encoding is deterministic', () => {
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const s = spaceToDepth(x);
  assert.deepEqual(s.shape, [2, 4, 4, 12]);
  assert.deepEqual(Array.from(depthToSpace(s).dataSync()), Array.from(x.dataSync()));
  // Pixel (2i+a, 2j+b, c) goes to cell (i, j), channel a·2C + b·C + c.
  assert.equal(s.dataSync()[((0 * 4 + 1) * 4 + 2) * 12 + (1 * 6 + 0 * 3 + 2)], x.dataSync()[((0 * 8 + 3) * 8 + 4) * 3 + 2]);
  for (const factor of [4, 8]) {
    const ae = new KLAutoencoder({ imageSize: 32, channels: 1, factor, latentChannels: 6, width: 8 });
    const img = tf.randomUniform([3, 32, 32, 1], -1, 1, 'float32', 2) as tf.Tensor4D;
    const { mean, logvar } = ae.encode(img);
    assert.deepEqual(mean.shape, [3, 32 / factor, 32 / factor, 6]);
    assert.deepEqual(logvar.shape, mean.shape);
    assert.deepEqual(ae.decode(mean).shape, [3, 32, 32, 1]);
    assert.deepEqual(Array.from(ae.encode(img).mean.dataSync()), Array.from(mean.dataSync()), 'eval-mode encoding must be deterministic');
    ae.dispose();
  }
  assert.throws(() => new KLAutoencoder({ imageSize: 32, factor: 3 }), /tokenizer\.factor must be a power of 2/);
});

test('training on a tiny set: reconstruction error falls clearly, KL finite and positive, latent statistics stored and applied, round trip within bound', () => {
  const data = loadMnist({ split: 'train', limit: 64 });
  const dir = tmp();
  const t = TokenizerTrainer.create(trainCfg(300), dir, { data });
  const logs = Array.from({ length: 300 }, () => t.trainStep());
  const first = logs.slice(0, 5).reduce((a, l) => a + l.recon, 0) / 5, last = logs.slice(-5).reduce((a, l) => a + l.recon, 0) / 5;
  assert.ok(last < 0.5 * first, `reconstruction L1 went from ${first} to ${last}`);
  assert.ok(logs.every((l) => Number.isFinite(l.kl) && l.kl > 0), 'KL must be finite and positive');
  t.saveCheckpoint();
  const state = JSON.parse(readFileSync(join(dir, 'checkpoints', 'step-0000300', 'state.json'), 'utf8'));
  assert.equal(state.stats.mean.length, 4);
  assert.equal(state.stats.images, 64);
  t.dispose();
  // Stored statistics are applied: the tokens of the images they were measured on have mean 0 and std 1 per channel.
  const tok = loadLatentTokenizer(dir);
  assert.deepEqual(tok.stats, state.stats);
  const tokens = tok.encode(data);
  for (let c = 0; c < 4; c++) {
    let s = 0, q = 0, n = 0;
    for (let i = c; i < tokens.length; i += 4) { s += tokens[i]!; q += tokens[i]! ** 2; n++; }
    const mean = s / n, std = Math.sqrt(q / n - mean * mean);
    assert.ok(Math.abs(mean) < 1e-3 && Math.abs(std - 1) < 1e-3, `channel ${c}: mean ${mean}, std ${std}`);
  }
  assert.deepEqual(Array.from(tok.encode(data)), Array.from(tokens), 'encoding is deterministic');
  // Round trip decode(encode(x)): mean absolute pixel error below half that of predicting the background everywhere.
  const recon = tok.decode(tokens, data.count);
  let err = 0;
  for (let i = 0; i < data.data.length; i++) err += Math.abs(recon.data[i]! - data.data[i]!);
  err /= data.data.length;
  let trivial = 0; // predicting the background (-1) everywhere
  for (let i = 0; i < data.data.length; i++) trivial += Math.abs(-1 - data.data[i]!);
  trivial /= data.data.length;
  console.log(`round trip MAE ${err}, background-only MAE ${trivial}`);
  assert.ok(err < 0.5 * trivial, `round-trip mean absolute error ${err} (background-only predictor: ${trivial})`);
  tok.dispose();
});

test('tokenizer training resumes exactly and the same seed gives the same weights', () => {
  const data = loadMnist({ split: 'train', limit: 32 });
  const straight = TokenizerTrainer.create(trainCfg(4), tmp(), { data });
  for (let i = 0; i < 4; i++) straight.trainStep();
  const dir = tmp();
  const a = TokenizerTrainer.create(trainCfg(4), dir, { data });
  a.trainStep(); a.trainStep();
  a.saveCheckpoint();
  a.dispose();
  const b = TokenizerTrainer.resume(dir, { data });
  assert.equal(b.step, 2);
  b.trainStep(); b.trainStep();
  const w1 = exportVariables(straight.ae.params.vars), w2 = exportVariables(b.ae.params.vars);
  for (const k of Object.keys(w1)) assert.deepEqual(Array.from(w2[k]!.data), Array.from(w1[k]!.data), k);
  straight.dispose();
  b.dispose();
});

test('a KL loss sample uses its RNG: the same seed gives the same loss, another seed another', () => {
  const ae = new KLAutoencoder({ imageSize: 16, channels: 1, ...tinyAe });
  const x = tf.randomUniform([2, 16, 16, 1], -1, 1, 'float32', 3) as tf.Tensor4D;
  const l = (seed: number) => ae.loss(x, new Rng(seed), { recon: 'l2', klWeight: 1e-3 }).total.dataSync()[0]!;
  assert.equal(l(1), l(1));
  assert.notEqual(l(1), l(2));
  ae.dispose();
});

test('latent-space NestAR: train --tokenizer with an encoded cache, checkpoints carry the tokenizer, sampling decodes to pixels', () => {
  const dir = tmp();
  const data = loadMnist({ split: 'train', limit: 64 });
  const t = TokenizerTrainer.create(trainCfg(20), join(dir, 'tok'), { data });
  for (let i = 0; i < 20; i++) t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  const enc = cli('encode', '--tokenizer', join(dir, 'tok'), '--out', join(dir, 'lat.safetensors'), '--limit', '64');
  assert.equal(enc.status, 0, enc.stderr);
  assert.match(enc.stdout, /encoded 64 images to 8x8 tokens of 4 channels/);
  const tr = cli('train', '--tokenizer', join(dir, 'tok'), '--latents', join(dir, 'lat.safetensors'), '--limit', '64', '--out', join(dir, 'gen'),
    '--steps', '2', '--batch-size', '8', '--width', '16', '--depth', '1', '--heads', '2', '--sample-every', '100');
  assert.equal(tr.status, 0, tr.stderr);
  assert.doesNotMatch(tr.stderr, /not using latent cache/);
  // A latent model's checkpoint serves as its tokenizer: the same statistics and the same tokens as the run's.
  const fromRun = loadLatentTokenizer(join(dir, 'tok')), fromModel = loadLatentTokenizer(join(dir, 'gen'));
  const few = loadMnist({ split: 'train', limit: 8 });
  assert.deepEqual(fromModel.stats, fromRun.stats);
  assert.deepEqual(Array.from(fromModel.encode(few)), Array.from(fromRun.encode(few)));
  fromRun.dispose();
  fromModel.dispose();
  // The model checkpoint stands alone: delete the tokenizer run and sample anyway.
  rmSync(join(dir, 'tok'), { recursive: true });
  // ...and train a baseline on its latents (the way a shipped latent model's tokenizer is reused).
  const base = cli('train', '--method', 'raster', '--tokenizer', join(dir, 'gen'), '--limit', '16', '--out', join(dir, 'raster'),
    '--steps', '1', '--batch-size', '4', '--width', '16', '--depth', '1', '--heads', '2', '--sample-every', '100');
  assert.equal(base.status, 0, base.stderr);
  const rp = loadPipeline(join(dir, 'raster'));
  assert.equal(rp.tokenizer.kind, 'kl');
  rp.dispose();
  // A pixel-space model carries no tokenizer, and says so.
  mkdirSync(join(dir, 'pixel'));
  writeFileSync(join(dir, 'pixel', 'state.json'), JSON.stringify({ format: 'nestar-checkpoint-v1', config: { data: { source: 'mnist' } } }));
  assert.throws(() => readTokenizerSource(join(dir, 'pixel')), /pixel-space model's checkpoint/);
  const pipe = loadPipeline(join(dir, 'gen'));
  assert.equal(pipe.tokenizer.kind, 'kl');
  assert.equal(pipe.model.numTokens, 64);
  assert.equal(pipe.model.sequentialSteps, 10);
  pipe.dispose();
  const s = cli('sample', '--checkpoint', join(dir, 'gen'), '--n', '4', '--ode-steps', '2', '--out', join(dir, 's.png'));
  assert.equal(s.status, 0, s.stderr);
  const png = PNG.sync.read(readFileSync(join(dir, 's.png')));
  assert.ok(png.width > 32 && png.height >= 32, 'a pixel-space grid');
});

function grayPng(w: number, h: number, v: (x: number, y: number) => number): Buffer {
  const p = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const data = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = v(x, y);
  p.data = data;
  return PNG.sync.write(p, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

function rgbJpeg(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return jpeg.encode({ data, width: w, height: h }, 95).data;
}

test('image folder: mixed PNG/JPEG, grayscale/RGB, odd sizes and one corrupt file load at 64×64 RGB; cache and two-thread decoding give identical data', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'gray')); mkdirSync(join(dir, 'red'));
  for (let i = 0; i < 6; i++) writeFileSync(join(dir, 'gray', `g${i}.png`), grayPng(37 + i, 101 - i, (x, y) => (x * 3 + y * 5 + i) % 256));
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'red', `r${i}.jpg`), rgbJpeg(90 + 3 * i, 47, [230, 20, 20]));
  writeFileSync(join(dir, 'red', 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('truncated')]));
  const warnings: string[] = [];
  const serial = loadImageFolder(dir, { size: 64, channels: 3, cache: false, parallelFrom: 0, warn: (m) => warnings.push(m) });
  assert.equal(serial.count, 11);
  assert.deepEqual(serial.classNames, ['gray', 'red']);
  assert.deepEqual([...serial.labels], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /corrupt\.jpg/);
  const px = (i: number, y: number, x: number) => Array.from(serial.data.subarray(((i * 64 + y) * 64 + x) * 3, ((i * 64 + y) * 64 + x) * 3 + 3));
  const g = px(0, 10, 10);
  assert.ok(g[0] === g[1] && g[1] === g[2], 'grayscale becomes equal RGB channels');
  const r = px(7, 32, 32);
  assert.ok(r[0]! > 0.7 && r[1]! < -0.7 && r[2]! < -0.7, `a red JPEG stays red: ${r}`);
  // Parallel decoding (forced here for a small folder) writes the cache; the cached load returns the same data and warnings.
  const ps: { fromCache?: boolean; decodeThreads?: number } = {}, cs: typeof ps = {};
  const parallel = loadImageFolder(dir, { size: 64, channels: 3, parallelFrom: 2, warn: (m) => warnings.push(m), stats: ps });
  assert.deepEqual(ps, { fromCache: false, decodeThreads: 2 }, 'the worker thread decoded its half');
  assert.ok(!warnings.some((w) => /decode worker/.test(w)), warnings.join('; '));
  assert.deepEqual(Array.from(parallel.data), Array.from(serial.data));
  assert.ok(existsSync(join(dir, '.nestar-cache')));
  // The cache is what the next load reads: blank the pixels stored in it, and the next load returns blank images.
  const [bin] = readdirSync(join(dir, '.nestar-cache')).map((f) => join(dir, '.nestar-cache', f));
  const original = readFileSync(bin!), blanked = Buffer.from(original);
  blanked.fill(0, 14 + blanked.readUInt32LE(10));
  writeFileSync(bin!, blanked);
  const fromBlank = loadImageFolder(dir, { size: 64, channels: 3, warn: () => {}, stats: cs });
  assert.deepEqual(cs, { fromCache: true, decodeThreads: 0 });
  assert.ok(fromBlank.data.every((v) => v === -1), 'the images came from the cache file');
  writeFileSync(bin!, original);
  const cached = loadImageFolder(dir, { size: 64, channels: 3, warn: (m) => warnings.push(m) });
  assert.deepEqual(Array.from(cached.data), Array.from(serial.data));
  assert.equal(warnings.filter((w) => /corrupt\.jpg/.test(w)).length, 3, 'the skipped file is named on every load');
  // Changing a file invalidates the cache.
  writeFileSync(join(dir, 'gray', 'g0.png'), grayPng(20, 20, () => 255));
  const changed = loadImageFolder(dir, { size: 64, channels: 3, warn: () => {} });
  assert.ok(changed.data.subarray(0, 64 * 64 * 3).every((v) => v === 1));
});
