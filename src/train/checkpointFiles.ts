// Checkpoint folders on disk, whatever they hold (models, tokenizers, feature nets): a folder per save, written
// whole or not at all (temporary folder, fsync, rename), state.json beside one `<key>.safetensors` per tensor set,
// and the run folder's latest.json naming the newest complete one. Knows nothing of run configs, so every reader
// of checkpoints (training, tokenizers, checkpoint info) can import it without importing the others.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { atomicWriteFile } from '../util/atomicWrite.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../util/safetensors.js';
import { readJsonFile, readRegularFile, READ_LIMITS } from '../util/safeRead.js';

/** The format tag of a model checkpoint's state.json. */
export const CHECKPOINT_FORMAT = 'nestar-checkpoint-v1';

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(7, '0')}`;
}

/** Writes one checkpoint folder: state.json plus `<key>.safetensors` per entry of `tensors` (models and tokenizers alike). */
export function saveCheckpoint(runDir: string, state: { step: number }, tensors: { [key: string]: Record<string, NamedArray> | undefined }, keep: number): string {
  const ckDir = join(runDir, 'checkpoints');
  mkdirSync(ckDir, { recursive: true });
  const name = checkpointName(state.step);
  const final = join(ckDir, name), tmp = join(ckDir, `.${name}.tmp-${process.pid}`);
  // Leftovers of writers killed mid-checkpoint are never loaded; clear them. A complete checkpoint set aside
  // for a re-save of its step goes back in place when the re-save never arrived.
  for (const d of readdirSync(ckDir)) {
    if (/^\.step-\d+\.(tmp|del)-\d+$/.test(d)) rmSync(join(ckDir, d), { recursive: true, force: true });
    const aside = /^\.(step-\d+)\.old-\d+$/.exec(d);
    if (aside) {
      if (!existsSync(join(ckDir, aside[1]!, 'state.json'))) { rmSync(join(ckDir, aside[1]!), { recursive: true, force: true }); renameSync(join(ckDir, d), join(ckDir, aside[1]!)); }
      else rmSync(join(ckDir, d), { recursive: true, force: true });
    }
  }
  try {
    mkdirSync(tmp);
    const meta = { format: (state as { format?: string }).format ?? CHECKPOINT_FORMAT, step: String(state.step) };
    for (const [key, arrays] of Object.entries(tensors)) {
      if (!arrays) continue; // an optional set (a pixel model's absent tokenizer)
      atomicWriteFile(join(tmp, `${key}.safetensors`), encodeSafetensors(arrays, meta));
      // Test hook (test/crash.test.ts): die here, half-way through writing this checkpoint, as a power cut would.
      if (process.env.NESTAR_TEST_KILL_IN_CHECKPOINT === String(state.step)) process.kill(process.pid, 'SIGKILL');
    }
    atomicWriteFile(join(tmp, 'state.json'), JSON.stringify(state, null, 1) + '\n');
    // Re-saving a step (a resumed run passing it again): set the old folder aside with one rename instead of
    // deleting it file by file under latest.json's feet; a reader in the instant between the two renames
    // finds it aside (resolveCheckpointDir).
    const aside = join(ckDir, `.${name}.old-${process.pid}`);
    if (existsSync(final)) renameSync(final, aside);
    renameSync(tmp, final);
    rmSync(aside, { recursive: true, force: true });
    atomicWriteFile(join(runDir, 'latest.json'), JSON.stringify({ checkpoint: `checkpoints/${name}`, step: state.step }) + '\n');
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException;
    throw new Error(`could not write checkpoint ${final} (${err.code ?? err.message}${err.path ? ` at ${err.path}` : ''}); the previous checkpoint is intact`);
  }
  // Prune older checkpoints beyond `keep`: each renamed out of the step-N names first (one atomic step), so a
  // kill during the recursive delete leaves a hidden leftover (cleared by the next save), never a step folder
  // that has lost its state.json (the 20-SIGKILL harness landed a kill there).
  const all = readdirSync(ckDir).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) {
    const doomed = join(ckDir, `.${d}.del-${process.pid}`);
    renameSync(join(ckDir, d), doomed);
    // Test hook (test/crash.test.ts): die half-way through the delete (state.json gone, the rest not yet).
    if (process.env.NESTAR_TEST_KILL_IN_PRUNE === d) { rmSync(join(doomed, 'state.json')); process.kill(process.pid, 'SIGKILL'); }
    rmSync(doomed, { recursive: true, force: true });
  }
  return final;
}

/** Accepts a checkpoint folder or a run folder (then its latest checkpoint). */
export function resolveCheckpointDir(path: string): string {
  const p = resolve(path);
  if (existsSync(join(p, 'state.json'))) return p;
  if (existsSync(join(p, 'latest.json'))) {
    const latestPath = join(p, 'latest.json');
    const latest = readJsonFile<{ checkpoint?: unknown } | null>(latestPath, 'checkpoint:');
    // Only a checkpoint folder of this run: a latest.json cannot send a reader elsewhere.
    if (!latest || typeof latest !== 'object' || typeof latest.checkpoint !== 'string' || !/^checkpoints\/step-\d+$/.test(latest.checkpoint)) {
      throw new Error(`checkpoint: ${latestPath} must be {"checkpoint": "checkpoints/step-NNNNNNN", ...} as nestar writes it, got ${JSON.stringify(latest)?.slice(0, 80)}`);
    }
    let dir = join(p, latest.checkpoint);
    if (!existsSync(join(dir, 'state.json'))) {
      // Killed between setting a re-saved step's folder aside and moving its replacement in (saveCheckpoint).
      const ck = join(p, 'checkpoints'), name = latest.checkpoint.slice('checkpoints/'.length);
      const aside = existsSync(ck) ? readdirSync(ck).find((d) => d.startsWith(`.${name}.old-`) && existsSync(join(ck, d, 'state.json'))) : undefined;
      if (aside) dir = join(ck, aside);
    }
    if (!existsSync(join(dir, 'state.json'))) throw new Error(`checkpoint: ${join(p, 'latest.json')} names ${dir}, which is not a checkpoint`);
    return dir;
  }
  if (!existsSync(p)) throw new Error(`checkpoint '${path}' does not exist`);
  throw new Error(`checkpoint '${path}' is neither a checkpoint folder (with state.json) nor a run folder (with latest.json)`);
}

/** A safetensors file nestar may not have written: regular files only, bounded, validated. */
export function readSafetensorsFile(path: string): Record<string, NamedArray> {
  return decodeSafetensors(readRegularFile(path, READ_LIMITS.safetensors, 'checkpoint:'), path).tensors;
}

/** A checkpoint's safetensors file that must be there: its absence is named as such. */
export function requireSafetensorsFile(path: string): Record<string, NamedArray> {
  if (!existsSync(path)) throw new Error(`checkpoint: ${path} is missing`);
  return readSafetensorsFile(path);
}

/** A checkpoint folder's (or a run folder's latest) state.json as a JSON object, any format. */
export function readCheckpointState<S>(path: string): { dir: string; state: S } {
  const dir = resolveCheckpointDir(path);
  const state = readJsonFile<S>(join(dir, 'state.json'), 'checkpoint:');
  if (!state || typeof state !== 'object' || Array.isArray(state)) throw new Error(`checkpoint: ${join(dir, 'state.json')} is not a JSON object`);
  return { dir, state };
}

/** Reads a checkpoint folder's state.json (checking its format) and the named safetensors files. */
export function readCheckpointFiles<S extends { format: string }, K extends string>(path: string, format: string, keys: readonly K[]): { dir: string; state: S; tensors: Record<K, Record<string, NamedArray>> } {
  const { dir, state } = readCheckpointState<S>(path);
  if (state?.format !== format) throw new Error(`checkpoint: ${join(dir, 'state.json')} has format ${JSON.stringify(state?.format)}, expected ${format}`);
  const tensors = {} as Record<K, Record<string, NamedArray>>;
  for (const k of keys) tensors[k] = requireSafetensorsFile(join(dir, `${k}.safetensors`));
  return { dir, state, tensors };
}
