// `nestar export`: what sampling needs from a checkpoint (state.json, EMA weights, tokenizer), validated
// the way `sample` loads it, written whole or not at all. It never deletes a file nestar did not write: the
// target must be new, empty, or a previous export (recognised by its state.json, not guessed), and it may
// not lie inside the checkpoint it exports or contain it.
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute, basename } from 'node:path';
import { atomicWriteFile, WriteError } from '../util/atomicWrite.js';
import { decodeSafetensors, encodeSafetensors, type StorageDtype } from '../util/safetensors.js';
import { readJsonFile, readRegularFile, READ_LIMITS } from '../util/safeRead.js';
import { CHECKPOINT_FORMAT, loadSamplingCheckpoint, resolveCheckpointDir } from './checkpoint.js';
import { NestARPipeline } from '../pipelineCore.js';
import { UsageError } from '../cli/args.js';

/** Every file an export may hold; nothing else is ever removed from a target. */
export const EXPORT_FILES = ['state.json', 'ema.safetensors', 'tokenizer.safetensors'] as const;

const inside = (child: string, parent: string) => {
  const r = relative(parent, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
};

/** True when `dir` holds only export files and a state.json that says it was made by `nestar export`. */
export function isPreviousExport(dir: string): boolean {
  const entries = readdirSync(dir);
  if (!entries.includes('state.json') || entries.some((e) => !(EXPORT_FILES as readonly string[]).includes(e))) return false;
  if (entries.some((e) => !lstatSync(join(dir, e)).isFile())) return false;
  try {
    const s = readJsonFile<{ format?: string; exportedFrom?: unknown }>(join(dir, 'state.json'));
    return s?.format === CHECKPOINT_FORMAT && typeof s.exportedFrom === 'object' && s.exportedFrom !== null;
  } catch {
    return false;
  }
}

function checkTarget(target: string, sources: string[]): void {
  for (const src of sources) {
    if (inside(target, src)) throw new UsageError(`--out ${target} is inside the checkpoint it would export (${src}); choose a folder outside it`);
    if (inside(src, target)) throw new UsageError(`--out ${target} contains the checkpoint it would export (${src}); choose another folder`);
  }
  if (!existsSync(target) && !isSymlink(target)) return;
  const st = lstatSync(target);
  if (!st.isDirectory()) throw new UsageError(`--out ${target} exists and is not a folder; nestar will not replace it`);
  const entries = readdirSync(target);
  if (entries.length === 0 || isPreviousExport(target)) return;
  const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, … (${entries.length} entries)` : '');
  throw new UsageError(`--out ${target} is not empty and is not a previous nestar export (it holds ${shown}); nestar never deletes files it did not write: choose a new or empty folder`);
}

function isSymlink(p: string): boolean {
  try { return lstatSync(p).isSymbolicLink(); } catch { return false; }
}

/** Removes a folder nestar wrote: its export files one by one, then the (now empty) folder; anything else stays. */
function removeExport(dir: string): void {
  for (const f of EXPORT_FILES) if (existsSync(join(dir, f))) unlinkSync(join(dir, f));
  rmdirSync(dir);
}

export function exportCheckpoint(path: string, out: string, opts: { dtype?: StorageDtype } = {}): { dir: string; files: string[] } {
  const dtype = opts.dtype ?? 'F32';
  const dir = resolveCheckpointDir(path), target = resolve(out);
  checkTarget(target, [resolve(path), dir]);
  // Validate what is written the way sampling loads it: regular, bounded files, valid safetensors, weights
  // that fit the state.json's architecture and are finite.
  const ck = loadSamplingCheckpoint(dir);
  if (ck.state.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint: ${join(dir, 'state.json')} has format ${JSON.stringify(ck.state.format)}, expected ${CHECKPOINT_FORMAT}`);
  NestARPipeline.fromParts(ck.state, ck.weights, dir, { tokenizerWeights: ck.tokenizer }).dispose();
  const files: string[] = ['ema.safetensors', ...(ck.state.tokenizer ? ['tokenizer.safetensors'] : [])];
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.export-${process.pid}-${Date.now()}`);
  mkdirSync(tmp); // not recursive: fails rather than reuse anything that exists
  try {
    for (const f of files) {
      const bytes = readRegularFile(join(dir, f), READ_LIMITS.safetensors, 'checkpoint:');
      // F32: the validated file as it is; F16: half-precision storage for shipping (the loader widens it back).
      if (dtype === 'F32') atomicWriteFile(join(tmp, f), bytes);
      else {
        const { tensors, metadata } = decodeSafetensors(bytes, join(dir, f));
        atomicWriteFile(join(tmp, f), encodeSafetensors(tensors, metadata, dtype));
      }
    }
    const exported = { ...ck.state, losses: [], exportedFrom: { checkpoint: dir, step: ck.state.step, storage: dtype } };
    atomicWriteFile(join(tmp, 'state.json'), JSON.stringify(exported, null, 1) + '\n');
    if (existsSync(target)) {
      // Empty, or a previous export (checked above): set it aside, move the new one in, then remove the old.
      const old = `${tmp}.old`;
      renameSync(target, old);
      renameSync(tmp, target);
      removeExport(old);
    } else renameSync(tmp, target);
  } catch (e) {
    if (existsSync(tmp)) removeExport(tmp);
    // Name the export's own file, not the temporary folder it was being written in.
    if (e instanceof WriteError) throw new Error(`could not export to ${target}: ${e.detail} writing ${basename(e.path)}; ${existsSync(target) ? 'the previous export there is unchanged' : 'nothing was written'}`);
    throw e;
  }
  return { dir: target, files: ['state.json', ...files] };
}
