// Issue #18 (#2): the page's server answers every malformed request and stays up, refuses other methods,
// unknown Host headers (DNS rebinding) and symlinks out of the checkpoint folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveWeb } from '../src/web/server.js';

/** One raw HTTP/1.1 request over its own socket; resolves with the status code (0 if the server closed without one). */
function raw(port: number, head: string): Promise<number> {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); ok(-1); }, 5000);
    s.on('data', (d) => { buf += d.toString('latin1'); });
    s.on('close', () => { clearTimeout(timer); ok(Number(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1] ?? 0)); });
    s.on('error', () => { /* reported as close */ });
    s.write(head); // not end(): a half-closed socket may be dropped before the answer; 'Connection: close' ends it
  });
}

test('#2 the web server: 400 for malformed URLs, 405 for other methods, 421 for foreign hosts, no symlinks out; 1,000 mixed bad requests and it stays up', async () => {
  const dist = mkdtempSync(join(tmpdir(), 'nestar-dist-'));
  writeFileSync(join(dist, 'index.html'), '<html>ok</html>');
  const ck = mkdtempSync(join(tmpdir(), 'nestar-ck-'));
  mkdirSync(join(ck, 'c'));
  symlinkSync('/etc/passwd', join(ck, 'c', 'state.json'));
  const srv = await serveWeb({ dist, checkpoints: { nestar: join(ck, 'c') } });
  const port = Number(new URL(srv.url).port), host = `127.0.0.1:${port}`;
  const get = (path: string, h = host, method = 'GET') => raw(port, `${method} ${path} HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`);
  try {
    assert.equal(await get('/'), 200);
    assert.equal(await get('/', `localhost:${port}`), 200);
    for (const p of ['/%E0%A4%A', '/%', '/checkpoints/%ZZ']) assert.equal(await get(p), 400, p);
    assert.equal(await get('/', host, 'POST'), 405);
    assert.equal(await get('/', host, 'DELETE'), 405);
    assert.equal(await get('/', 'evil.example:80'), 421);
    assert.equal(await get('/checkpoints/nestar/state.json'), 404, 'a state.json linking to /etc/passwd is not served');
    assert.equal(await get('/../../etc/passwd'), 404, 'dot segments never leave the served folder');
    const bad = ['GET /%E0%A4%A HTTP/1.1\r\nHost: H\r\n\r\n', 'PUT / HTTP/1.1\r\nHost: H\r\n\r\n', 'GET / HTTP/1.1\r\nHost: evil\r\n\r\n',
      'GARBAGE\r\n\r\n', 'GET /% HTTP/1.1\r\nHost: H\r\n\r\n', 'GET /checkpoints/nestar/state.json HTTP/1.1\r\nHost: H\r\n\r\n'];
    const t0 = Date.now();
    const codes = new Map<number, number>();
    for (let i = 0; i < 1000 && Date.now() - t0 < 60_000; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => raw(port, bad[(i + j) % bad.length]!.replace('Host: H', `Host: ${host}`).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'))));
      for (const c of batch) codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    const total = [...codes.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, 1000, `answered ${total} of 1000 in ${Date.now() - t0} ms`);
    for (const c of codes.keys()) assert.ok([400, 404, 405, 421].includes(c), `unexpected status ${c} (${JSON.stringify([...codes])})`);
    assert.equal(await get('/'), 200, 'still up');
  } finally {
    await srv.close();
  }
});

test('nestar web --shipped: each set names its three methods\' shipped folders; an unknown set or one mixed with --checkpoint is an error naming the flag', async () => {
  const { shippedCheckpoints, WEB_SETS } = await import('../src/cli/webCommand.js');
  const emoji = shippedCheckpoints('emoji-32');
  // The repository ships all three emoji-32 models (RESULTS.md's emoji rows).
  assert.deepEqual(emoji.map((c) => c.split('=')[0]), ['nestar', 'raster', 'nextscale']);
  for (const c of emoji) assert.match(c, /checkpoints\/emoji-32\/(nestar|raster|nextscale)$/);
  assert.equal(shippedCheckpoints('mnist')[0], `nestar=${WEB_SETS.mnist!.nestar}`);
  assert.throws(() => shippedCheckpoints('emoji-99'), /--shipped emoji-99: unknown set; expected mnist or emoji-32/);
  const { root } = await import('./cliRun.js');
  // With a timeout: a guard that let these through would start serving, and the test must fail, not hang.
  const web = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'web', ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  const bad = web(['--shipped', 'cats']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--shipped cats: unknown set/);
  const both = web(['--shipped', 'emoji-32', '--checkpoint', 'runs/demo']);
  assert.equal(both.status, 2, 'the page started instead of refusing --shipped with --checkpoint');
  assert.match(both.stderr, /--shipped and --checkpoint: give one of them/);
});
