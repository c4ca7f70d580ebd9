// The browser page (issue #9), end to end in Debian's headless Chromium: it loads a tiny checkpoint,
// generates in its worker, shows the counted calls, and its tokens equal the Node sampler's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { setup, maxRelErr } from './helpers.js';
import { resolveRunConfig } from '../src/train/config.js';
import { Trainer } from '../src/train/trainer.js';
import { loadMnist } from '../src/data/mnist.js';
import { resolveCheckpointDir } from '../src/train/checkpoint.js';
import { loadPipeline } from '../src/pipeline.js';
import { buildWeb, serveWeb, type WebServer } from '../src/web/server.js';
import { encodePng } from '../src/util/png.js';
import type { NestARConfig } from '../src/model/config.js';

const root = new URL('..', import.meta.url).pathname;
let runDir = '', patchRun = '', dist = '', browser: Browser;
const servers: WebServer[] = [];

before(async () => {
  await setup();
  runDir = mkdtempSync(join(tmpdir(), 'nestar-web-'));
  const cfg = resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, tokenizer: { patch: 8 },
    train: { steps: 3, batchSize: 8, checkpointEvery: 3, sampleEvery: 100 } });
  const t = Trainer.create(cfg, { runDir, data: loadMnist({ split: 'train', limit: 16 }) });
  for (let i = 0; i < 3; i++) t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  // The same tiny model with the patch flow head and the interleaved order (issue #17).
  patchRun = mkdtempSync(join(tmpdir(), 'nestar-web-patch-'));
  const pc = resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1, headKind: 'patch', headHeads: 2, order: 'interleaved' }, tokenizer: { patch: 8 },
    train: { steps: 3, batchSize: 8, checkpointEvery: 3, sampleEvery: 100 } });
  const tp = Trainer.create(pc, { runDir: patchRun, data: loadMnist({ split: 'train', limit: 16 }) });
  for (let i = 0; i < 3; i++) tp.trainStep();
  tp.saveCheckpoint();
  tp.dispose();
  dist = await buildWeb();
  const exe = process.env.NESTAR_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(exe)) throw new Error(`Chromium not found at ${exe}: apt-get install chromium (.ci/run does), or set NESTAR_CHROMIUM`);
  browser = await chromium.launch({ executablePath: process.env.NESTAR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'] });
});

after(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
});

/** Sets the page's controls (classes cycling 0, 1, …), presses Generate and waits until it is done. */
async function generateOnPage(page: Page, o: { count: number; odeSteps: number; seed: number; cfg: number; schedule?: 'constant' | 'linear' }): Promise<void> {
  await page.fill('#count', String(o.count));
  await page.fill('#odeSteps', String(o.odeSteps));
  await page.fill('#seed', String(o.seed));
  await page.fill('#cfg', String(o.cfg));
  await page.selectOption('#cfgSchedule', o.schedule ?? 'constant');
  await page.selectOption('#class', 'cycle');
  await page.click('#generate');
  await page.waitForSelector('#status[data-state="done"]', { timeout: 120_000 });
}

