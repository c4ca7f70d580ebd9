// Any dataset, in colour (issue #20): the held-out split of folders and emoji, alpha compositing, the emoji
// loader, evaluation of a run trained on a labelled folder end to end, and each shipped feature net's fitness
// (FD grows with blur and with noise).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, degradationFds } from './helpers.js';
import { holdoutSplit } from '../src/data/split.js';
import { loadSplit, loadTrainingData } from '../src/data/load.js';
import { loadImageFolder } from '../src/data/imageFolder.js';
import { listEmoji, loadEmoji, emojiPackageDir } from '../src/data/emoji.js';
import { encodePng } from '../src/util/png.js';
import { resolveRunConfig, type DataConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { FeatureNet } from '../src/eval/featureNet.js';
import { defaultFeatureDir } from '../src/eval/featureNets.js';
import type { Report } from '../src/eval/evaluate.js';
import type { ImageDataset } from '../src/data/dataset.js';
import { loadPipeline } from '../src/pipeline.js';
import { spawnNestar } from './cliRun.js';
import { COLOUR_RECIPE, recipeSteps } from '../src/train/recipe.js';

const cli = (args: string[]) => spawnNestar(args);

before(async () => { await setup(); });

/** A folder of `perClass` 16×16 colour PNGs in each class sub-folder: blue bars and red discs, jittered, each background a distinct shade. */
function shapesFolder(perClass: number, classes = ['bars', 'discs']): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-shapes-'));
  classes.forEach((name, c) => {
    mkdirSync(join(dir, name));
    for (let i = 0; i < perClass; i++) {
      const rgba = new Uint8Array(16 * 16 * 4);
      const cx = 6 + (i % 5), cy = 6 + ((i * 3) % 5);
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
        const on = c === 0 ? Math.abs(x - cx) <= 1 : (x - cx) ** 2 + (y - cy) ** 2 <= 9;
        const p = (y * 16 + x) * 4;
        rgba.set(on ? (c === 0 ? [30, 60, 220] : [220, 40, 30]) : [250 - i, 240, 230], p);
        rgba[p + 3] = 255;
      }
      writeFileSync(join(dir, name, `${String(i).padStart(3, '0')}.png`), encodePng(16, 16, rgba));
    }
  });
  return dir;
}

test('the held-out split is deterministic, disjoint, covering and stratified, and one class never moves another', () => {
  const labels = Int32Array.from([...Array(50).fill(0), ...Array(30).fill(1), ...Array(1).fill(2), ...Array(20).fill(-1)]);
  const a = holdoutSplit(labels, 0.1, 0), b = holdoutSplit(labels, 0.1, 0);
  assert.deepEqual(a, b);
  const all = [...a.train, ...a.heldOut].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: labels.length }, (_, i) => i), 'disjoint and covering');
  const heldPer = (s: Int32Array, l: number) => [...s].filter((i) => labels[i] === l).length;
  assert.deepEqual([0, 1, 2, -1].map((l) => heldPer(a.heldOut, l)), [5, 3, 0, 2], 'round(0.1 x count) per class, none from a class of one');
  assert.notDeepEqual(holdoutSplit(labels, 0.1, 1).heldOut, a.heldOut, 'another seed, another split');
  // More images of class 1 leave class 0's held-out images where they were.
  const grown = Int32Array.from([...labels, ...Array(40).fill(1)]);
  assert.deepEqual([...holdoutSplit(grown, 0.1, 0).heldOut].filter((i) => grown[i] === 0), [...a.heldOut].filter((i) => labels[i] === 0));
  assert.throws(() => holdoutSplit(labels, 1, 0), /fraction must be in \[0, 1\)/);
});

test('a folder run trains only on its training split and records the split; held-out images are never trained on', () => {
  const dir = shapesFolder(20);
  const cfg = resolveRunConfig({ data: { source: dir, imageSize: 16, channels: 3 }, tokenizer: { patch: 4 } });
  assert.equal(cfg.data.holdout, 0.1);
  assert.equal(cfg.data.splitSeed, 0);
  assert.equal(cfg.data.background, '#ffffff');
  const train = loadTrainingData(cfg.data), held = loadSplit(cfg.data, 'heldout');
  assert.equal(train.count + held.count, 40);
  assert.equal(held.count, 4);
  assert.deepEqual([...held.labels].sort(), [0, 0, 1, 1]);
  const key = (d: ImageDataset, i: number) => d.data.subarray(i * 768, (i + 1) * 768).join(',');
  const trainKeys = new Set(Array.from({ length: train.count }, (_, i) => key(train, i)));
  for (let i = 0; i < held.count; i++) assert.ok(!trainKeys.has(key(held, i)), 'a held-out image is not in the training split');
  assert.throws(() => resolveRunConfig({ data: { source: dir, holdout: 1 } }), /data\.holdout must be a fraction in \[0, 1\)/);
  assert.throws(() => resolveRunConfig({ data: { source: dir, background: 'white' } }), /data\.background must be a colour '#rrggbb'/);
});

