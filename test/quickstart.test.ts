// The README's quick start is what CI runs (issue #50): the commands of the README's first ```sh block are exactly
// the commands .ci/run runs, in the same order, and .ci/run runs nothing else (its set/cd/export lines only set up
// the shell). Also: every relative link in README.md and docs/*.md names a file that exists, and the README stays a
// front page (at most 250 lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

/** Command lines of the README's quick-start block: the first ```sh block after the "Quick start" heading. */
export function quickStartCommands(readme: string): string[] {
  const section = readme.split(/^## Quick start$/m)[1];
  if (section === undefined) throw new Error('README.md has no "## Quick start" section');
  const block = /```(?:sh|bash)\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README.md\'s quick start has no ```sh block');
  return block[1]!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** Command lines of a shell script, less comments and the lines that only set up the shell. */
export function scriptCommands(script: string): string[] {
  return script.split('\n').map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !/^(set -|cd "\$\(dirname|export [A-Z_]+=)/.test(l));
}

test('.ci/run runs exactly the README\'s quick-start commands, in order', () => {
  const readme = quickStartCommands(read('README.md')), ci = scriptCommands(read('.ci/run'));
  assert.equal(readme.length, 2, 'the quick start is two commands: install + demo, then the tests');
  assert.match(readme[1]!, /^npm test$/);
  assert.deepEqual(ci, readme);
});

test('the quick-start comparison notices a changed, missing or extra command', () => {
  const readme = '# x\n\n## Quick start\n\n```sh\napt-get install -y a && npm install\nnpm test\n```\n';
  const cmds = quickStartCommands(readme);
  assert.deepEqual(scriptCommands('#!/bin/sh\nset -eu\ncd "$(dirname "$0")/.."\napt-get install -y a && npm install\nnpm test\n'), cmds);
  assert.notDeepEqual(scriptCommands('apt-get install -y a b && npm install\nnpm test\n'), cmds);
  assert.notDeepEqual(scriptCommands('npm test\n'), cmds);
  assert.notDeepEqual(scriptCommands('apt-get install -y a && npm install\nnpm test\nnpm run mutation\n'), cmds);
});

/** Relative link targets of a Markdown file (images included), without their #anchors. */
export function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.replace(/```[\s\S]*?```/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^(https?:|mailto:|#)/.test(target)) continue;
    out.push(decodeURIComponent(target.split('#')[0]!));
  }
  return out;
}

test('every relative link in README.md and docs/*.md resolves', () => {
  const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const broken: string[] = [];
  let checked = 0;
  for (const f of files) {
    for (const link of relativeLinks(read(f))) {
      checked++;
      if (!existsSync(join(ROOT, dirname(f), link))) broken.push(`${f}: ${link}`);
    }
  }
  assert.ok(checked > 20, `expected the docs' links, found ${checked}`);
  assert.deepEqual(broken, []);
  assert.deepEqual(relativeLinks('[a](x.md#s) ![b](img.png) [c](https://e.org) [d](#here)\n```\n[e](in-code.md)\n```'), ['x.md', 'img.png']);
});

test('the README is a front page: at most 250 lines', () => {
  const lines = read('README.md').split('\n').length;
  assert.ok(lines <= 250, `README.md has ${lines} lines`);
});
