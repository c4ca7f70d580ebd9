// Builds the optional native kernel pack (native/) with node-gyp against the system OpenBLAS.
// Install must never fail because of it: on any problem we print one line and the WASM path is used.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const statusFile = join(nativeDir, 'build', 'status.json');

function finish(ok, reason) {
  mkdirSync(join(nativeDir, 'build'), { recursive: true });
  writeFileSync(statusFile, JSON.stringify({ ok, reason, at: new Date().toISOString() }) + '\n');
  if (!ok) console.warn(`nestar: native kernel pack not built (${reason}); the WASM backend will be used.`);
  else console.log('nestar: native kernel pack built (OpenBLAS).');
  process.exit(0);
}

if (process.env.NESTAR_SKIP_NATIVE === '1') finish(false, 'NESTAR_SKIP_NATIVE=1');
const hasBlas = ['/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/openblas/cblas.h',
  '/usr/include/cblas.h', '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h'].some(existsSync);
if (!hasBlas) finish(false, 'OpenBLAS headers not found; install Debian libopenblas-dev');

// node-gyp normally downloads Node headers; use the local ones so the build works offline.
const nodedir = [dirname(dirname(process.execPath)), '/usr', '/usr/local']
  .find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
const gyp = [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', '/usr/share/nodejs/node-gyp/bin/node-gyp.js']
  .find(existsSync);
if (!gyp) finish(false, 'node-gyp not found');
const args = [gyp, 'rebuild', '--silent'];
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { cwd: nativeDir, encoding: 'utf8' });
if (r.status !== 0) {
  const line = (r.stderr || r.stdout || '').split('\n').find((l) => /error/i.test(l)) ?? `exit ${r.status}`;
  finish(false, `compile failed: ${line.trim().slice(0, 200)}`);
}
finish(true, 'built');