test('a limit on a class-ordered folder keeps every class in its share (train and held-out), not the first classes', () => {
  const dir = shapesFolder(10, ['a', 'b', 'c']);
  const cfg = resolveRunConfig({ data: { source: dir, imageSize: 16, channels: 3, limit: 6 }, tokenizer: { patch: 4 } });
  const train = loadTrainingData(cfg.data);
  assert.deepEqual([...train.labels], [0, 0, 1, 1, 2, 2], 'two of each of three classes, in split order');
  const held = loadSplit(cfg.data, 'heldout', { limit: 2 });
  assert.equal(held.count, 2);
  assert.notEqual(held.labels[0], held.labels[1], 'the held-out limit also spreads over the classes');
});

test('transparent pixels are composited on the background colour, never their stored RGB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestar-alpha-'));
  // 4×4: left half fully transparent but storing pure red, right half opaque blue, one half-transparent green pixel.
  const rgba = new Uint8Array(4 * 4 * 4);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) rgba.set(x < 2 ? [255, 0, 0, 0] : [0, 0, 255, 255], (y * 4 + x) * 4);
  rgba.set([0, 255, 0, 128], (3 * 4 + 3) * 4);
  writeFileSync(join(dir, 'icon.png'), encodePng(4, 4, rgba));
  const px = (bg: [number, number, number] | undefined, x: number, y: number) => {
    const d = loadImageFolder(dir, { size: 4, channels: 3, cache: false, background: bg }).data;
    return [...d.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3)].map((v) => Math.round((v + 1) * 127.5));
  };
  assert.deepEqual(px(undefined, 0, 0), [255, 255, 255], 'default background: white');
  assert.deepEqual(px([0, 0, 0], 0, 0), [0, 0, 0]);
  assert.deepEqual(px([10, 200, 30], 1, 2), [10, 200, 30]);
  assert.deepEqual(px(undefined, 3, 0), [0, 0, 255], 'opaque pixels unchanged');
  assert.deepEqual(px([0, 0, 0], 3, 3), [0, 128, 0], 'half alpha: half the colour on black');
});

test('the emoji loader: categories as classes without Component, skin tones included, transparent corners white', () => {
  const dir = emojiPackageDir();
  const entries = JSON.parse(readFileSync(join(dir, 'emoji.json'), 'utf8')) as Array<{ image: string; category: string; has_img_google: boolean; skin_variations?: Record<string, { image: string; has_img_google: boolean }> }>;
  const listed = listEmoji(dir);
  assert.ok(!listed.classNames.includes('Component'));
  assert.equal(listed.classNames.length, new Set(entries.map((e) => e.category).filter((c) => c !== 'Component')).size);
  const withImage = entries.filter((e) => e.category !== 'Component' && e.has_img_google).length;
  assert.ok(listed.files.length > withImage + 1000, `skin-tone variations are images too (${listed.files.length} files, ${withImage} base emoji)`);
  // A handful of entries: their base image and every skin variation carry the entry's category.
  for (const e of entries.filter((x) => x.skin_variations && x.has_img_google).slice(0, 5)) {
    for (const img of [e.image, ...Object.values(e.skin_variations!).filter((v) => v.has_img_google).map((v) => v.image)]) {
      const i = listed.files.findIndex((f) => f.endsWith(`/${img}`));
      assert.ok(i >= 0, img);
      assert.equal(listed.classNames[listed.labels[i]!], e.category, img);
    }
  }
  const ds = loadEmoji({ size: 16, channels: 3, limit: 12 });
  assert.equal(ds.count, 12);
  assert.equal(ds.source, 'emoji');
  assert.deepEqual([...ds.data.subarray(0, 3)], [1, 1, 1], 'the top-left corner of a Noto emoji is transparent: white');
});

