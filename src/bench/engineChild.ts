// One engine path of the engine benchmark, in its own process (a tfjs backend is chosen once per process).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, parseBackendName } from '../engine/backend.js';
import { sgemmCeilingGflops } from './sgemmCeiling.js';
import { AdamW } from '../train/optimizer.js';
import { REF, ReferenceModel } from './referenceModel.js';

const [path = 'native', stepsArg = '5'] = process.argv.slice(2);
const info = await initBackend(parseBackendName(path, 'path') as never);
const steps = Number(stepsArg);
const model = new ReferenceModel(0);
const opt = new AdamW(model.ps.vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
const x = tf.randomNormal([REF.batch, REF.seq, REF.inDim], 0, 1, 'float32', 1) as tf.Tensor3D;
const y = tf.randomNormal([REF.batch, REF.seq, REF.inDim], 0, 1, 'float32', 2) as tf.Tensor3D;
const trainMs: number[] = [], losses: number[] = [];
for (let i = 0; i <= steps; i++) {
  const t0 = performance.now();
  const { value, grads } = model.ps.grads(() => model.loss(x, y));
  opt.apply(grads, 1e-4);
  losses.push(value.dataSync()[0]!);
  tf.dispose([value, ...grads.values()]);
  if (i > 0) trainMs.push(performance.now() - t0); // step 0 is warm-up
}
const forwardMs: number[] = [];
for (let i = 0; i <= Math.min(steps, 5); i++) {
  const t0 = performance.now();
  const out = tf.tidy(() => model.forward(x));
  out.dataSync();
  out.dispose();
  if (i > 0) forwardMs.push(performance.now() - t0);
}
const sgemmGflops = sgemmCeilingGflops();
console.log(JSON.stringify({ backend: info.name, openblas: info.openblas, params: model.ps.count(), trainMs, forwardMs, losses, sgemmGflops }));
