// The package as a user gets it (issue #21): `npm pack`, install the tarball into an empty folder, then run
// `npx nestar demo`, every verb's --help, the Node example and the browser example (built with Vite against
// the installed nestar/browser and run in headless Chromium) from that install.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, createReadStream, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
// @ts-expect-error: a plain .mjs script shared with `node scripts/package-check.mjs`
import { LIMITS, ROOT, cleanEnv, packAndInstall } from '../scripts/package-check.mjs';
import { VERBS } from '../src/cli/verbs.js';

interface Installed { work: string; app: string; files: string[]; tarballBytes: number; nodeModulesBytes: number }
let pkg: Installed, browser: Browser | undefined, server: Server | undefined;

before(() => {
  pkg = packAndInstall() as Installed;
});

after(async () => {
  await browser?.close();
  server?.close();
  if (pkg?.work) rmSync(pkg.work, { recursive: true, force: true });
});

/** Runs a command in the installed app; returns its output, failing the test with it on a non-zero exit. */
function runInApp(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: pkg.app, encoding: 'utf8', env: cleanEnv() });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

/** Fraction of distinct grey levels and the spread of a PNG's red channel: a blank or uniform image fails. */
function pngStats(path: string): { width: number; height: number; std: number } {
  const png = PNG.sync.read(readFileSync(path));
  let s = 0, s2 = 0;
  const n = png.width * png.height;
  for (let i = 0; i < n; i++) { const v = png.data[i * 4]!; s += v; s2 += v * v; }
  return { width: png.width, height: png.height, std: Math.sqrt(s2 / n - (s / n) ** 2) };
}

