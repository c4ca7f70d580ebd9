// Loading a checkpoint from bytes or URLs (nestar/browser's path) gives the same model as loading it from
// disk, and every failure names the file or URL.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setup } from './helpers.js';
import { fetchPipeline, pipelineFromBytes } from '../src/checkpointBytes.js';
import { loadPipeline } from '../src/pipeline.js';
import { SHIPPED_DEMO } from '../src/cli/paths.js';

const file = (name: string) => readFileSync(join(SHIPPED_DEMO, name));
/** A fetch that serves the shipped demo checkpoint's files under /ckpt/, and 404 for anything else. */
const fakeFetch = (async (url: string) => {
  const m = /^\/ckpt\/(state\.json|ema\.safetensors)$/.exec(String(url));
  return m ? new Response(file(m[1]!)) : new Response('nope', { status: 404 });
}) as typeof fetch;

before(async () => { await setup(); });

test('bytes and fetched URLs give the same samples as the checkpoint loaded from disk', async () => {
  const opts = { count: 2, classes: [3, 7], cfg: 2, odeSteps: 4, seed: 5 };
  const disk = loadPipeline(SHIPPED_DEMO), bytes = pipelineFromBytes({ state: file('state.json'), weights: file('ema.safetensors') });
  const fetched = await fetchPipeline('/ckpt/', { fetchFn: fakeFetch, method: 'nestar' });
  const perFile = await fetchPipeline({ state: '/ckpt/state.json', weights: '/ckpt/ema.safetensors' }, { fetchFn: fakeFetch });
  const ref = (await disk.generate(opts)).tokens;
  for (const p of [bytes, fetched, perFile]) assert.deepEqual((await p.generate(opts)).tokens, ref);
  assert.equal(fetched.step, disk.step);
  for (const p of [disk, bytes, fetched, perFile]) p.dispose();
});

test('a missing, broken or mismatched checkpoint is an error naming the file or URL', async () => {
  await assert.rejects(fetchPipeline('/nowhere', { fetchFn: fakeFetch }), /\/nowhere\/state\.json: HTTP 404/);
  await assert.rejects(fetchPipeline({ state: '/ckpt/state.json', weights: '/ckpt/missing.safetensors' }, { fetchFn: fakeFetch }), /\/ckpt\/missing\.safetensors: HTTP 404/);
  assert.throws(() => pipelineFromBytes({ state: '{not json', weights: file('ema.safetensors'), source: 'my-ckpt' }), /my-ckpt\/state\.json is not JSON/);
  assert.throws(() => pipelineFromBytes({ state: file('state.json'), weights: new Uint8Array(16), source: 'my-ckpt' }), /my-ckpt\/ema\.safetensors/);
  await assert.rejects(fetchPipeline('/ckpt', { fetchFn: fakeFetch, method: 'raster' }), /holds a 'nestar' model, but --method raster/);
});