test('the page generates with a tiny checkpoint: counted calls equal the formula, canvas not blank, tokens equal Node\'s', async () => {
  const web = await serveWeb({ dist, checkpoints: { nestar: runDir } });
  servers.push(web);
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  await page.goto(`${web.url}?backend=wasm`);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 }).catch((e: Error) => { throw new Error(`${e.message}\n${logs.join('\n')}`); });
  assert.equal(await page.getAttribute('body', 'data-backend'), 'wasm');
  await generateOnPage(page, { count: 4, odeSteps: 4, seed: 3, cfg: 2 });
  // The formula n1 + (M−1)(k−1), with M = 1 + log_k(n / n1), from the checkpoint's config.
  const c = resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1 }, tokenizer: { patch: 8 } }).model as NestARConfig;
  const M = 1 + Math.round(Math.log(c.gridSize ** 2 / c.n1) / Math.log(c.k));
  const expected = c.n1 + (M - 1) * (c.k - 1);
  assert.equal(expected, 7);
  assert.equal(Number(await page.getAttribute('#calls', 'data-calls')), expected);
  assert.match(await page.textContent('#calls') ?? '', new RegExp(`calls ${expected} / ${expected}`));
  // Not blank: the drawn pixels vary, and none is left in the "not made yet" colour.
  const stats = await page.evaluate(() => {
    const c = document.getElementById('canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0, sq = 0, unmade = 0;
    for (let i = 0; i < d.length; i += 4) { sum += d[i]!; sq += d[i]! * d[i]!; if (d[i] === 20 && d[i + 1] === 28 && d[i + 2] === 51) unmade++; }
    const n = d.length / 4;
    return { w: c.width, h: c.height, std: Math.sqrt(sq / n - (sum / n) ** 2), unmade, stages: document.querySelectorAll('#stages figure').length };
  });
  assert.ok(stats.w > 0 && stats.h > 0 && stats.std > 5, JSON.stringify(stats));
  assert.equal(stats.unmade, 0, 'every pixel of the finished canvas is made');
  assert.equal(stats.stages, 2, 'one stage snapshot per module');
  mkdirSync(join(root, 'results'), { recursive: true });
  await page.screenshot({ path: join(root, 'results', 'web-e2e.png'), fullPage: true });
  // The worker's tokens vs the Node sampler's for the same checkpoint and seed (WASM in the browser; WASM
  // plus our BLAS matmul in Node): equal within float tolerance.
  const browserResult = await page.evaluate(() => (window as unknown as { __nestarResult: { tokens: number[] } }).__nestarResult);
  const pipe = loadPipeline(runDir);
  const node = await pipe.generate({ count: 4, classes: [0, 1, 2, 3], cfg: 2, temperature: 1, odeSteps: 4, seed: 3 });
  pipe.dispose();
  assert.equal(browserResult.tokens.length, node.tokens.length);
  const err = maxRelErr(browserResult.tokens, node.tokens);
  assert.ok(err < 1e-3, `browser vs Node tokens: max relative error ${err}`);
  await page.close();
});

test('a patch-head, interleaved-order checkpoint generates in the page with the same tokens as Node, with the linear guidance schedule chosen on the page', async () => {
  const web = await serveWeb({ dist, checkpoints: { nestar: patchRun } });
  servers.push(web);
  const page = await browser.newPage();
  await page.goto(`${web.url}?backend=wasm`);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 });
  await generateOnPage(page, { count: 2, odeSteps: 3, seed: 5, cfg: 3, schedule: 'linear' });
  const unmade = await page.evaluate(() => {
    const c = document.getElementById('canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let u = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] === 20 && d[i + 1] === 28 && d[i + 2] === 51) u++;
    return u;
  });
  assert.equal(unmade, 0);
  const browserResult = await page.evaluate(() => (window as unknown as { __nestarResult: { tokens: number[]; settings: { cfg: number; cfgSchedule: string } } }).__nestarResult);
  // The schedule chosen on the page is in the settings the worker's sampler ran with (this tiny model's class signal is
  // too weak for the ramp to move its tokens measurably, so the tokens alone cannot tell the schedules apart).
  assert.deepEqual([browserResult.settings.cfg, browserResult.settings.cfgSchedule], [3, 'linear']);
  const pipe = loadPipeline(patchRun);
  const node = await pipe.generate({ count: 2, classes: [0, 1], cfg: 3, cfgSchedule: 'linear', temperature: 1, odeSteps: 3, seed: 5 });
  pipe.dispose();
  const err = maxRelErr(browserResult.tokens, node.tokens);
  assert.ok(err < 1e-3, `browser vs Node tokens (patch head, linear guidance): max relative error ${err}`);
  await page.close();
});

test('without ?backend the page passes over WebGL that is a software renderer (or does not start) and says why', async () => {
  const web = await serveWeb({ dist, checkpoints: { nestar: runDir } });
  servers.push(web);
  const page = await browser.newPage();
  await page.goto(web.url);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute('body', 'data-backend'), 'wasm');
  assert.match(await page.textContent('#status') ?? '', /webgl \((software renderer .*slower than WASM|did not start)\)/);
  await page.close();
});