test('the tarball is within its size bound and ships what demo, web and evaluation need, not the whole checkpoints folder', () => {
  assert.ok(pkg.tarballBytes <= LIMITS.tarballBytes, `tarball ${(pkg.tarballBytes / 1e6).toFixed(1)} MB > ${LIMITS.tarballBytes / 1e6} MB`);
  assert.ok(pkg.nodeModulesBytes <= LIMITS.nodeModulesBytes, `installed node_modules ${(pkg.nodeModulesBytes / 1e6).toFixed(0)} MB > ${LIMITS.nodeModulesBytes / 1e6} MB`);
  for (const f of ['dist/index.js', 'dist/browser.js', 'dist/browser.d.ts', 'vendor/tfjs-gradients.js', 'web/dist/index.html',
    'checkpoints/mnist-patch/long/nestar-3600/ema.safetensors', 'checkpoints/web/raster/ema.safetensors',
    'checkpoints/web/nextscale/ema.safetensors', 'checkpoints/features/mnist/feature-net.safetensors']) {
    assert.ok(pkg.files.includes(f), `the tarball has ${f}`);
  }
  // Every source of the native pack (each .c, .h and binding.gyp under native/) ships, so the install can build it.
  const nativeSources = readdirSync(join(ROOT, 'native')).filter((f) => /\.(c|h|gyp)$/.test(f)).map((f) => `native/${f}`);
  assert.ok(nativeSources.length >= 8, `native sources found: ${nativeSources.join(', ')}`);
  for (const f of nativeSources) assert.ok(pkg.files.includes(f), `the tarball has ${f}`);
  if (existsSync(join(ROOT, 'native', 'build', 'Release', 'nestar_native.node'))) {
    // Where this checkout built its native pack, the installed package must have built it too (every source shipped).
    const status = JSON.parse(readFileSync(join(pkg.app, 'node_modules', 'nestar', 'native', 'build', 'status.json'), 'utf8')) as { ok: boolean; reason: string };
    assert.ok(status.ok, `the installed package's native pack: ${status.reason}`);
  }
  assert.ok(!pkg.files.some((f) => f.startsWith('checkpoints/mnist-patch/ablations/') || f.startsWith('checkpoints/mnist-latent/')), 'ablation and latent checkpoints stay in the repository');
  const installed = JSON.parse(readFileSync(join(pkg.app, 'node_modules', 'nestar', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dev of ['vite', '@tensorflow/tfjs', 'esbuild', 'typescript']) assert.ok(!(dev in installed.dependencies), `${dev} is not a runtime dependency`);
  assert.ok(!existsSync(join(pkg.app, 'node_modules', 'vite')) && !existsSync(join(pkg.app, 'node_modules', '@tensorflow', 'tfjs')), 'neither Vite nor the tfjs umbrella is installed');
});

test('npx nestar demo and every verb\'s --help work from the installed package', () => {
  const out = runInApp('npx', ['nestar', 'demo', '--out', 'demo']);
  assert.match(out, /sequential calls per image/);
  const s = pngStats(join(pkg.app, 'demo', 'demo-grid.png'));
  assert.ok(s.width > 200 && s.std > 20, `demo grid ${s.width}x${s.height}, std ${s.std.toFixed(1)}`);
  for (const verb of VERBS) {
    const help = runInApp('npx', ['nestar', verb, '--help']);
    assert.ok(help.startsWith(`nestar ${verb}`), `nestar ${verb} --help starts with its usage line, got ${JSON.stringify(help.slice(0, 60))}`);
  }
});

test('the Node example samples a grid from the installed package', () => {
  cpSync(join(ROOT, 'examples', 'node', 'sample-grid.mjs'), join(pkg.app, 'sample-grid.mjs'));
  const lines = readFileSync(join(ROOT, 'examples', 'node', 'sample-grid.mjs'), 'utf8').trimEnd().split('\n').length;
  assert.ok(lines <= 20, `the Node example is ${lines} lines`);
  const out = runInApp('node', ['sample-grid.mjs', 'grid.png']);
  assert.match(out, /grid\.png: 80 images in [\d.]+ s on \w+, 10 sequential network calls/);
  const s = pngStats(join(pkg.app, 'grid.png'));
  assert.ok(s.std > 20, `grid std ${s.std.toFixed(1)}`);
});

test('the browser example builds with Vite against the installed nestar/browser and streams every nested stage into the page', async () => {
  const src = join(pkg.app, 'browser-example');
  cpSync(join(ROOT, 'examples', 'browser'), src, { recursive: true });
  const dist = join(src, 'dist');
  // The repository's Vite, but every import (nestar/browser, its checkpoint assets, tfjs) resolves from the app.
  await build({ configFile: false, root: src, logLevel: 'silent', build: { outDir: dist, emptyOutDir: true } });
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  server = createServer((req, res) => {
    const rel = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const p = join(dist, rel === '/' ? 'index.html' : rel);
    if (!p.startsWith(dist) || !existsSync(p) || !statSync(p).isFile()) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': types[extname(p)] ?? 'application/octet-stream' });
    createReadStream(p).pipe(res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  browser = await chromium.launch({ executablePath: process.env.NESTAR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update'] });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector('#go:not([disabled])', { timeout: 60_000 });
  assert.match(await page.textContent('#status') ?? '', /ready: 10 sequential calls per image, tfjs wasm/);
  await page.click('#go');
  await page.waitForSelector('body[data-done]', { timeout: 120_000 });
  assert.deepEqual(errors, []);
  assert.equal(await page.getAttribute('body', 'data-done'), '10');
  // One canvas per sequential call, each with more of the image made than the one before.
  const inked = await page.$$eval('#stages canvas', (cs) => (cs as HTMLCanvasElement[]).map((c) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const distinct = new Set<number>();
    for (let i = 0; i < d.length; i += 4) distinct.add(d[i]!);
    return distinct.size;
  }));
  assert.equal(inked.length, 10, 'one stage canvas per sequential call');
  assert.ok(inked[9]! > 20, `the final stage has ${inked[9]} grey levels`);
  assert.ok(inked[9]! > inked[0]!, `stages fill in: first ${inked[0]}, last ${inked[9]} grey levels`);
});
