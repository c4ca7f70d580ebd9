// Issue #18: hostile and careless input, one test per defect (numbers in the comments are the issue's).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { exportCheckpoint } from '../src/train/exportCheckpoint.js';
import { resolveCheckpointDir } from '../src/train/checkpoint.js';
import { loadPipeline } from '../src/pipeline.js';
import { acquireRunLock } from '../src/train/runLock.js';
import { decodeImage, encodePng, writeImageGrid } from '../src/util/png.js';
import { loadImageFolder } from '../src/data/imageFolder.js';
import { decodeSafetensors, encodeSafetensors } from '../src/util/safetensors.js';
import { nestarCli } from './cliRun.js';

const cli = (...args: string[]) => nestarCli(args);
const tmp = () => mkdtempSync(join(tmpdir(), 'nestar-hostile-'));
const tinyModel = { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 };
let run = '';

before(async () => {
  await setup();
  run = tmp();
  const t = Trainer.create(resolveRunConfig({ model: tinyModel, train: { steps: 2, batchSize: 8, checkpointEvery: 2, sampleEvery: 100 } }), { runDir: run, data: loadMnist({ split: 'train', limit: 16 }) });
  t.trainStep(); t.trainStep();
  t.saveCheckpoint();
  t.dispose();
});

/** A copy of the tiny run's checkpoint folder to break. */
function checkpointCopy(): string {
  const src = resolveCheckpointDir(run), dir = join(tmp(), 'ck');
  mkdirSync(dir);
  for (const f of readdirSync(src)) writeFileSync(join(dir, f), readFileSync(join(src, f)));
  return dir;
}

test('#1 export never deletes what nestar did not write: non-empty target, the run itself, a folder inside it', () => {
  const other = tmp();
  writeFileSync(join(other, 'thesis.tex'), 'precious');
  assert.throws(() => exportCheckpoint(run, other), /is not empty and is not a previous nestar export \(it holds thesis\.tex\)/);
  assert.equal(readFileSync(join(other, 'thesis.tex'), 'utf8'), 'precious');
  const before = readdirSync(join(run, 'checkpoints'));
  assert.throws(() => exportCheckpoint(run, run), /contains the checkpoint|inside the checkpoint/);
  assert.throws(() => exportCheckpoint(run, join(run, 'export')), /inside the checkpoint it would export/);
  assert.deepEqual(readdirSync(join(run, 'checkpoints')), before);
  assert.ok(existsSync(join(run, 'latest.json')));
  // A new folder, an empty one, and a previous export (recognised by its state.json) are fine.
  const target = join(tmp(), 'exp');
  exportCheckpoint(run, target);
  exportCheckpoint(run, target, { dtype: 'F16' });
  assert.deepEqual(readdirSync(target).sort(), ['ema.safetensors', 'state.json']);
  const empty = tmp();
  exportCheckpoint(run, empty);
  // A folder that merely looks like an export but holds more is not one.
  writeFileSync(join(target, 'notes.txt'), 'mine');
  assert.throws(() => exportCheckpoint(run, target), /not a previous nestar export/);
  assert.equal(readFileSync(join(target, 'notes.txt'), 'utf8'), 'mine');
});

test('#11 export validates what it writes: a 0-byte EMA file or weights of another architecture are refused, nothing is written', () => {
  const ck = checkpointCopy();
  writeFileSync(join(ck, 'ema.safetensors'), '');
  const out = join(tmp(), 'exp');
  assert.throws(() => exportCheckpoint(ck, out), /ema\.safetensors/);
  assert.ok(!existsSync(out));
  const ck2 = checkpointCopy();
  const state = JSON.parse(readFileSync(join(ck2, 'state.json'), 'utf8'));
  state.config.model.width = 32;
  writeFileSync(join(ck2, 'state.json'), JSON.stringify(state));
  assert.throws(() => exportCheckpoint(ck2, out), /does not match this model/);
  assert.ok(!existsSync(out));
  const ck3 = checkpointCopy();
  writeFileSync(join(ck3, 'state.json'), readFileSync(join(ck3, 'state.json'), 'utf8').slice(0, 100));
  assert.throws(() => exportCheckpoint(ck3, out), /state\.json is not valid JSON/);
});