test('a corrupt or missing checkpoint is an error on the page, not a blank canvas', async () => {
  const bad = mkdtempSync(join(tmpdir(), 'nestar-web-bad-'));
  cpSync(resolveCheckpointDir(runDir), bad, { recursive: true });
  writeFileSync(join(bad, 'ema.safetensors'), 'not a safetensors file');
  for (const [dir, pattern] of [[bad, /ema\.safetensors/], [join(bad, 'missing'), /state\.json/]] as const) {
    const web = await serveWeb({ dist, checkpoints: { nestar: dir } });
    servers.push(web);
    const page = await browser.newPage();
    await page.goto(`${web.url}?backend=wasm`);
    await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
    assert.match(await page.textContent('#error') ?? '', pattern);
    assert.equal(await page.getAttribute('#status', 'data-state'), 'error');
    assert.equal(await page.isDisabled('#generate'), true);
    await page.close();
  }
});

test('a colour checkpoint trained on a labelled folder: the page lists its class names and draws in colour, with Node\'s tokens', async () => {
  // 16x16 colour images in two class folders, 'red <b>' (a name that must stay text) and 'blue'.
  const folder = mkdtempSync(join(tmpdir(), 'nestar-web-colour-'));
  for (const [name, rgb] of [['blue', [20, 40, 230]], ['red <b>', [230, 30, 20]]] as const) {
    mkdirSync(join(folder, name));
    for (let i = 0; i < 10; i++) {
      const px = new Uint8Array(16 * 16 * 4);
      for (let p = 0; p < 256; p++) px.set([...rgb.map((v) => Math.max(0, v - 3 * i - (p % 16))), 255], p * 4);
      writeFileSync(join(folder, name, `${i}.png`), encodePng(16, 16, px));
    }
  }
  const run = mkdtempSync(join(tmpdir(), 'nestar-web-colour-run-'));
  const cfg = resolveRunConfig({ model: { width: 16, depth: 1, heads: 2, headWidth: 16, headDepth: 1, numClasses: 2 }, data: { source: folder, imageSize: 16, channels: 3 },
    tokenizer: { patch: 4 }, train: { steps: 3, batchSize: 8 } });
  const t = Trainer.create(cfg, { runDir: run });
  for (let i = 0; i < 3; i++) t.trainStep();
  t.saveCheckpoint();
  t.dispose();
  const web = await serveWeb({ dist, checkpoints: { nestar: run } });
  servers.push(web);
  const page = await browser.newPage();
  await page.goto(`${web.url}?backend=wasm`);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 120_000 });
  const options = await page.$$eval('#class option', (os) => (os as HTMLOptionElement[]).map((o) => [o.value, o.textContent]));
  assert.deepEqual(options, [['cycle', 'each class in turn'], ['-1', 'unconditional'], ['0', 'blue'], ['1', 'red <b>']]);
  await generateOnPage(page, { count: 2, odeSteps: 3, seed: 2, cfg: 2 });
  // Colour: some drawn pixel has channels that differ (a grey-only page would not).
  const coloured = await page.evaluate(() => {
    const c = document.getElementById('canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - d[i + 1]!) > 10 || Math.abs(d[i + 1]! - d[i + 2]!) > 10) n++;
    return n;
  });
  assert.ok(coloured > 50, `${coloured} coloured pixels`);
  const browserResult = await page.evaluate(() => (window as unknown as { __nestarResult: { tokens: number[] } }).__nestarResult);
  const pipe = loadPipeline(run);
  const node = await pipe.generate({ count: 2, classes: [0, 1], cfg: 2, temperature: 1, odeSteps: 3, seed: 2 });
  pipe.dispose();
  assert.ok(maxRelErr(browserResult.tokens, node.tokens) < 1e-3);
  await page.close();
});
