// Where the native kernels find their tensors' memory, and the tfjs backend that lifts the 4 GiB cap.
//
// On tfjs WASM (nestar's 'native' path) every tensor lives in the one wasm32 heap, which cannot grow past
// 4 GiB. On the JS-buffer backend ('native-js') every tensor is its own JS-owned Float32Array, the storage of
// tfjs's pure-JS CPU backend, so the total is bounded by the machine's memory only. The same native kernels
// run on both: they are handed typed-array views either way (the addon reads any Float32Array in place).
// The hot ops are native; every other op is the CPU backend's own kernel, so model code stays plain tfjs.
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/** The tfjs backend name of the JS-buffer backend. */
export const JS_BUFFER_BACKEND = 'nestar-js';

/** What a native kernel needs from a backend: fresh outputs and float32 views of tensors. */
export interface KernelHost {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  view(t: tf.TensorInfo): Float32Array;
}

// Minimal views of the two backends' internals (public methods of BackendWasm and MathBackendCPU).
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuBackendLike {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  data: { get(id: tf.DataId): { values?: tf.backend_util.BackendValues } };
}

const hosts = new WeakMap<object, KernelHost>();

function wasmHost(be: WasmBackendLike): KernelHost {
  return { makeOutput: (shape, dtype) => be.makeOutput(shape, dtype), view: (t) => be.typedArrayFromHeap(t) };
}

/** Most bytes of freed outputs kept for reuse: fresh JS buffers cost a zero-fill and page faults on first touch
 * (the WASM heap reuses its memory), which made small native kernels several times slower before the pool. */
const POOL_BYTES = 1 << 30;

/**
 * tfjs's CPU backend with an output pool. A buffer the pool handed out is returned to it when the last tensor
 * that holds it (or a view into it: a tensor is written with its values) is disposed. tfjs hands a tensor's
 * values out by reference (dataSync), so reads of pooled buffers return a copy: nothing outside the backend
 * ever holds a buffer that may be reused. Pooled buffers are not zeroed; the native kernels write every output
 * element (they never could rely on zeros: WASM's malloc does not clear either).
 */
export class JsBufferBackend extends MathBackendCPU {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly users = new Map<ArrayBuffer, number>();
  private readonly owned = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  /** Buffers allocated fresh and handed out again (a training loop at steady state allocates none fresh). */
  readonly poolStats = { fresh: 0, reused: 0 };

  constructor() {
    super();
    // The CPU backend prints an "install tfjs-node" banner on first write; here the hot ops are native already.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** A float32 buffer of n elements, reused when one is free (contents undefined). */
  allocFloat32(n: number): Float32Array {
    const a = this.free.get(n)?.pop();
    if (a) { this.freeBytes -= a.byteLength; this.poolStats.reused++; return a; }
    const fresh = new Float32Array(n);
    this.poolStats.fresh++;
    this.owned.add(fresh.buffer as ArrayBuffer);
    return fresh;
  }

  private track(values: unknown, delta: number): void {
    if (!(values instanceof Float32Array) || !this.owned.has(values.buffer as ArrayBuffer)) return;
    const buf = values.buffer as ArrayBuffer, n = (this.users.get(buf) ?? 0) + delta;
    if (n > 0) { this.users.set(buf, n); return; }
    this.users.delete(buf);
    if (this.freeBytes + buf.byteLength > POOL_BYTES) return; // left to the GC
    const whole = new Float32Array(buf);
    const list = this.free.get(whole.length);
    if (list) list.push(whole); else this.free.set(whole.length, [whole]);
    this.freeBytes += buf.byteLength;
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    this.track(values, 1);
    return super.write(values, shape, dtype);
  }

  override move(dataId: tf.DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.track(values, 1);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const v = super.readSync(dataId);
    return v instanceof Float32Array && this.owned.has(v.buffer as ArrayBuffer) ? v.slice() : v;
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (values !== undefined && !this.data.has(dataId)) this.track(values, -1);
    return released;
  }
}

function cpuHost(be: CpuBackendLike): KernelHost {
  const alloc = be instanceof JsBufferBackend ? (n: number) => be.allocFloat32(n) : (n: number) => new Float32Array(n);
  return {
    makeOutput: (shape, dtype) => {
      const n = tf.util.sizeFromShape(shape);
      return be.makeTensorInfo(shape, dtype, dtype === 'float32' ? alloc(n) : tf.util.getTypedArrayFromDType(dtype as 'int32', n));
    },
    view: (t) => {
      const v = be.data.get(t.dataId).values;
      if (!(v instanceof Float32Array)) throw new Error(`nestar native kernel: expected a float32 tensor, got ${t.dtype} of shape [${t.shape}]`);
      return v;
    },
  };
}

/** The host of a kernel call's backend (WASM heap views or JS buffers), cached per backend instance. */
export function kernelHost(backend: unknown): KernelHost {
  const be = backend as object;
  let h = hosts.get(be);
  if (!h) {
    h = typeof (be as Partial<WasmBackendLike>).typedArrayFromHeap === 'function' ? wasmHost(be as WasmBackendLike) : cpuHost(be as CpuBackendLike);
    hosts.set(be, h);
  }
  return h;
}

/** Registers the JS-buffer backend: a CPU backend of its own name carrying every CPU kernel (jsBufferKernels.ts
 * and the native ones are registered over them by the caller). Idempotent. */
export function registerJsBufferBackend(): void {
  if (tf.findBackendFactory(JS_BUFFER_BACKEND)) return;
  tf.registerBackend(JS_BUFFER_BACKEND, () => new JsBufferBackend(), 0);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: JS_BUFFER_BACKEND });
}

/** An empty array: the native kernels' "no mask" argument. */
export const NO_MASK = new Float32Array(0);
/** A number's float32 bits as an integer: the native kernels take float32 scalars this way, exactly. */
export const floatBits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