test('#3 a checkpoint file that is /dev/zero, /dev/urandom or a FIFO is refused at once, memory bounded', () => {
  const rss0 = process.memoryUsage().rss;
  for (const [file, dev] of [['ema.safetensors', '/dev/zero'], ['state.json', '/dev/urandom'], ['ema.safetensors', '/dev/urandom']] as const) {
    const ck = checkpointCopy();
    rmSync(join(ck, file));
    symlinkSync(dev, join(ck, file));
    assert.throws(() => loadPipeline(ck), new RegExp(`${file.replace('.', '\\.')} is not a regular file`));
    assert.throws(() => exportCheckpoint(ck, join(tmp(), 'e')), /is not a regular file/);
  }
  const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(grew < 300, `RSS grew by ${grew.toFixed(0)} MB`);
});

test('#15 NaN or infinite weights are an error naming the tensor', () => {
  const ck = checkpointCopy();
  const { tensors, metadata } = decodeSafetensors(readFileSync(join(ck, 'ema.safetensors')), 'ema');
  const name = Object.keys(tensors)[3]!;
  tensors[name]!.data[1] = NaN;
  writeFileSync(join(ck, 'ema.safetensors'), encodeSafetensors(tensors, metadata));
  assert.throws(() => loadPipeline(ck), new RegExp(`tensor '${name.replace(/\./g, '\\.')}' holds a non-finite value \\(NaN at element 1\\)`));
});

test('#13 latest.json null or naming something else, and a null config file, are errors naming the file', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'checkpoints'));
  for (const bad of ['null', '{"checkpoint":5}', '{"checkpoint":"../../etc"}', '']) {
    writeFileSync(join(dir, 'latest.json'), bad);
    assert.throws(() => resolveCheckpointDir(dir), new RegExp(`${dir}/latest\\.json`), bad);
  }
  assert.throws(() => resolveRunConfig(null as never), /config must be an object/);
  assert.throws(() => resolveRunConfig({ model: [1] } as never), /model must be an object/);
});

test('#7 #8 huge or unknown model settings are refused naming the field, before anything is allocated', () => {
  const t0 = Date.now();
  for (const [model, re] of [[{ width: 1e9 }, /model\.width must be an integer from 1 to 4096/], [{ headWidth: 1e9 }, /model\.headWidth/],
    [{ mlpRatio: 1e9 }, /model\.mlpRatio/], [{ numClasses: 1e9 }, /model\.numClasses/], [{ depth: 1e6 }, /model\.depth/],
    [{ width: 4096, depth: 256, heads: 16 }, /parameters .* over the limit/], [{ widht: 128 }, /model\.widht is not a known setting/],
    [{ kind: 'raster', widht: 1 }, /model\.widht is not a known setting/]] as const) {
    assert.throws(() => resolveRunConfig({ model } as never), re, JSON.stringify(model));
  }
  // Every section of a config file rejects unknown keys the same way, naming section and key.
  for (const [sec, key] of [['train', 'stepz'], ['data', 'imagesize'], ['tokenizer', 'pach'], ['coord', 'mod']] as const) {
    assert.throws(() => resolveRunConfig({ [sec]: { [key]: 1 } } as never), new RegExp(`${sec}\\.${key} is not a known setting`));
  }
  assert.throws(() => resolveRunConfig({ trian: {} } as never), /config\.trian is not a known setting/);
  // …and wrong types name the field too.
  assert.throws(() => resolveRunConfig({ data: { source: 5 } } as never), /data\.source must be/);
  assert.throws(() => resolveRunConfig({ train: { steps: '10' } } as never), /train\.steps must be/);
  assert.throws(() => resolveRunConfig({ train: { batchSize: 1e9 } }), /train\.batchSize must be an integer from 1 to 16384/);
  assert.throws(() => resolveRunConfig({ train: { lr: 1e400 } }), /train\.lr must be a positive number, got Infinity/);
  assert.ok(Date.now() - t0 < 5000);
});

