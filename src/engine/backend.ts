// Backend selection lives here and only here. Order: tfjs-node ('tensorflow') if installed, then
// WASM + the native OpenBLAS kernel pack ('native'), then the same pack on JS-owned tensor buffers
// ('native-js': no 4 GiB wasm32 cap, see kernelHost.ts), then plain WASM, then pure JS ('cpu').
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
import { JS_BUFFER_BACKEND, registerJsBufferBackend } from './kernelHost.js';
import { registerJsBufferKernels, stridedCopyKernels } from './jsBufferKernels.js';
import { leadingSumKernel, loadNativeAddon, NATIVE_KERNELS, registerNativeKernels, type NativeAddon } from './nativeKernels.js';

/** The engine paths nestar can run on, fastest first. */
export const BACKENDS = ['tensorflow', 'native', 'native-js', 'wasm', 'cpu'] as const;
/** One of BACKENDS. */
export type BackendName = (typeof BACKENDS)[number];

/** What initBackend chose, and why faster paths were passed over. */
export interface BackendInfo {
  /** What the run asked for ('auto' when nothing was named). */
  requested: BackendName | 'auto';
  /** What the run uses. */
  name: BackendName;
  /** The tfjs backend underneath ('native' runs on tfjs 'wasm', 'native-js' on JS_BUFFER_BACKEND). */
  tfBackend: string;
  openblas?: { coreType: string; coreTypeSource: OpenBlasEnvChoice['source']; threads: number };
  /** Why faster options were skipped, one line each. */
  skipped: string[];
}

let current: BackendInfo | undefined;
let addon: NativeAddon | undefined;
/** The tfjs backend the native pack is registered on, and its own kernels that the pack replaced (tests compare both). */
let nativeHost = 'wasm';
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

async function initJsBuffers(pack: NativeAddon): Promise<string | undefined> {
  registerJsBufferBackend();
  registerJsBufferKernels(JS_BUFFER_BACKEND, pack);
  return (await tf.setBackend(JS_BUFFER_BACKEND)) ? undefined : 'the JS-buffer backend did not initialise';
}

/** tfjs WASM kernels the native path wraps, each falling back to WASM's own outside the cases it handles. */
const wasmWrappers = (pack: NativeAddon): Record<string, (fallback: tf.KernelFunc) => tf.KernelFunc> =>
  ({ ...stridedCopyKernels(pack), Sum: (f) => leadingSumKernel(pack, f) });

/** The pack's kernels on `host`; on tfjs WASM also the wrappers above over WASM's own (kept in originals). */
function registerPack(pack: NativeAddon, host: string): void {
  registerNativeKernels(pack, host);
  if (host !== 'wasm') return;
  for (const [kernelName, wrap] of Object.entries(wasmWrappers(pack))) {
    const original = originals.get(kernelName);
    if (!original) continue;
    tf.unregisterKernel(kernelName, host);
    tf.registerKernel({ kernelName, backendName: host, kernelFunc: wrap(original.kernelFunc) });
  }
}

/** Switches the native kernels on or off on the backend they were registered on (tests compare both paths). */
export function setNativeKernels(enabled: boolean): void {
  if (!addon) throw new Error('the native kernel pack is not loaded');
  if (enabled) registerPack(addon, nativeHost);
  else {
    for (const [name, cfg] of originals) {
      if (tf.getKernel(name, nativeHost)) tf.unregisterKernel(name, nativeHost);
      tf.registerKernel(cfg);
    }
    // The pack's own kernels that the backend never had.
    for (const name of Object.keys(NATIVE_KERNELS)) if (!originals.has(name) && tf.getKernel(name, nativeHost)) tf.unregisterKernel(name, nativeHost);
  }
}

/** Registers the JS-buffer backend, with the native kernels, next to the native path in use (tests and benchmarks
 * compare the two in one process by tf.setBackend); returns its tfjs name. */
export function addJsBufferBackend(): string {
  if (!addon) throw new Error('the native kernel pack is not loaded');
  registerJsBufferBackend();
  registerJsBufferKernels(JS_BUFFER_BACKEND, addon);
  if (nativeHost !== JS_BUFFER_BACKEND) registerNativeKernels(addon, JS_BUFFER_BACKEND);
  return JS_BUFFER_BACKEND;
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
    else if (name === 'native' || name === 'native-js') {
      const env = applyOpenBlasCoreType();
      const loaded = loadNativeAddon();
      if (!loaded.addon) why = loaded.reason;
      else {
        const host = name === 'native' ? 'wasm' : JS_BUFFER_BACKEND;
        why = name === 'native' ? await initWasm() : await initJsBuffers(loaded.addon);
        if (!why) {
          addon = loaded.addon;
          nativeHost = host;
          addon.setThreads(openBlasThreads(process.env, availableParallelism()));
          for (const k of [...Object.keys(NATIVE_KERNELS), ...(host === 'wasm' ? Object.keys(wasmWrappers(addon)) : [])]) {
            const cfg = tf.getKernel(k, host);
            if (cfg) originals.set(k, cfg);
          }
          registerPack(addon, host);
          const info = addon.info();
          current = { requested: want, name, tfBackend: host, skipped,
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