test('train-features and eval on a labelled image folder: the report names the dataset, its held-out split and the feature net', () => {
  const dir = shapesFolder(40);
  const runDir = mkdtempSync(join(tmpdir(), 'nestar-folderrun-'));
  const cfg = resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, data: { source: dir, imageSize: 16, channels: 3 },
    tokenizer: { patch: 4 }, train: { steps: 2, batchSize: 8 } });
  const t = Trainer.create(cfg, { runDir });
  t.trainStep();
  t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  // The checkpoint names its classes, so pages can show them (MNIST's digits are the default).
  const pipe = loadPipeline(runDir);
  assert.deepEqual(pipe.classNames, ['bars', 'discs']);
  pipe.dispose();
  const feat = join(runDir, 'features');
  const f = cli(['train-features', '--data', dir, '--image-size', '16', '--channels', '3', '--epochs', '2', '--out', feat]);
  assert.equal(f.status, 0, f.stderr);
  const meta = JSON.parse(readFileSync(join(feat, 'feature-net.json'), 'utf8')) as { sha256: string; testAccuracy: number; dataset: { name: string; classNames: string[] } };
  assert.equal(meta.dataset.name, `folder:${dir}`);
  assert.deepEqual(meta.dataset.classNames, ['bars', 'discs']);
  const out = join(runDir, 'eval');
  const e = cli(['eval', '--checkpoint', runDir, '--n', '20', '--ode-steps', '2', '--batch', '10', '--features', feat, '--out', out]);
  assert.equal(e.status, 0, e.stderr);
  const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  assert.equal(rep.dataset, `folder:${dir}`);
  assert.match(rep.split, /held-out \(0\.1 of each class, seed 0\)/);
  assert.equal(rep.referenceN, 8);
  assert.equal(rep.featureNet.sha256, meta.sha256);
  assert.equal(rep.featureNet.dataset, `folder:${dir}`);
  assert.equal(rep.rows[0]!.n, 20);
  assert.ok(Number.isFinite(rep.rows[0]!.fd) && rep.realData.fd < rep.rows[0]!.fd, `real ${rep.realData.fd} vs untrained ${rep.rows[0]!.fd}`);
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.ok(md.includes(`dataset: folder:${dir} (held-out`) && md.includes(meta.sha256), md.slice(0, 400));
  // Unlabelled folders have no classes to train a feature net on: a clear error, not a stack trace.
  const flat = mkdtempSync(join(tmpdir(), 'nestar-flat-'));
  for (let i = 0; i < 12; i++) writeFileSync(join(flat, `${i}.png`), readFileSync(join(dir, 'discs', `${String(i).padStart(3, '0')}.png`)));
  const u = cli(['train-features', '--data', flat, '--image-size', '16', '--out', join(runDir, 'nope')]);
  assert.equal(u.status, 1);
  assert.match(u.stderr, /has no class sub-folders, so no classifier feature net can be trained on it; pass --features DIR/);
});

for (const data of [{ source: 'mnist', imageSize: 32, channels: 1 }, { source: 'emoji', imageSize: 32, channels: 3 }, { source: 'emoji', imageSize: 64, channels: 3 }] as DataConfig[]) {
  test(`the shipped ${data.source} ${data.imageSize}×${data.imageSize} feature net is fit for the job: FD grows with noise and with blur`, () => {
    const dir = defaultFeatureDir(data);
    assert.ok(dir.includes(join('checkpoints', 'features')), `${data.source} has a shipped feature net (${dir})`);
    const net = FeatureNet.load(dir);
    const { noise, blur } = degradationFds(net, resolveRunConfig({ data }).data, 300);
    for (const [name, fds] of [['noise', noise], ['blur', blur]] as const) {
      for (let i = 1; i < fds.length; i++) assert.ok(fds[i]! > fds[i - 1]!, `${data.source} ${name} FDs ${fds.map((v) => v.toFixed(2))}`);
    }
    net.dispose();
  });
}

// The default colour recipe (issue #49): a folder run with no model or training flags trains the measured recipe,
// sized to the folder, and records what it chose in its config; any model flag means the user's settings instead.
test('a folder run with no flags records the colour recipe it chose; a model flag replaces it', () => {
  assert.equal(recipeSteps(100), COLOUR_RECIPE.minSteps, 'a small folder gets the floor');
  assert.equal(recipeSteps(3403), Math.round((COLOUR_RECIPE.epochs * 3403) / 64 / 100) * 100, 'the measured passes over the data');
  assert.equal(recipeSteps(1e7), Math.floor((COLOUR_RECIPE.maxHours * 3600) / COLOUR_RECIPE.secondsPerStep / 100) * 100, 'the 8-hour ceiling');
  const dir = shapesFolder(10), runs = mkdtempSync(join(tmpdir(), 'nestar-recipe-'));
  const r = cli(['train', '--data', dir, '--out', join(runs, 'a'), '--steps', '2', '--seed', '3']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /recipe: colour-v1 for 18 training images: 2 steps x 64 \(--steps; the recipe's budget is 1200\), expected wall-clock about/);
  const state = JSON.parse(readFileSync(join(runs, 'a', 'checkpoints', 'step-0000002', 'state.json'), 'utf8')) as { config: { recipe?: { name: string; trainImages: number; steps: number }; model: { width: number; headKind: string }; train: { timeSampling: string; seed: number } } };
  assert.deepEqual([state.config.recipe?.name, state.config.recipe?.trainImages, state.config.recipe?.steps], ['colour-v1', 18, 2]);
  assert.deepEqual([state.config.model.width, state.config.model.headKind, state.config.train.timeSampling, state.config.train.seed], [128, 'patch', 'logit-normal', 3]);
  const own = cli(['train', '--data', dir, '--out', join(runs, 'b'), '--steps', '1', '--width', '16', '--depth', '1', '--heads', '2']);
  assert.equal(own.status, 0, own.stderr);
  assert.doesNotMatch(own.stderr, /recipe:/);
  const ownState = JSON.parse(readFileSync(join(runs, 'b', 'checkpoints', 'step-0000001', 'state.json'), 'utf8')) as { config: { recipe?: unknown; model: { width: number } } };
  assert.deepEqual([ownState.config.recipe, ownState.config.model.width], [undefined, 16]);
});
