// The native kernel pack's addon (N-API + OpenBLAS): what it exports, and finding and loading the built file. Its own
// module so that every kernel maker (attention, residual, conv, the rest in nativeKernels.ts) can name the addon's type
// without importing the module that registers them all.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StridedAddon } from './jsBufferKernels.js';

export interface NativeAddon extends StridedAddon {
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, strideC: number): void;
  tanh(x: Float32Array, y: Float32Array): void;
  geluFwd(x: Float32Array, y: Float32Array): void;
  geluBwd(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  conv2dFilterGrad(x: Float32Array, dy: Float32Array, dw: Float32Array, N: number, H: number, W: number, C: number,
    OH: number, OW: number, O: number, k: number, padTop: number, padLeft: number): void;
  conv2dInputGrad(dy: Float32Array, w: Float32Array, dx: Float32Array, N: number, H: number, W: number, C: number,
    OH: number, OW: number, O: number, k: number, padTop: number, padLeft: number): void;
  adamw(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, pOut: Float32Array, mOut: Float32Array, vOut: Float32Array, k: Float32Array): void;
  ema(s: Float32Array, p: Float32Array, out: Float32Array, k: Float32Array): void;
  sumSquares(out: Float32Array, xs: Float32Array[]): void;
  normScaleShift(x: Float32Array, g: Float32Array, b: Float32Array, y: Float32Array, N: number, C: number, flags: number, eps: number): void;
  normScaleShiftGrad(dy: Float32Array, x: Float32Array, g: Float32Array, dx: Float32Array, dg: Float32Array, db: Float32Array, N: number, C: number, flags: number, eps: number): void;
  linear(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, M: number, K: number, N: number): void;
  linearResidual(x: Float32Array, w: Float32Array, b: Float32Array, r: Float32Array, y: Float32Array, M: number, K: number, N: number): void;
  normResidualGrad(dy: Float32Array, x: Float32Array, g: Float32Array, dh: Float32Array, dx: Float32Array, dg: Float32Array, db: Float32Array, dS: Float32Array,
    N: number, C: number, flags: number, eps: number): void;
  sumRows(x: Float32Array, out: Float32Array, N: number, C: number): void;
  attention(q: Float32Array, k: Float32Array, v: Float32Array, mask: Float32Array, out: Float32Array, P: Float32Array,
    B: number, Lq: number, Lk: number, H: number, dh: number, scaleBits: number, hasMask: number): void;
  attentionGrad(dO: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, P: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array,
    B: number, Lq: number, Lk: number, H: number, dh: number, scaleBits: number): void;
  gatedAdd(h: Float32Array, g: Float32Array, a: Float32Array, y: Float32Array): void;
  gatedAddGrad(dy: Float32Array, g: Float32Array, a: Float32Array, dg: Float32Array, da: Float32Array): void;
  siluFwd(x: Float32Array, y: Float32Array): void;
  siluBwd(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  guidance(v: Float32Array, y: Float32Array, wBits: number): void;
  normCols(x: Float32Array, M: Float32Array, y: Float32Array, N: number, C: number, ld: number, gOff: number, bOff: number, epsBits: number): void;
  gatedAddCols(h: Float32Array, M: Float32Array, a: Float32Array, y: Float32Array, N: number, C: number, ld: number, off: number): void;
  selfAttention(qkv: Float32Array, mask: Float32Array, out: Float32Array, P: Float32Array, B: number, L: number, H: number, dh: number, scaleBits: number, hasMask: number): void;
  selfAttentionGrad(dO: Float32Array, qkv: Float32Array, P: Float32Array, dqkv: Float32Array, B: number, L: number, H: number, dh: number, scaleBits: number): void;
  attentionQkv(qkv: Float32Array, mask: Float32Array, out: Float32Array, B: number, L: number, H: number, dh: number, scaleBits: number, hasMask: number): void;
  patchHeadStep(arrays: Float32Array[], meta: Float64Array): void;
  tokenHeadStep(arrays: Float32Array[], meta: Float64Array): void;
  setThreads(n: number): void;
  info(): { coreType: string; threads: number; config: string };
}

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the built addon, searched from both src/ (tsx) and dist/ (compiled) layouts. */
export function nativeAddonPath(): string | undefined {
  for (const up of ['../..', '../../..']) {
    const p = join(here, up, 'native', 'build', 'Release', 'nestar_native.node');
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function loadNativeAddon(): { addon?: NativeAddon; reason?: string } {
  const p = nativeAddonPath();
  if (!p) return { reason: 'native/build/Release/nestar_native.node is missing (run `npm run build:native`; needs libopenblas-dev)' };
  try {
    return { addon: createRequire(import.meta.url)(p) as NativeAddon };
  } catch (e) {
    return { reason: `could not load ${p}: ${(e as Error).message.split('\n')[0]}` };
  }
}
