// JS-only kernel overrides for the tfjs WASM backend (used on both the 'wasm' and 'native' paths).
// tfjs clones every tensor it saves for the backward pass (Identity) and casts each of those gradients
// to float32 (Cast); on WASM both are full copies. tfjs tensors are immutable (a Variable's assign swaps its
// buffer rather than writing into it), so an alias that bumps the buffer's reference count is safe — it is
// what the pure-JS CPU backend and WASM's own Reshape already do.
import * as tf from '@tensorflow/tfjs-core';

interface RefCountingBackend { incRef(dataId: tf.DataId): void }

function alias(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export function registerWasmAliasKernels(): void {
  const castOriginal = tf.getKernel('Cast', 'wasm');
  if (!castOriginal) throw new Error('the WASM backend has no Cast kernel to wrap');
  const cast: tf.KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
    return dtype === x.dtype ? alias(x, args.backend) : castOriginal.kernelFunc(args);
  };
  tf.unregisterKernel('Cast', 'wasm');
  tf.registerKernel({ kernelName: 'Cast', backendName: 'wasm', kernelFunc: cast });
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: ({ inputs, backend }) => alias((inputs as { x: tf.TensorInfo }).x, backend) });
}
