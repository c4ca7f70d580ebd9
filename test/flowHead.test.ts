import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from './helpers.js';
import { FlowHead } from '../src/flow/flowHead.js';
import { flowMatchingLoss, integrateFlow } from '../src/flow/flowMatching.js';
import { ParamStore } from '../src/model/params.js';
import { AdamW } from '../src/train/optimizer.js';
import { Rng } from '../src/util/rng.js';

before(setup);

// Two 2-D Gaussians, selected by the condition z (one-hot): the head must learn each conditional law.
const comps = [
  { mean: [1.5, -1.0], chol: [[0.5, 0], [0.3, 0.3]] },
  { mean: [-1.0, 1.0], chol: [[0.25, 0], [-0.2, 0.6]] },
];
function cov(ch: number[][]): number[][] {
  return [0, 1].map((i) => [0, 1].map((j) => ch[i]![0]! * ch[j]![0]! + ch[i]![1]! * ch[j]![1]!));
}

// Covariance tolerance relative to the component scale: 0.25·sqrt(Σ_aa Σ_bb) + 0.005 (component 2 variance 0.0625
// gets 0.021, its covariance −0.05 gets 0.045, so a head that ignored the correlation would fail).
test('the flow head alone learns a 2-D Gaussian mixture (per-component mean within 0.1, covariance within 25 % of its scale)', async () => {
  const ps = new ParamStore(0);
  const head = new FlowHead(ps, 'head', { tokenDim: 2, condDim: 2, width: 64, depth: 2 });
  const opt = new AdamW(ps.vars, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
  const rng = new Rng(1);
  const B = 256;
  for (let step = 0; step < 700; step++) {
    const x = new Float32Array(B * 2), z = new Float32Array(B * 2);
    for (let i = 0; i < B; i++) {
      const c = i % 2, { mean, chol } = comps[c]!;
      const e0 = rng.normal(), e1 = rng.normal();
      x[2 * i] = mean[0]! + chol[0]![0]! * e0;
      x[2 * i + 1] = mean[1]! + chol[1]![0]! * e0 + chol[1]![1]! * e1;
      z[2 * i + c] = 1;
    }
    const xt = tf.tensor2d(x, [B, 2]), zt = tf.tensor2d(z, [B, 2]);
    const { value, grads } = ps.grads(() => flowMatchingLoss(head, xt, zt, rng));
    opt.apply(grads, step < 500 ? 3e-3 : 1e-3);
    tf.dispose([xt, zt, value, ...grads.values()]);
  }
  const N = 3000;
  for (let c = 0; c < 2; c++) {
    const z = tf.tidy(() => tf.oneHot(tf.fill([N], c, 'int32'), 2).toFloat()) as tf.Tensor2D;
    const y = tf.tidy(() => integrateFlow((yy, t) => head.forward(yy, t, z), [N, 2], { steps: 40, solver: 'heun', temperature: 1, seed: 10 + c }).y);
    const s = y.dataSync();
    const m = [0, 1].map((d) => { let a = 0; for (let i = 0; i < N; i++) a += s[2 * i + d]!; return a / N; });
    const cv = [0, 1].map((a) => [0, 1].map((b) => { let acc = 0; for (let i = 0; i < N; i++) acc += (s[2 * i + a]! - m[a]!) * (s[2 * i + b]! - m[b]!); return acc / (N - 1); }));
    const want = cov(comps[c]!.chol);
    for (let d = 0; d < 2; d++) assert.ok(Math.abs(m[d]! - comps[c]!.mean[d]!) < 0.1, `component ${c} mean[${d}] = ${m[d]} vs ${comps[c]!.mean[d]}`);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) {
      const tol = 0.25 * Math.sqrt(want[a]![a]! * want[b]![b]!) + 0.005;
      assert.ok(Math.abs(cv[a]![b]! - want[a]![b]!) < tol, `component ${c} cov[${a}][${b}] = ${cv[a]![b]} vs ${want[a]![b]} (tolerance ${tol})`);
    }
    tf.dispose([z, y]);
  }
  opt.dispose();
  ps.dispose();
});