test('#12 the run lock is released on a normal end, and a lock whose pid now belongs to another process is stale', () => {
  const dir = tmp();
  const release = acquireRunLock(dir);
  assert.ok(existsSync(join(dir, '.lock')));
  release();
  assert.ok(!existsSync(join(dir, '.lock')));
  // pid 1 is alive, but it is not the process that wrote this lock (its start time differs).
  writeFileSync(join(dir, '.lock'), `1 999999999 ${(await_hostname())}\n`);
  const again = acquireRunLock(dir);
  again();
});
function await_hostname(): string { return spawnSync('hostname', { encoding: 'utf8' }).stdout.trim() || 'localhost'; }

test('#4 #16 a PNG bomb is refused from its header; a truncated PNG says so', () => {
  const png = encodePng(4, 4, new Uint8Array(64).fill(200));
  const bomb = Buffer.from(png);
  bomb.writeUInt32BE(32000, 16); bomb.writeUInt32BE(32000, 20);
  const rss0 = process.memoryUsage().rss;
  assert.throws(() => decodeImage(bomb), /PNG declares 32000x32000 pixels, over the limit of 40 megapixels/);
  assert.ok(process.memoryUsage().rss - rss0 < 100 * 2 ** 20);
  assert.throws(() => decodeImage(png.subarray(0, png.length - 20)), /truncated or corrupt PNG/);
});

test('#9 #10 #16 #17 image folders: corrupt cache rebuilt with a warning, bad entries skipped by name, stray top-level images warned', () => {
  const dir = tmp();
  for (const c of ['a', 'b']) {
    mkdirSync(join(dir, c));
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, c, `${i}.png`), encodePng(8, 8, new Uint8Array(256).fill(40 * i + (c === 'a' ? 0 : 100))));
  }
  writeFileSync(join(dir, 'stray.png'), encodePng(8, 8, new Uint8Array(256)));
  symlinkSync(join(dir, 'nowhere.png'), join(dir, 'a', 'dangling.png'));
  symlinkSync(join(dir, 'a', 'loop.png'), join(dir, 'a', 'loop.png'));
  mkdirSync(join(dir, 'b', 'x.png'));
  writeFileSync(join(dir, 'b', 'cut.png'), encodePng(8, 8, new Uint8Array(256).fill(9)).subarray(0, 40));
  const warnings: string[] = [];
  const first = loadImageFolder(dir, { size: 4, channels: 1, warn: (m) => warnings.push(m), parallelFrom: 0 });
  assert.equal(first.count, 6);
  for (const bad of ['dangling.png', 'loop.png', 'x.png', 'cut.png']) assert.ok(warnings.some((w) => w.includes(bad)), `no warning names ${bad}: ${warnings.join(' | ')}`);
  assert.ok(warnings.some((w) => /cut\.png.*truncated or corrupt PNG/.test(w)));
  assert.ok(warnings.some((w) => /1 image\(s\) at the top level .* are ignored/.test(w)));
  const cacheDir = join(dir, '.nestar-cache'), cache = join(cacheDir, readdirSync(cacheDir)[0]!);
  truncateSync(cache, 30);
  const w2: string[] = [];
  const second = loadImageFolder(dir, { size: 4, channels: 1, warn: (m) => w2.push(m), parallelFrom: 0 });
  assert.ok(w2.some((w) => w.includes(cache) && /corrupt/.test(w)), w2.join(' | '));
  assert.deepEqual(second.data, first.data);
  assert.throws(() => loadImageFolder(join(dir, 'stray.png'), { size: 4, channels: 1 }), /is a file, not a folder/);
});

