// nestar/browser must bundle for the browser: Vite builds src/browser.ts as a library, and every module it
// reaches from nestar's own sources is recorded; a Node built-in or a Node-only package fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { build, type Plugin, type Rollup } from 'vite';

const root = resolve(import.meta.dirname, '..');
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

test('nestar/browser bundles for the browser with no Node built-in or Node-only package in its import graph', async () => {
  const bare = new Map<string, string>(), nodeOnly: string[] = [];
  const watch: Plugin = {
    name: 'nestar-import-graph', enforce: 'pre',
    resolveId(id, importer) {
      if (!importer || !importer.startsWith(join(root, 'src'))) return null;
      const from = relative(root, importer);
      if (builtins.has(id) || builtins.has(id.split('/')[0]!)) nodeOnly.push(`${id} (imported by ${from})`);
      else if (!id.startsWith('.') && !id.startsWith('/')) bare.set(id, from);
      else return null;
      // Left out of the bundle, so the build finishes and the assertions below name every offender.
      return { id, external: true };
    },
  };
  const out = await build({
    configFile: false, logLevel: 'silent', root,
    plugins: [watch],
    build: {
      write: false, minify: false, target: 'es2022',
      lib: { entry: join(root, 'src', 'browser.ts'), formats: ['es'], fileName: 'browser' },
      // Packages stay external (tfjs is browser-safe by design and the user's bundler includes it): nestar's
      // own graph is what is checked.
    },
  }) as Rollup.RollupOutput[] | Rollup.RollupOutput;
  assert.deepEqual(nodeOnly, [], `Node built-ins reached from nestar/browser: ${nodeOnly.join(', ')}`);
  const allowed = new Set(['@tensorflow/tfjs-core']);
  const others = [...bare].filter(([id]) => !allowed.has(id)).map(([id, from]) => `${id} (imported by ${from})`);
  assert.deepEqual(others, [], `packages other than tfjs-core reached from nestar/browser: ${others.join(', ')}`);
  const chunk = (Array.isArray(out) ? out[0]! : out).output.find((o) => o.type === 'chunk') as Rollup.OutputChunk;
  for (const name of ['fetchPipeline', 'pipelineFromBytes', 'NestARPipeline', 'integrateFlow', 'gridRgba']) {
    assert.ok(chunk.exports.includes(name), `the bundle exports ${name}`);
  }
  // The subpath users import is wired to this entry, typed.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
  assert.deepEqual(pkg.exports['./browser'], { types: './dist/browser.d.ts', default: './dist/browser.js' });
});
