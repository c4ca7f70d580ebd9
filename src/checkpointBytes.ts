// Checkpoint loading from bytes and URLs, for browsers and any runtime without a file system: a checkpoint is
// state.json, one weights file (ema.safetensors, or model.safetensors for the raw weights) and, for a model on
// latents, tokenizer.safetensors. The Node entry reads the same files from disk (pipeline.ts).
import type { Method } from './model/generator.js';
import { NestARPipeline } from './pipelineCore.js';
import { decodeSafetensors } from './util/safetensors.js';

/** Bytes as `fetch`, `FileReader` or `fs.readFile` give them. */
export type Bytes = Uint8Array | ArrayBuffer;

/** A checkpoint's files, already read: state.json (text, bytes or the parsed object) and its weights. */
export interface CheckpointBytes {
  state: string | Bytes | object;
  weights: Bytes;
  /** tokenizer.safetensors: needed exactly when state.json has a `tokenizer` section (a latent-space model). */
  tokenizer?: Bytes;
  /** Names the checkpoint in error messages (a folder URL or path); its files are named under it. */
  source?: string;
  /** The weights file's name in error messages, when not `<source>/ema.safetensors` (a URL of its own, say). */
  weightsName?: string;
}

/** Where a checkpoint's files are: a folder URL (its files under their usual names), or one URL per file. */
export type CheckpointUrls = string | { state: string; weights: string; tokenizer?: string };

const asBytes = (b: Bytes) => (b instanceof Uint8Array ? b : new Uint8Array(b));

/** A pipeline from a checkpoint's bytes; with `method`, a checkpoint of another method is an error. */
export function pipelineFromBytes(files: CheckpointBytes, opts: { method?: Method } = {}): NestARPipeline {
  const source = files.source ?? 'checkpoint';
  let state = files.state;
  if (state instanceof ArrayBuffer || state instanceof Uint8Array) state = new TextDecoder().decode(asBytes(state));
  if (typeof state === 'string') {
    try {
      state = JSON.parse(state) as object;
    } catch (e) {
      throw new Error(`${source}/state.json is not JSON: ${(e as Error).message}`);
    }
  }
  if (state === null || typeof state !== 'object') throw new Error(`${source}/state.json must be an object as nestar writes it`);
  const parsed = state as Parameters<typeof NestARPipeline.fromParts>[0];
  const weightsName = files.weightsName ?? `${source}/ema.safetensors`;
  const weights = decodeSafetensors(asBytes(files.weights), weightsName).tensors;
  const tokenizerWeights = files.tokenizer ? decodeSafetensors(asBytes(files.tokenizer), `${source}/tokenizer.safetensors`).tensors : undefined;
  return NestARPipeline.fromParts(parsed, weights, source, { method: opts.method, tokenizerWeights, weightsName: weightsName.startsWith(`${source}/`) ? weightsName.slice(source.length + 1) : weightsName });
}

/**
 * Fetches a checkpoint and builds its pipeline. `urls` is a folder URL (state.json and ema.safetensors, or
 * model.safetensors with `weights: 'raw'`, plus tokenizer.safetensors when state.json names a tokenizer) or
 * one URL per file (as a bundler's asset imports give them). `fetchFn` defaults to the global fetch.
 */
export async function fetchPipeline(urls: CheckpointUrls, opts: { method?: Method; weights?: 'ema' | 'raw'; fetchFn?: typeof fetch } = {}): Promise<NestARPipeline> {
  const get = async (url: string): Promise<Uint8Array> => {
    let r: Response;
    try {
      r = await (opts.fetchFn ?? fetch)(url);
    } catch (e) {
      throw new Error(`${url}: ${(e as Error).message}`);
    }
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const base = typeof urls === 'string' ? urls.replace(/\/+$/, '') : undefined;
  const u = base !== undefined
    ? { state: `${base}/state.json`, weights: `${base}/${opts.weights === 'raw' ? 'model' : 'ema'}.safetensors`, tokenizer: `${base}/tokenizer.safetensors` }
    : urls as Exclude<CheckpointUrls, string>;
  const stateText = new TextDecoder().decode(await get(u.state));
  let needsTokenizer = false;
  try {
    needsTokenizer = !!(JSON.parse(stateText) as { tokenizer?: unknown }).tokenizer;
  } catch {
    // pipelineFromBytes reports the broken JSON with its source.
  }
  if (needsTokenizer && !u.tokenizer) throw new Error(`${u.state} describes a latent-space model; pass its tokenizer.safetensors URL as 'tokenizer'`);
  const [weights, tokenizer] = await Promise.all([get(u.weights), needsTokenizer ? get(u.tokenizer!) : undefined]);
  return pipelineFromBytes({ state: stateText, weights, tokenizer, source: base ?? u.state.replace(/\/state\.json(\?.*)?$/, ''), weightsName: u.weights }, { method: opts.method });
}
