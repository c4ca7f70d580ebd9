// The im2col 'same' convolution (src/model/conv.ts): tfjs's own conv2d on awkward shapes, and a filter that
// does not fit refused with both shapes named. Its gradients are checked in gradients.test.ts.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr, randnTensor } from './helpers.js';
import { conv2dAuto, conv2dSame } from '../src/model/conv.js';
import { Rng } from '../src/util/rng.js';

before(setup);

test('conv2dSame equals tf.conv2d with "same" padding for odd kernels, and refuses a filter that does not fit', () => {
  const r = new Rng(3);
  for (const [N, H, W, C, k, O] of [[2, 5, 3, 3, 3, 4], [1, 4, 6, 1, 1, 2], [3, 2, 2, 2, 5, 1]] as const) {
    const x = randnTensor(r, [N, H, W, C]) as tf.Tensor4D, w = randnTensor(r, [k, k, C, O]) as tf.Tensor4D;
    const got = conv2dSame(x, w), want = tf.conv2d(x, w, 1, 'same');
    assert.deepEqual(got.shape, [N, H, W, O]);
    assert.ok(maxRelErr(got.dataSync(), want.dataSync()) < 1e-5, `[${N},${H},${W},${C}] * ${k}x${k}x${C}x${O}`);
    tf.dispose([x, w, got, want]);
  }
  const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
  for (const shape of [[2, 2, 2, 1], [3, 1, 2, 1], [3, 3, 3, 1]] as Array<[number, number, number, number]>) {
    assert.throws(() => conv2dSame(x, tf.zeros(shape) as tf.Tensor4D), new RegExp(`^Error: conv2dSame: filter \\[${shape}\\] does not fit input \\[1,4,4,2\\] \\(odd square kernel, 2 input channels\\)$`), String(shape));
  }
});

test('conv2dAuto runs tfjs conv2d where the backend can differentiate it, else the im2col form, with the same values', async () => {
  const r = new Rng(5);
  const x = randnTensor(r, [2, 5, 4, 3]) as tf.Tensor4D, w = randnTensor(r, [3, 3, 3, 2]) as tf.Tensor4D;
  const want = tf.conv2d(x, w, 1, 'same');
  const usesConv2D = async () => {
    let y: tf.Tensor | undefined;
    const info = await tf.profile(() => { y = conv2dAuto(x, w); return y; });
    assert.ok(maxRelErr(y!.dataSync(), want.dataSync()) < 1e-5);
    y!.dispose();
    return info.kernelNames.includes('Conv2D');
  };
  // Here every backend has the filter gradient (the native pack adds it to WASM); plain WASM in a browser does not,
  // so take it away for a moment to see the fallback chosen.
  const backend = tf.getBackend(), grad = tf.getKernel('Conv2DBackpropFilter', backend);
  assert.ok(grad, `test setup: ${backend} has Conv2DBackpropFilter`);
  assert.equal(await usesConv2D(), true, `${backend}: tfjs conv2d`);
  tf.unregisterKernel('Conv2DBackpropFilter', backend);
  try {
    assert.equal(await usesConv2D(), false, `${backend} without the filter gradient: the im2col form`);
  } finally {
    tf.registerKernel(grad!);
  }
  assert.ok(tf.getKernel('Conv2DBackpropFilter', backend));
  tf.dispose([x, w, want]);
});
