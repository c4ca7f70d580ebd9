// Training with the PyTorch twin (python/nestar_torch/train.py, issue #22): a two-process DDP run under
// torchrun gives one process's weights, its checkpoint samples in nestar, a nestar checkpoint resumes in
// PyTorch, and a rank killed mid-run stops the job with the last checkpoint intact and resumable.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { findTorchPython, runTwin, torchrun, torchrunTwoNodes } from './python.js';
import { TokenizerTrainer, resolveTokenizerRunConfig } from '../src/tokenizer/trainTokenizer.js';
import { loadPipeline } from '../src/pipeline.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { loadCheckpoint, readSafetensorsFile } from '../src/train/checkpoint.js';
import { encodePng } from '../src/util/png.js';
import { decodeSafetensors } from '../src/util/safetensors.js';
import { spawnNestar } from './cliRun.js';

let python = '';
before(async () => { await setup(); python = findTorchPython(); });
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-torch-'));
const RUN = {
  model: { width: 32, depth: 1, heads: 2, headWidth: 32, headDepth: 1, headHeads: 2 },
  data: { limit: 128 }, train: { steps: 6, batchSize: 8, checkpointEvery: 3, warmupSteps: 2, headRepeats: 2, keepCheckpoints: 5 },
};

const run = (n: number, args: string[], env: Record<string, string> = {}) => torchrun(python, n, 'nestar_torch.train', args, env);

const weights = (run: string, step: number) => loadCheckpoint(join(run, 'checkpoints', `step-${String(step).padStart(7, '0')}`)).tensors.model;

test('two-process DDP (torchrun, gloo) gives the weights of one process at the same global batch, and nestar samples its checkpoint', async () => {
  const dir = tmp(), cfg = join(dir, 'run.json');
  writeFileSync(cfg, JSON.stringify(RUN));
  runTwin(python, 'nestar_torch.train', ['--config', cfg, '--out', join(dir, 'one')]);
  const r = run(2, ['--config', cfg, '--out', join(dir, 'two')]);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const a = weights(join(dir, 'one'), 6), b = weights(join(dir, 'two'), 6);
  let worst = 0, moved = 0;
  const init = weights(join(dir, 'one'), 3);
  for (const k of Object.keys(a)) {
    for (let i = 0; i < a[k]!.data.length; i++) {
      worst = Math.max(worst, Math.abs(a[k]!.data[i]! - b[k]!.data[i]!));
      moved = Math.max(moved, Math.abs(a[k]!.data[i]! - init[k]!.data[i]!));
    }
  }
  assert.ok(worst <= 1e-5, `1 vs 2 processes: max weight difference ${worst}`);
  assert.ok(moved > 1e-3, 'training moved the weights between steps 3 and 6');
  const pipe = loadPipeline(join(dir, 'two'));
  const res = await pipe.generate({ count: 2, classes: [3, 7], odeSteps: 4, seed: 1 });
  assert.equal(res.images.count, 2);
  assert.ok(res.images.data.every(Number.isFinite));
  assert.equal(pipe.step, 6);
  pipe.dispose();
});

test('a checkpoint written by nestar train resumes in PyTorch', () => {
  const dir = tmp();
  const cfg = resolveRunConfig({ ...RUN, train: { ...RUN.train, steps: 3 } });
  const t = Trainer.create(cfg, { runDir: dir, data: loadMnist({ split: 'train', limit: 128 }) });
  for (let i = 0; i < 3; i++) t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  const before = weights(dir, 3);
  // Without --resume the run folder is refused, not overwritten (its checkpoints would be pruned).
  assert.throws(() => runTwin(python, 'nestar_torch.train', ['--config', join(dir, 'checkpoints', 'step-0000003', 'state.json'), '--out', dir]), /already holds a run; pass --resume/);
  runTwin(python, 'nestar_torch.train', ['--out', dir, '--resume', '--steps', '5']);
  const after = loadCheckpoint(dir);
  assert.equal(after.state.step, 5);
  assert.equal(after.state.optimizer.t, 5);
  assert.equal(after.state.losses.length, 5, 'the loss history continues');
  const k = 'm2.head.final.out.w';
  assert.ok(after.tensors.model[k]!.data.some((x, i) => x !== before[k]!.data[i]), 'PyTorch updated the weights it loaded');
});

