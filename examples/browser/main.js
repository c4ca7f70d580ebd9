// A minimal page on nestar/browser: load the NestAR checkpoint shipped in the package (Vite turns the
// ?url imports into asset URLs), run on tfjs's WASM backend, and stream the nested stages into canvases.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { fetchPipeline, gridRgba } from 'nestar/browser';
import state from 'nestar/checkpoints/mnist-patch/long/nestar-3600/state.json?url';
import weights from 'nestar/checkpoints/mnist-patch/long/nestar-3600/ema.safetensors?url';

const $ = (id) => document.getElementById(id);
setWasmPaths({ 'tfjs-backend-wasm.wasm': wasm, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });
await tf.setBackend('wasm');
const pipe = await fetchPipeline({ state, weights });
$('status').textContent = `ready: ${pipe.model.sequentialSteps} sequential calls per image, tfjs ${tf.getBackend()}`;

/** One canvas showing `images` (values in [-1, 1]) at their native size. */
function canvasOf(images) {
  const g = gridRgba(images, images.count, 0);
  const c = document.createElement('canvas');
  c.width = g.width;
  c.height = g.height;
  c.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(g.rgba), g.width, g.height), 0, 0);
  return c;
}

let seed = 0; // a new sample each click, the same sequence on every load
$('go').onclick = async () => {
  $('stages').replaceChildren();
  const t0 = performance.now();
  const res = await pipe.generate({
    count: 1, classes: Number($('digit').value), cfg: 1.25, seed: seed++,
    onStep: async (s) => {
      $('stages').append(canvasOf(s.images()));
      $('status').textContent = `call ${s.calls} of ${s.totalCalls}`;
      await new Promise((r) => setTimeout(r, 0)); // let the page paint between calls
    },
  });
  $('status').textContent = `done: ${res.backboneCalls} calls in ${Math.round(performance.now() - t0)} ms`;
  document.body.dataset.done = String(res.backboneCalls);
};
$('go').disabled = false;
