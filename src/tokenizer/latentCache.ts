// A cache of encoded latent tokens (`nestar encode`): safetensors with tokens [N, n, D] and labels, and in
// its metadata the fingerprint of the tokenizer that made them, so a stale cache is never used.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../util/safetensors.js';
import { exportVariables } from '../train/weights.js';
import type { LatentTokenizer } from './latentTokenizer.js';

export interface LatentShape { count: number; numTokens: number; tokenDim: number }

/** SHA-256 over the tokenizer's weights, statistics and token grouping. */
export function tokenizerFingerprint(tok: LatentTokenizer): string {
  const h = createHash('sha256').update(encodeSafetensors(exportVariables(tok.ae.params.vars)));
  h.update(JSON.stringify({ stats: tok.stats, patch: tok.patch }));
  return h.digest('hex');
}

/** Writes tokens and labels; `extra` metadata (strings) and tensors ride along (`nestar encode --config` adds the
 * resolved run config, the class names and, for KL latents, the tokenizer's state and weights, which the PyTorch
 * twin reads and copies into its checkpoints so nestar can decode them). */
export function writeLatentCache(path: string, tokens: Float32Array, labels: Int32Array, fingerprint: string, shape: LatentShape, source: string,
  extra: Record<string, string> = {}, extraTensors: Record<string, NamedArray> = {}): void {
  const bytes = encodeSafetensors({
    ...extraTensors,
    tokens: { shape: [shape.count, shape.numTokens, shape.tokenDim], data: tokens },
    labels: { shape: [shape.count], data: Float32Array.from(labels) },
  }, { ...extra, kind: 'nestar-latents', fingerprint, source });
  atomicWriteFile(path, bytes);
}

/** The cached tokens, or null (with a warning saying why) when the cache is absent, stale or of other data. */
export function readLatentCache(path: string, fingerprint: string, shape: LatentShape, warn?: (m: string) => void): Float32Array | null {
  if (!existsSync(path)) return null;
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  const t = tensors.tokens;
  const why = metadata.fingerprint !== fingerprint ? 'it was made by another tokenizer'
    : !t || t.shape.join() !== [shape.count, shape.numTokens, shape.tokenDim].join() ? `its tokens are [${t?.shape}], expected [${shape.count}, ${shape.numTokens}, ${shape.tokenDim}]` : null;
  if (why) {
    (warn ?? console.warn)(`warning: not using latent cache ${path}: ${why}; re-encoding`);
    return null;
  }
  return t!.data;
}

export function readLatentCacheFile(path: string): { tokens: Float32Array; labels: Int32Array; shape: number[]; fingerprint: string } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(path), path);
  if (metadata.kind !== 'nestar-latents' || !tensors.tokens || !tensors.labels) throw new Error(`${path} is not a latent cache written by nestar encode`);
  return { tokens: tensors.tokens.data, labels: Int32Array.from(tensors.labels.data), shape: tensors.tokens.shape, fingerprint: metadata.fingerprint ?? '' };
}