test('killing rank 1 mid-run stops the job with an error; the last checkpoint stays loadable and the run resumes', () => {
  const dir = tmp(), cfg = join(dir, 'run.json');
  writeFileSync(cfg, JSON.stringify(RUN));
  const r = run(2, ['--config', cfg, '--out', dir], { NESTAR_TWIN_TEST_KILL: '1:4' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /nestar_torch\.train FAILED|ChildFailedError/);
  assert.match(r.stderr, /rank\s*:\s*1/);
  const latest = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8'));
  assert.equal(latest.step, 3);
  assert.equal(loadCheckpoint(dir).state.step, 3);
  const again = run(2, ['--out', dir, '--resume']);
  assert.equal(again.status, 0, again.stderr.slice(-2000));
  assert.equal(loadCheckpoint(dir).state.step, 6);
});

test('any dataset: nestar encode --config writes the trainer’s own tokens of a colour folder, the twin trains from them, and nestar samples the run with its class names', async () => {
  const dir = tmp(), images = join(dir, 'images');
  for (const [c, name] of ['red', 'blue'].entries()) {
    mkdirSync(join(images, name), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const rgba = new Uint8Array(16 * 16 * 4);
      for (let p = 0; p < 256; p++) rgba.set([c ? 20 : 200, (p * 7 + i * 13) % 256, c ? 220 : 30, p % 5 ? 255 : 0], 4 * p); // some pixels transparent
      writeFileSync(join(images, name, `${i}.png`), encodePng(16, 16, rgba));
    }
  }
  const input = { model: { ...RUN.model, headKind: 'patch' as const }, data: { source: images, imageSize: 16 }, train: { ...RUN.train, steps: 4, batchSize: 4, checkpointEvery: 2 } };
  const cfg = join(dir, 'run.json'), file = join(dir, 'tokens.safetensors');
  writeFileSync(cfg, JSON.stringify(input));
  const enc = spawnNestar(['encode', '--config', cfg, '--out', file]);
  assert.equal(enc.status, 0, enc.stderr);
  const { tensors, metadata } = decodeSafetensors(readFileSync(file), file);
  const t = Trainer.create(resolveRunConfig({ ...input, data: { ...input.data, channels: 3 } }), { runDir: join(dir, 'ts'), warn: () => {} });
  assert.deepEqual(tensors.tokens!.data, (t as unknown as { tokens: Float32Array }).tokens, 'the file holds the tokens nestar train trains on');
  assert.deepEqual(tensors.tokens!.shape, [14, 16, 48], '14 training images (one of 8 per class held out), 4x4 tokens of 4x4x3 pixels');
  t.dispose();
  assert.deepEqual(JSON.parse(metadata.classNames!), ['blue', 'red']);

  runTwin(python, 'nestar_torch.train', ['--tokens', file, '--config', cfg, '--out', join(dir, 'run')]);
  const ck = loadCheckpoint(join(dir, 'run'));
  assert.equal(ck.state.step, 4);
  assert.deepEqual(ck.state.classNames, ['blue', 'red']);
  assert.equal(ck.state.config.data.channels, 3);
  const pipe = loadPipeline(join(dir, 'run'));
  assert.deepEqual(pipe.classNames.slice(0, 2), ['blue', 'red']);
  const res = await pipe.generate({ count: 2, classes: [0, 1], odeSteps: 4, seed: 1 });
  assert.equal(res.images.channels, 3);
  assert.ok(res.images.data.every(Number.isFinite));
  pipe.dispose();

  // The file's settings rule: a config that contradicts them is refused, and resuming needs the file again.
  writeFileSync(cfg, JSON.stringify({ ...input, data: { ...input.data, imageSize: 32 } }));
  assert.throws(() => runTwin(python, 'nestar_torch.train', ['--tokens', file, '--config', cfg, '--out', join(dir, 'other')]), /data\.imageSize is 32 in the config but the token file .* was made with 16/);
  assert.throws(() => runTwin(python, 'nestar_torch.train', ['--out', join(dir, 'run'), '--resume', '--steps', '6']), /pass --tokens FILE/);
  runTwin(python, 'nestar_torch.train', ['--tokens', file, '--out', join(dir, 'run'), '--resume', '--steps', '6']);
  assert.equal(loadCheckpoint(join(dir, 'run')).state.step, 6);
});

test('two nodes (torchrun --nnodes 2, c10d rendezvous on localhost, one process each) give the weights of one process at the same global batch', async () => {
  const dir = tmp(), cfg = join(dir, 'run.json');
  writeFileSync(cfg, JSON.stringify(RUN));
  runTwin(python, 'nestar_torch.train', ['--config', cfg, '--out', join(dir, 'one')]);
  const port = 29500 + (process.pid % 400);
  const nodes = await torchrunTwoNodes(python, port, 'nestar_torch.train', ['--config', cfg, '--out', join(dir, 'two')]);
  for (const [i, r] of nodes.entries()) assert.equal(r.status, 0, `node ${i}: ${r.stderr.slice(-2000)}`);
  const a = weights(join(dir, 'one'), 6), b = weights(join(dir, 'two'), 6);
  let worst = 0;
  for (const k of Object.keys(a)) for (let i = 0; i < a[k]!.data.length; i++) worst = Math.max(worst, Math.abs(a[k]!.data[i]! - b[k]!.data[i]!));
  assert.ok(worst <= 1e-5, `1 process vs 2 nodes: max weight difference ${worst}`);
  assert.match(loadCheckpoint(join(dir, 'two')).state.backend, /ddp2/);
});

test('the twin trains raster AR and next-scale AR (and with --bf16), and nestar samples their runs', async () => {
  const dir = tmp();
  for (const [kind, extra] of [['raster', []], ['nextscale', []], ['nestar', ['--bf16']]] as const) {
    const cfg = join(dir, `${kind}.json`), out = join(dir, `${kind}${extra.length ? '-bf16' : ''}`);
    writeFileSync(cfg, JSON.stringify({ ...RUN, model: { ...RUN.model, kind }, train: { ...RUN.train, steps: 2, checkpointEvery: 2 } }));
    runTwin(python, 'nestar_torch.train', ['--config', cfg, '--out', out, '--device', 'cpu', ...extra]);
    const ck = loadCheckpoint(out);
    assert.equal(ck.state.config.model.kind ?? 'nestar', kind);
    assert.equal(ck.state.step, 2);
    if (extra.length) assert.match(ck.state.backend, /bf16/);
    for (const arr of Object.values(ck.tensors.model)) assert.ok(arr.data instanceof Float32Array && arr.data.every(Number.isFinite), 'F32 weights, finite');
    const pipe = loadPipeline(out);
    assert.equal(pipe.model.method, kind);
    const res = await pipe.generate({ count: 2, classes: [1, 2], odeSteps: 2, seed: 1 });
    assert.equal(res.backboneCalls, pipe.model.sequentialSteps);
    assert.ok(res.images.data.every(Number.isFinite));
    pipe.dispose();
  }
});

test('KL latents: nestar encode --config carries the tokenizer, the twin trains on the latents, nestar samples and decodes the run with that tokenizer', async () => {
  const dir = tmp();
  const tokCfg = resolveTokenizerRunConfig({ tokenizer: { factor: 4, latentChannels: 4, width: 8 }, train: { steps: 2, batchSize: 8, statsImages: 32, checkpointEvery: 1000 } });
  const tok = TokenizerTrainer.create(tokCfg, join(dir, 'tok'), { data: loadMnist({ split: 'train', limit: 32 }) });
  tok.trainStep(); tok.trainStep();
  tok.saveCheckpoint();
  tok.dispose();
  const input = { model: { ...RUN.model }, data: { limit: 32 }, tokenizer: { kind: 'kl', checkpoint: join(dir, 'tok'), patch: 1 }, train: { ...RUN.train, steps: 2, checkpointEvery: 2 } };
  const cfg = join(dir, 'run.json'), file = join(dir, 'latents.safetensors');
  writeFileSync(cfg, JSON.stringify(input));
  const enc = spawnNestar(['encode', '--config', cfg, '--out', file]);
  assert.equal(enc.status, 0, enc.stderr);
  assert.ok(JSON.parse(decodeSafetensors(readFileSync(file), file).metadata.tokenizer!).stats, 'the file carries the tokenizer state');
  runTwin(python, 'nestar_torch.train', ['--tokens', file, '--out', join(dir, 'run')]);
  const ck = loadCheckpoint(join(dir, 'run'));
  assert.equal(ck.state.config.tokenizer.kind, 'kl');
  assert.equal(ck.state.config.model.gridSize, 8, '32x32 images / factor 4 = an 8x8 latent grid');
  const original = readSafetensorsFile(join(dir, 'tok', 'checkpoints', 'step-0000002', 'model.safetensors'));
  for (const [k, v] of Object.entries(original)) assert.deepEqual(Array.from(ck.tensors.tokenizer![k]!.data), Array.from(v.data), `tokenizer weight ${k}`);
  const pipe = loadPipeline(join(dir, 'run'));
  const res = await pipe.generate({ count: 2, classes: [3, 7], odeSteps: 2, seed: 1 });
  assert.deepEqual([res.images.height, res.images.channels], [32, 1], 'decoded to pixels by the tokenizer the file named');
  assert.ok(res.images.data.every(Number.isFinite));
  pipe.dispose();
  // Without the token file the twin refuses KL latents, naming how to make one.
  writeFileSync(cfg, JSON.stringify(input));
  assert.throws(() => runTwin(python, 'nestar_torch.train', ['--config', cfg, '--out', join(dir, 'x')]), /trains on latents from a token file/);
});
