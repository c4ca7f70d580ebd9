// The API reference (docs/api, Markdown from the TSDoc comments by TypeDoc) must be current and complete:
// TypeDoc fails on any exported symbol of `nestar` or `nestar/browser` without a description (typedoc.json
// treats its warnings as errors), and a fresh generation must equal the committed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

test('every exported symbol is documented and docs/api is what `npm run docs` generates', () => {
  const out = mkdtempSync(join(tmpdir(), 'nestar-api-'));
  try {
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `typedoc failed (an undocumented export?):\n${(r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '').slice(-3000)}`);
    const fresh = files(out), committed = files(join(root, 'docs', 'api'));
    assert.deepEqual(committed, fresh, 'docs/api lists other files than a fresh generation: run npm run docs');
    for (const f of fresh) assert.equal(readFileSync(join(root, 'docs', 'api', f), 'utf8'), readFileSync(join(out, f), 'utf8'), `docs/api/${f} is stale: run npm run docs`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