test('#13 a grid written to a full disk names its path', () => {
  const dir = tmp(), out = join(dir, 'grid.png');
  symlinkSync('/dev/full', join(dir, `.grid.png.${process.pid}.tmp`));
  assert.throws(() => writeImageGrid(out, { data: new Float32Array(16), count: 1, height: 4, width: 4, channels: 1 }, 1), new RegExp(`cannot write ${out}: no space left on the device \\(ENOSPC\\)`));
  assert.deepEqual(readdirSync(dir), [], 'no temporary file is left behind');
});

test('#5 #13 #14 CLI: resume flags that disagree, bad values, and bad outputs fail before any work, naming the flag', () => {
  let r = cli('train', '--resume', '--out', run, '--width', '64');
  assert.equal(r.code, 2);
  assert.match(r.err.at(-1)!, /--resume: model\.width = 64 disagrees with the run .* which has 16/);
  r = cli('train', '--resume', '--out', run, '--method', 'raster');
  assert.match(r.err.at(-1)!, /model\.kind = "raster" disagrees/);
  r = cli('train', '--out', join(tmp(), 'x'), '--steps', '-1');
  assert.deepEqual(r.err, ["nestar: --steps expects an integer >= 1, got '-1'"]);
  const cfg = join(tmp(), 'null.json');
  writeFileSync(cfg, 'null');
  r = cli('train', '--config', cfg, '--out', join(tmp(), 'y'));
  assert.equal(r.code, 2);
  assert.match(r.err.at(-1)!, /--config: '.*null\.json' must hold a JSON object/);
  const outDir = tmp();
  r = cli('sample', '--checkpoint', run, '--out', outDir, '--n', '2');
  assert.equal(r.code, 2);
  assert.match(r.err.at(-1)!, /--out .* is a directory/);
  assert.deepEqual(readdirSync(outDir), []);
  r = cli('sample', '--checkpoint', run, '--cols', '0', '--out', join(outDir, 'g.png'));
  assert.deepEqual(r.err, ["nestar: --cols expects an integer >= 1, got '0'"]);
  r = cli('eval', '--checkpoint', run, '--compare', cfg, '--n', '10', '--out', join(outDir, 'ev'));
  assert.equal(r.code, 2);
  assert.match(r.err.at(-1)!, /--compare: '.*null\.json' is not a nestar eval report/);
  assert.ok(!existsSync(join(outDir, 'ev', 'samples.png')), 'refused before sampling');
  r = cli('train', '--out', '/sys/nestar-test-run', '--steps', '1');
  assert.equal(r.code, 1);
  assert.match(r.err.at(-1)!, /\/sys\/nestar-test-run cannot be created \(.+\)/);
});

test('#6 #12 CLI: sample in batches (any N, one PNG per image with --out-dir), resume applies --steps, train leaves no lock', () => {
  const dir = tmp();
  let r = cli('sample', '--checkpoint', run, '--n', '5', '--batch', '2', '--ode-steps', '2', '--out-dir', join(dir, 'imgs'));
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.deepEqual(readdirSync(join(dir, 'imgs')).sort(), ['000000.png', '000001.png', '000002.png', '000003.png', '000004.png']);
  const copy = join(tmp(), 'run');
  mkdirSync(copy);
  spawnSync('cp', ['-r', `${run}/.`, copy]);
  r = cli('train', '--resume', '--out', copy, '--steps', '3', '--sample-every', '3');
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.ok(r.err.some((l) => /resuming .* at step 2; train\.steps = 3; train\.sampleEvery = 3/.test(l)), r.err.join('\n'));
  assert.ok(!existsSync(join(copy, '.lock')), 'the lock is released when training ends');
  assert.match(readFileSync(join(copy, 'latest.json'), 'utf8'), /step-0000003/);
});
