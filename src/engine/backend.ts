// Backend selection lives here and only here. Order: tfjs-node ('tensorflow') if installed, then
// WASM + the native OpenBLAS kernel pack ('native'), then plain WASM, then pure JS ('cpu').
// Overridable with --backend or NESTAR_BACKEND.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Every op's gradient and the chained-op API, registered on tfjs-core's global engine: tfjs-core ships them as
// ES modules Node cannot load, so scripts/build-vendor.mjs bundles them at install (see there for why this
// replaces the 141 MB @tensorflow/tfjs umbrella package).
import '../../vendor/tfjs-gradients.js';
import { availableParallelism } from 'node:os';
import { applyOpenBlasCoreType, openBlasThreads, type OpenBlasEnvChoice } from './openblasEnv.js';
import { engineFlags } from './flags.js';
import { registerWasmAliasKernels } from './wasmKernels.js';
import { loadNativeAddon, NATIVE_KERNELS, registerNativeKernels, type NativeAddon } from './nativeKernels.js';

/** The engine paths nestar can run on, fastest first. */
export const BACKENDS = ['tensorflow', 'native', 'wasm', 'cpu'] as const;
/** One of BACKENDS. */
export type BackendName = (typeof BACKENDS)[number];

/** What initBackend chose, and why faster paths were passed over. */
export interface BackendInfo {
  /** What the run asked for ('auto' when nothing was named). */
  requested: BackendName | 'auto';
  /** What the run uses. */
  name: BackendName;
  /** The tfjs backend underneath ('native' runs on tfjs 'wasm'). */
  tfBackend: string;
  openblas?: { coreType: string; coreTypeSource: OpenBlasEnvChoice['source']; threads: number };
  /** Why faster options were skipped, one line each. */
  skipped: string[];
}

let current: BackendInfo | undefined;
let addon: NativeAddon | undefined;
/** The WASM backend's own kernels that the native pack replaced (tests compare both). */
const originals = new Map<string, tf.KernelConfig>();

/** Checks a backend name from a flag or NESTAR_BACKEND (`source` names it in the error). */
export function parseBackendName(s: string, source: string): BackendName | 'auto' {
  if (s === 'auto' || (BACKENDS as readonly string[]).includes(s)) return s as BackendName | 'auto';
  throw new Error(`${source}: unknown backend '${s}'; expected one of auto, ${BACKENDS.join(', ')}`);
}

async function tryTensorflow(): Promise<string | undefined> {
  try {
    await import('@tensorflow/tfjs-node' as string);
    return (await tf.setBackend('tensorflow')) ? undefined : 'tfjs-node did not initialise';
  } catch {
    return '@tensorflow/tfjs-node is not installed';
  }
}

async function initWasm(): Promise<string | undefined> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return 'the WASM backend did not initialise';
    registerWasmAliasKernels();
    return undefined;
  } catch (e) {
    return `the WASM backend failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Switches the native kernels on or off on the WASM backend (tests compare both paths). */
export function setNativeKernels(enabled: boolean): void {
  if (!addon) throw new Error('the native kernel pack is not loaded');
  if (enabled) registerNativeKernels(addon);
  else {
    for (const name of Object.keys(NATIVE_KERNELS)) {
      tf.unregisterKernel(name, 'wasm');
      const cfg = originals.get(name);
      if (cfg) tf.registerKernel(cfg);
    }
  }
}

export function nativeAddon(): NativeAddon | undefined {
  return addon;
}

/** Picks and initialises the backend once per process; later calls return the same choice. */
export async function initBackend(requested?: BackendName | 'auto'): Promise<BackendInfo> {
  const want = requested ?? parseBackendName(process.env.NESTAR_BACKEND ?? 'auto', 'NESTAR_BACKEND');
  if (current) {
    if (want !== 'auto' && want !== current.name) {
      throw new Error(`backend already initialised as '${current.name}'; cannot switch to '${want}' in one process`);
    }
    return current;
  }
  const skipped: string[] = [];
  const order: BackendName[] = want === 'auto' ? [...BACKENDS] : [want];
  for (const name of order) {
    let why: string | undefined;
    if (name === 'tensorflow') why = await tryTensorflow();
    else if (name === 'native') {
      const env = applyOpenBlasCoreType();
      const loaded = loadNativeAddon();
      if (!loaded.addon) why = loaded.reason;
      else {
        why = await initWasm();
        if (!why) {
          addon = loaded.addon;
          addon.setThreads(openBlasThreads(process.env, availableParallelism()));
          for (const name of Object.keys(NATIVE_KERNELS)) {
            const cfg = tf.getKernel(name, 'wasm');
            if (cfg) originals.set(name, cfg);
          }
          registerNativeKernels(addon);
          const info = addon.info();
          current = { requested: want, name, tfBackend: 'wasm', skipped,
            openblas: { coreType: info.coreType, coreTypeSource: env.source, threads: info.threads } };
          return current;
        }
      }
    } else if (name === 'wasm') why = await initWasm();
    else why = (await tf.setBackend('cpu')) ? undefined : 'the CPU backend did not initialise';
    if (!why) {
      engineFlags.explicitTranspose = name === 'wasm' || name === 'cpu';
      current = { requested: want, name, tfBackend: tf.getBackend(), skipped };
      return current;
    }
    skipped.push(`${name}: ${why}`);
    if (want !== 'auto') throw new Error(`backend '${name}' is not available: ${why}`);
  }
  throw new Error(`no tfjs backend could be initialised:\n${skipped.join('\n')}`);
}

/** One line naming the backend in use and why faster ones were skipped (printed by every command). */
export function describeBackend(info: BackendInfo): string {
  let s = `backend: ${info.name} (tfjs ${info.tfBackend})`;
  if (info.openblas) s += `, OpenBLAS core ${info.openblas.coreType} (${info.openblas.coreTypeSource}), ${info.openblas.threads} threads`;
  return s;
}
