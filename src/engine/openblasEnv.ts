// Chooses OpenBLAS's kernel family from the CPU's flags. Debian's OpenBLAS 0.3.21 misdetects newer
// CPUs and falls back to SSE3 kernels (about 5x slower), so we name the family ourselves — but only
// when the environment has not: some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE on purpose
// (older builds compute wrong results on them), and we must never override that.
import { readFileSync } from 'node:fs';

/** The OpenBLAS core type that suits a set of /proc/cpuinfo flags, or undefined to let OpenBLAS decide. */
export function coreTypeForFlags(flags: ReadonlySet<string>): string | undefined {
  if (flags.has('avx512f') && flags.has('avx512bw') && flags.has('avx512vl') && flags.has('avx512dq')) {
    return flags.has('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
  }
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  if (flags.has('avx')) return 'Sandybridge';
  return undefined;
}

export function readCpuFlags(cpuinfoPath = '/proc/cpuinfo'): Set<string> {
  try {
    const text = readFileSync(cpuinfoPath, 'utf8');
    const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
    return new Set(line ? line.split(':')[1]!.trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

export interface OpenBlasEnvChoice {
  coreType: string | undefined;
  /** 'environment' when the variable was already set, 'cpu-flags' when we set it, 'openblas' when left to its detection. */
  source: 'environment' | 'cpu-flags' | 'openblas';
}

/**
 * Sets OPENBLAS_CORETYPE from the CPU flags if (and only if) it is unset. Must run before the native
 * addon is loaded: OpenBLAS reads the variable once, when the library initialises.
 */
export function applyOpenBlasCoreType(env: NodeJS.ProcessEnv = process.env, flags = readCpuFlags()): OpenBlasEnvChoice {
  const preset = env.OPENBLAS_CORETYPE;
  if (preset !== undefined && preset !== '') return { coreType: preset, source: 'environment' };
  const chosen = coreTypeForFlags(flags);
  if (chosen === undefined) return { coreType: undefined, source: 'openblas' };
  env.OPENBLAS_CORETYPE = chosen;
  return { coreType: chosen, source: 'cpu-flags' };
}

/**
 * BLAS threads for the native kernels: OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) when the environment sets a
 * positive integer — the way OpenBLAS users pin threads, e.g. to run two jobs side by side — else one per core.
 */
export function openBlasThreads(env: NodeJS.ProcessEnv, cores: number): number {
  for (const name of ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS'] as const) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${JSON.stringify(v)}: expected a positive integer (BLAS threads)`);
      return n;
    }
  }
  return Math.max(1, cores);
}
