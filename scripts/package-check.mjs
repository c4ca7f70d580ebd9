// Packs nestar as npm would publish it and installs the tarball into an empty folder, recording the tarball
// size, the installed node_modules size and the install time. test/package.test.ts uses it (and then runs the
// demo and the examples from that install); run directly it writes results/package.json:
//   node scripts/package-check.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const LIMITS = { tarballBytes: 15e6, nodeModulesBytes: 250e6 };

/** Bytes under `dir` (files only, links not followed), as `du --apparent-size` counts them. */
export function treeBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += treeBytes(p);
    else if (e.isFile()) total += lstatSync(p).size;
  }
  return total;
}

/**
 * The environment for a nested npm/npx: without the npm_* variables of an npm that runs us (`npm test` sets its
 * lifecycle and config there, and `npm exec -c` its --call, which a nested npx would take as its own).
 */
export function cleanEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, ...extra };
}

const npm = (args, cwd, env = {}) => {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: cleanEnv({ npm_config_audit: 'false', npm_config_fund: 'false', ...env }) });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in ${cwd}) failed with exit ${r.status}:\n${(r.stderr || r.stdout).slice(-2000)}`);
  return r.stdout;
};

/**
 * `npm pack` (which builds dist, vendor and web/dist first), then `npm install` of the tarball into a new
 * folder with a bare package.json. Dependencies come from the registry or npm's cache, as for any user.
 */
export function packAndInstall(work = mkdtempSync(join(tmpdir(), 'nestar-pack-'))) {
  const t0 = Date.now();
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], ROOT));
  const packSeconds = (Date.now() - t0) / 1000;
  const tarball = join(work, info.filename);
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'nestar-user-app', private: true, type: 'module' }, null, 2) + '\n');
  const t1 = Date.now();
  npm(['install', '--prefer-offline', '--no-package-lock', tarball], app);
  const installSeconds = (Date.now() - t1) / 1000;
  const files = info.files.map((f) => f.path);
  return {
    work, app, tarball, files, packSeconds, installSeconds,
    tarballBytes: info.size, unpackedBytes: info.unpackedSize, entryCount: info.entryCount,
    nodeModulesBytes: treeBytes(join(app, 'node_modules')),
    nestarBytes: treeBytes(join(app, 'node_modules', 'nestar')),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = packAndInstall();
  const mb = (b) => +(b / 1e6).toFixed(1);
  const report = {
    command: 'node scripts/package-check.mjs', date: new Date().toISOString(), node: process.version,
    npm: execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim(),
    tarballMB: mb(r.tarballBytes), unpackedMB: mb(r.unpackedBytes), entryCount: r.entryCount,
    installedNodeModulesMB: mb(r.nodeModulesBytes), installedNestarMB: mb(r.nestarBytes),
    // The development install (npm ci in the checkout: Vite, TypeScript, TypeDoc, Playwright, the browser backends).
    checkoutNodeModulesMB: mb(treeBytes(join(ROOT, 'node_modules'))),
    packSeconds: +r.packSeconds.toFixed(1), installSeconds: +r.installSeconds.toFixed(1),
    limits: { tarballMB: mb(LIMITS.tarballBytes), nodeModulesMB: mb(LIMITS.nodeModulesBytes) },
    note: 'install from npm\'s cache (--prefer-offline) after npm ci in the checkout; includes building the native kernel pack',
  };
  mkdirSync(join(ROOT, 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'results', 'package.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
}
