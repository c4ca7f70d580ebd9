// Hand-written and native gradients (issue #23): each against tfjs autodiff of the same math written as
// composite ops (tight), and against central finite differences in float32 (tolerance from the step).
// Awkward shapes on purpose: odd sizes, one row, sizes that are not multiples of any SIMD width.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxRelErr, randnTensor } from './helpers.js';
import { adaLnModulate, applyLayerNorm, applyLinear, gelu, geluComposite, layerNorm, LN_EPS, repeatRows } from '../src/model/layers.js';
import { ParamStore } from '../src/model/params.js';
import { engineFlags } from '../src/engine/flags.js';
import { conv2dAuto, conv2dSame } from '../src/model/conv.js';
import { Rng } from '../src/util/rng.js';

before(setup);

const rnd = (shape: number[], seed: number, scale = 1) => randnTensor(new Rng(seed), shape, scale);

/** Gradients of sum(f(...xs) · R) for a fixed random R, so every output element weighs in differently. */
function grads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], seed = 99): Float32Array[] {
  const out = f(...xs);
  const R = rnd(out.shape, seed);
  out.dispose();
  const g = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), R)))(xs);
  const res = g.map((t) => t.dataSync() as Float32Array);
  tf.dispose([R, ...g]);
  return res;
}

/** Central differences of the same scalar at a few coordinates of input i; returns [numeric, analytic] pairs. */
function finiteDiff(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], i: number, analytic: Float32Array, coords: number[], h = 1e-2, seed = 99): Array<[number, number]> {
  const out = f(...xs);
  const R = rnd(out.shape, seed);
  out.dispose();
  const scalar = (a: tf.Tensor[]) => tf.tidy(() => tf.sum(tf.mul(f(...a), R)).dataSync()[0]!);
  const base = xs[i]!.dataSync() as Float32Array;
  const pairs: Array<[number, number]> = [];
  for (const c of coords) {
    const plus = base.slice(), minus = base.slice();
    plus[c] = plus[c]! + h; minus[c] = minus[c]! - h;
    const xp = [...xs], xm = [...xs];
    xp[i] = tf.tensor(plus, xs[i]!.shape); xm[i] = tf.tensor(minus, xs[i]!.shape);
    pairs.push([(scalar(xp) - scalar(xm)) / (2 * h), analytic[c]!]);
    tf.dispose([xp[i]!, xm[i]!]);
  }
  R.dispose();
  return pairs;
}

function assertFd(pairs: Array<[number, number]>, what: string): void {
  // float32 sums of ~1e2 terms in the scalar: rounding error ~1e-6·|S|/h; O(h²) truncation is smaller.
  for (const [num, ana] of pairs) assert.ok(Math.abs(num - ana) <= 2e-2 * Math.max(1, Math.abs(ana)), `${what}: finite difference ${num} vs gradient ${ana}`);
}

test('Linear (closed-form gradient) = autodiff of matMul + bias = finite differences', () => {
  for (const [N, I, O] of [[1, 3, 5], [7, 13, 6], [33, 17, 9]] as const) {
    const x = rnd([N, I], 1), w = rnd([I, O], 2), b = rnd([O], 3);
    const custom = grads((xx, ww, bb) => applyLinear({ w: ww as tf.Variable, b: bb as tf.Variable }, xx), [x, w, b]);
    const ref = grads((xx, ww, bb) => tf.add(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb), [x, w, b]);
    custom.forEach((g, k) => assert.ok(maxRelErr(g, ref[k]!) < 1e-5, `linear [${N},${I}]x[${I},${O}] input ${k}: ${maxRelErr(g, ref[k]!)}`));
    assertFd(finiteDiff((xx, ww, bb) => applyLinear({ w: ww as tf.Variable, b: bb as tf.Variable }, xx), [x, w, b], 1, custom[1]!, [0, I * O - 1, Math.floor(I * O / 2)]), 'linear dw');
    // 3-D input folds leading dims into rows.
    const x3 = rnd([2, N, I], 4);
    const c3 = grads((xx, ww, bb) => applyLinear({ w: ww as tf.Variable, b: bb as tf.Variable }, xx), [x3, w, b]);
    const r3 = grads((xx, ww, bb) => tf.add(tf.matMul(tf.reshape(xx, [-1, I]) as tf.Tensor2D, ww as tf.Tensor2D), bb).reshape([2, N, O]), [x3, w, b]);
    c3.forEach((g, k) => assert.ok(maxRelErr(g, r3[k]!) < 1e-5, `linear 3-D input ${k}`));
    tf.dispose([x, w, b, x3]);
  }
});

const lnComposite = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
  const mu = tf.mean(x, -1, true), xc = tf.sub(x, mu);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), LN_EPS))), g), b);
};

for (const fused of [true, false]) {
  test(`LayerNorm (${fused ? 'fused native kernel where built' : 'closed-form gradient'}) = autodiff of the composite = finite differences, every input`, () => {
    engineFlags.fusedNorm = fused;
    try { layerNormCase(); } finally { engineFlags.fusedNorm = true; }
  });
}

test('LayerNorm without affine makes no parameters and returns x̂ (mean 0, variance 1 per row) with the composite\'s gradient, also on 3-D input', () => {
  const ps = new ParamStore(1);
  const ln = layerNorm(ps, 'norm', 7, false);
  assert.equal(ps.vars.size, 0, 'a non-affine LayerNorm must not add parameters (parameter counts, checkpoints)');
  assert.equal(layerNorm(ps, 'aff', 7).g?.shape[0], 7);
  const x = rnd([2, 3, 7], 21, 3);
  const y = applyLayerNorm(ln, x);
  assert.deepEqual(y.shape, [2, 3, 7]);
  const one = tf.ones([7]), zero = tf.zeros([7]);
  const ref = lnComposite(x, one, zero);
  assert.ok(maxRelErr(y.dataSync(), ref.dataSync()) < 1e-5);
  const g = grads((xx) => applyLayerNorm(ln, xx), [x]), gr = grads((xx) => lnComposite(xx, one, zero), [x]);
  assert.ok(maxRelErr(g[0]!, gr[0]!) < 1e-4);
  ps.dispose();
  tf.dispose([x, y, ref, one, zero]);
});

test('AdaLN modulate (fused native kernel where built) = autodiff of x̂·(1 + scale) + shift = finite differences, every input', () => {
  for (const [N, C] of [[1, 5], [9, 7], [31, 130]] as const) {
    const x = rnd([N, C], 15, 2), s = rnd([N, C], 16, 0.5), sh = rnd([N, C], 17);
    const f = (xx: tf.Tensor, ss: tf.Tensor, hh: tf.Tensor) => adaLnModulate(xx as tf.Tensor2D, ss, hh);
    const custom = grads(f, [x, s, sh]);
    const ref = grads((xx, ss, hh) => lnComposite(xx, tf.add(1, ss), hh), [x, s, sh]);
    custom.forEach((gr, k) => assert.ok(maxRelErr(gr, ref[k]!) < 1e-4, `adaLN [${N},${C}] input ${k}: ${maxRelErr(gr, ref[k]!)}`));
    for (const i of [0, 1]) assertFd(finiteDiff(f, [x, s, sh], i, custom[i]!, [0, N * C - 1, 3 % (N * C)], 1e-2), `adaLN d${['x', 'scale'][i]}`);
    tf.dispose([x, s, sh]);
  }
});

function layerNormCase(): void {
  const composite = lnComposite;
  for (const [N, C] of [[1, 5], [9, 7], [31, 130]] as const) {
    const x = rnd([N, C], 5, 2), g = rnd([C], 6), b = rnd([C], 7);
    const custom = grads((xx, gg, bb) => applyLayerNorm({ g: gg as tf.Variable, b: bb as tf.Variable }, xx), [x, g, b]);
    const ref = grads(composite, [x, g, b]);
    custom.forEach((gr, k) => assert.ok(maxRelErr(gr, ref[k]!) < 1e-4, `layernorm [${N},${C}] input ${k}: ${maxRelErr(gr, ref[k]!)}`));
    assertFd(finiteDiff((xx, gg, bb) => applyLayerNorm({ g: gg as tf.Variable, b: bb as tf.Variable }, xx), [x, g, b], 0, custom[0]!, [0, N * C - 1, 3], 1e-2), 'layernorm dx');
    tf.dispose([x, g, b]);
  }
}

test('repeatRows (matmul gradient) = autodiff of concat copies', () => {
  for (const [N, C, r] of [[1, 3, 2], [5, 7, 4], [6, 1, 3]] as const) {
    const x = rnd([N, C], 8);
    const custom = grads((xx) => repeatRows(xx as tf.Tensor2D, r), [x]);
    const ref = grads((xx) => tf.concat(new Array(r).fill(xx), 0), [x]);
    assert.ok(maxRelErr(custom[0]!, ref[0]!) < 1e-6, `repeatRows ${N}x${C} x${r}`);
    x.dispose();
  }
});

test('GELU (fused native kernel where built) = autodiff of the composite tanh-GELU = finite differences', () => {
  for (const shape of [[1], [3, 17], [2, 5, 33]]) {
    const x = rnd(shape, 9, 3);
    const custom = grads((xx) => gelu(xx), [x]), ref = grads((xx) => geluComposite(xx), [x]);
    assert.ok(maxRelErr(custom[0]!, ref[0]!) < 1e-5, `gelu [${shape}]: ${maxRelErr(custom[0]!, ref[0]!)}`);
    assertFd(finiteDiff((xx) => gelu(xx), [x], 0, custom[0]!, [0, x.size - 1], 1e-2), 'gelu');
    x.dispose();
  }
});

test('conv2d gradients (native kernels where built) = the im2col form\'s autodiff', () => {
  for (const [N, H, C, O, k] of [[1, 5, 3, 4, 3], [2, 7, 2, 5, 3], [1, 6, 1, 2, 5]] as const) {
    const x = rnd([N, H, H, C], 10) as tf.Tensor4D, w = rnd([k, k, C, O], 11, 0.3) as tf.Tensor4D;
    const a = grads((xx, ww) => conv2dAuto(xx as tf.Tensor4D, ww as tf.Tensor4D), [x, w]);
    const b = grads((xx, ww) => conv2dSame(xx as tf.Tensor4D, ww as tf.Tensor4D), [x, w]);
    a.forEach((g, i) => assert.ok(maxRelErr(g, b[i]!) < 1e-5, `conv ${N}x${H}x${H}x${C} k${k} input ${i}: ${maxRelErr(g, b[i]!)}`));
    tf.dispose([x, w]);
  }
});

test('multi-head attention (fused native kernel where built) = the head-split composite, forward and every gradient = finite differences', async () => {
  const { multiHeadAttention } = await import('../src/model/attention.js');
  const { ATTENTION_KERNEL, LINEAR_KERNEL } = await import('../src/engine/fusedOps.js');
  const native = !!tf.getKernel(ATTENTION_KERNEL, tf.getBackend());
  // Awkward shapes: one head, an odd head width, Lq != Lk (a KV-cached step), one query row, a masked case; the last
  // two are big enough for the native kernel's 4×16 register tiles and leave ragged edges in every product.
  // A 'mixed' mask: dead suffixes of uneven lengths (the native kernels skip them), holes, finite penalties, and rows
  // with every key masked (then softmax is uniform over all keys: nothing may be skipped there).
  const mixed = (i: number, j: number, Lk: number) => {
    const last = (i * 7) % Lk; // each row's last live key, with a finite penalty
    return i % 5 === 4 || j > last ? -1e9 : j === last || j % 3 === 1 ? -3.5 : j % 7 === 5 ? -1e9 : 0;
  };
  for (const [B, Lq, Lk, H, dh, masked] of [[1, 1, 1, 1, 3, false], [2, 5, 5, 3, 7, true], [3, 2, 9, 2, 5, true], [2, 16, 16, 4, 6, false],
    [2, 37, 37, 2, 20, true], [1, 6, 41, 3, 17, true], [2, 37, 37, 2, 20, 'mixed'], [1, 21, 50, 3, 17, 'mixed']] as const) {
    const q = rnd([B, Lq, H * dh], 1), k = rnd([B, Lk, H * dh], 2), v = rnd([B, Lk, H * dh], 3);
    // A block-causal-like mask: query i sees keys j <= i + (Lk - Lq); -1e9 elsewhere.
    const mask = masked ? tf.tensor2d(Float32Array.from({ length: Lq * Lk }, (_, e) => {
      const i = Math.floor(e / Lk), j = e % Lk;
      return masked === 'mixed' ? mixed(i, j, Lk) : j <= i + Lk - Lq ? 0 : -1e9;
    }), [Lq, Lk]) : null;
    const f = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => multiHeadAttention(qq as tf.Tensor3D, kk as tf.Tensor3D, vv as tf.Tensor3D, mask, H);
    const run = (fused: boolean) => {
      engineFlags.fusedAttention = fused;
      try { return { y: tf.tidy(() => f(q, k, v).dataSync() as Float32Array), g: grads(f, [q, k, v]) }; } finally { engineFlags.fusedAttention = true; }
    };
    const a = run(true), ref = run(false);
    const what = `B ${B} Lq ${Lq} Lk ${Lk} H ${H} dh ${dh}${masked ? ` ${masked === 'mixed' ? 'mixed' : 'causal'} mask` : ''}`;
    assert.ok(maxRelErr(a.y, ref.y) < 1e-5, `${what} forward: ${maxRelErr(a.y, ref.y)}`);
    a.g.forEach((g, i) => assert.ok(maxRelErr(g, ref.g[i]!) < 1e-5, `${what} gradient of input ${'qkv'[i]}: ${maxRelErr(g, ref.g[i]!)}`));
    // (With rows that mask every key, float32 rounding makes their scores' effect on the output exactly 0 while the
    // softmax gradient is not, in the composite as in the kernels: finite differences check v there only.)
    (masked === 'mixed' ? [2] : [0, 1, 2]).forEach((i) => assertFd(finiteDiff(f, [q, k, v], i, a.g[i]!, [0, Math.floor((B * (i ? Lk : Lq) * H * dh) / 2)], 1e-2), `${what} d${'qkv'[i]}`));
    tf.dispose([q, k, v, ...(mask ? [mask] : [])]);
  }
  // The fused kernels must be the ones that ran where the pack is built (else this test checks nothing new).
  if (native) {
    const x = rnd([1, 2, 6], 5);
    const prof = await tf.profile(() => multiHeadAttention(x as tf.Tensor3D, x as tf.Tensor3D, x as tf.Tensor3D, null, 2));
    // (a custom-gradient op's own scope record is not a kernel)
    assert.deepEqual(prof.kernelNames.filter((k) => tf.getKernel(k, tf.getBackend())), [ATTENTION_KERNEL]);
    const lin = await tf.profile(() => applyLinear({ w: rnd([6, 4], 6) as tf.Variable, b: rnd([4], 7) as tf.Variable }, tf.reshape(x, [2, 6])));
    assert.ok(lin.kernelNames.includes(LINEAR_KERNEL) && !lin.kernelNames.includes('Add'), `linear ran ${lin.kernelNames}`);
    tf.dispose(x);
  }
});

test('self-attention with its q, k, v projections (one stacked matmul and the fused kernel where built) = three linears and the composite, forward and every gradient', async () => {
  const { projectedSelfAttention } = await import('../src/model/attention.js');
  const { SELF_ATTENTION_KERNEL } = await import('../src/engine/fusedOps.js');
  // Groups of rows with and without a mask; a width its heads split into odd head sizes.
  for (const [G, L, H, dh, masked] of [[3, 5, 2, 3, true], [2, 19, 3, 7, false], [1, 37, 2, 20, true]] as const) {
    const C = H * dh, x = rnd([G * L, C], 1);
    const [qw, kw, vw] = [2, 3, 4].map((s) => rnd([C, C], s, 0.3)), [qb, kb, vb] = [5, 6, 7].map((s) => rnd([C], s, 0.3));
    const mask = masked ? tf.tensor2d(Float32Array.from({ length: L * L }, (_, e) => (e % L <= Math.floor(e / L) ? 0 : -1e9)), [L, L]) : null;
    const f = (xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor, g: tf.Tensor) =>
      projectedSelfAttention(xx as tf.Tensor2D, { w: a as tf.Variable, b: d as tf.Variable }, { w: b as tf.Variable, b: e as tf.Variable }, { w: c as tf.Variable, b: g as tf.Variable }, mask, H, G);
    const ins = [x, qw!, kw!, vw!, qb!, kb!, vb!];
    const run = (fused: boolean) => {
      engineFlags.fusedAttention = fused;
      try { return { y: tf.tidy(() => f(...(ins as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])).dataSync() as Float32Array), g: grads(f as never, ins) }; } finally { engineFlags.fusedAttention = true; }
    };
    const a = run(true), ref = run(false), what = `G ${G} L ${L} H ${H} dh ${dh}${masked ? ' masked' : ''}`;
    assert.ok(maxRelErr(a.y, ref.y) < 1e-5, `${what} forward: ${maxRelErr(a.y, ref.y)}`);
    // k's bias has no gradient in exact arithmetic (it shifts a query's scores alike): both paths must give ~0.
    a.g.forEach((g, i) => {
      if (i === 5) return void assert.ok(Math.max(...g.map(Math.abs), ...ref.g[i]!.map(Math.abs)) < 1e-5 * Math.max(...ref.g[4]!.map(Math.abs)), `${what} gradient of k.b not ~0`);
      assert.ok(maxRelErr(g, ref.g[i]!) < 1e-5, `${what} gradient of ${['x', 'q.w', 'k.w', 'v.w', 'q.b', 'k.b', 'v.b'][i]}: ${maxRelErr(g, ref.g[i]!)}`);
    });
    tf.dispose([...ins, ...(mask ? [mask] : [])]);
  }
  if (tf.getKernel(SELF_ATTENTION_KERNEL, tf.getBackend())) {
    const x = rnd([4, 6], 8), l = { w: rnd([6, 6], 9) as tf.Variable, b: rnd([6], 10) as tf.Variable };
    const prof = await tf.profile(() => projectedSelfAttention(x as tf.Tensor2D, l, l, l, null, 2, 2));
    assert.ok(prof.kernelNames.includes(SELF_ATTENTION_KERNEL) && prof.kernelNames.filter((k) => k === 'NestarLinear').length === 1, `ran ${prof.kernelNames}`);
    tf.dispose([x, l.w, l.b]);
  }
});

test('SiLU and the gated residual (fused native kernels where built) = autodiff of their composite ops = finite differences; guidance = its composite', async () => {
  const { silu, gatedResidual } = await import('../src/model/layers.js');
  const { guide } = await import('../src/model/generator.js');
  const { fusedGuidance, GATED_ADD_KERNEL, GUIDANCE_KERNEL, SILU_KERNEL } = await import('../src/engine/fusedOps.js');
  for (const shape of [[1, 1], [7, 13], [3, 5, 2]]) {
    const x = rnd(shape, 1, 3), g = rnd(shape, 2), a = rnd(shape, 3);
    const cases: Array<[string, (...t: tf.Tensor[]) => tf.Tensor, (...t: tf.Tensor[]) => tf.Tensor, tf.Tensor[]]> = [
      ['silu', (t) => silu(t), (t) => tf.mul(t, tf.sigmoid(t)), [x]],
      ['gated residual', (h, gg, aa) => gatedResidual(h, gg, aa), (h, gg, aa) => tf.add(h, tf.mul(gg, aa)), [x, g, a]],
    ];
    for (const [what, fused, composite, ins] of cases) {
      const yf = tf.tidy(() => fused(...ins).dataSync() as Float32Array), yc = tf.tidy(() => composite(...ins).dataSync() as Float32Array);
      assert.ok(maxRelErr(yf, yc) < 1e-5, `${what} ${shape} forward: ${maxRelErr(yf, yc)}`);
      const gf = grads(fused, ins), gc = grads(composite, ins);
      gf.forEach((d, i) => assert.ok(maxRelErr(d, gc[i]!) < 1e-5, `${what} ${shape} gradient ${i}: ${maxRelErr(d, gc[i]!)}`));
      ins.forEach((_, i) => assertFd(finiteDiff(fused, ins, i, gf[i]!, [0, Math.floor(x.size / 2)]), `${what} ${shape} input ${i}`));
    }
    tf.dispose([x, g, a]);
  }
  const v = rnd([6, 5], 4), w = 1.25;
  const fg = fusedGuidance(v as tf.Tensor2D, w) ?? guide(v as tf.Tensor2D, w);
  assert.ok(maxRelErr(fg.dataSync(), guide(v as tf.Tensor2D, w).dataSync()) < 1e-6, 'guidance');
  if (tf.getKernel(SILU_KERNEL, tf.getBackend())) {
    const prof = await tf.profile(() => [silu(v), gatedResidual(v, v, v), fusedGuidance(v as tf.Tensor2D, w)!]);
    assert.deepEqual(prof.kernelNames, [SILU_KERNEL, GATED_ADD_KERNEL, GUIDANCE_KERNEL]);
  }
  tf.dispose([v, fg]);
});

test('residual stream ops (fused native kernels where built): h + x·w + b and [that, its LayerNorm] = the plain add, linear and norm, forward and every gradient, with and without the stream output used', async () => {
  const { residualLinear, residualLinearNorm } = await import('../src/model/layers.js');
  const { LINEAR_RESIDUAL_NORM_KERNEL, NORM_RESIDUAL_GRAD_KERNEL } = await import('../src/engine/residualOps.js');
  const names = ['x', 'w', 'b', 'h', 'g', 'β'];
  for (const [N, K, C] of [[1, 3, 5], [37, 19, 23], [130, 64, 70]] as const) {
    const ins = [rnd([N, K], 1), rnd([K, C], 2, 0.4), rnd([C], 3), rnd([N, C], 4), rnd([C], 5), rnd([C], 6)];
    const R = [rnd([N, C], 7), rnd([N, C], 8)];
    const lin = (w: tf.Tensor, b: tf.Tensor) => ({ w: w as tf.Variable, b: b as tf.Variable });
    const fused = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, h: tf.Tensor, g: tf.Tensor, be: tf.Tensor) =>
      residualLinearNorm(lin(w, b), x as tf.Tensor2D, h as tf.Tensor2D, { g: g as tf.Variable, b: be as tf.Variable });
    const plain = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, h: tf.Tensor, g: tf.Tensor, be: tf.Tensor) => {
      const next = tf.add(h, tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b));
      return [next, lnComposite(next, g, be)];
    };
    for (const useStream of [true, false]) {
      const loss = (f: typeof plain) => (...a: tf.Tensor[]) => {
        const [next, n] = f(...(a as Parameters<typeof plain>));
        return useStream ? tf.add(tf.sum(tf.mul(next!, R[0]!)), tf.sum(tf.mul(n!, R[1]!))) : tf.sum(tf.mul(n!, R[1]!));
      };
      const gf = tf.grads(loss(fused))(ins), gp = tf.grads(loss(plain))(ins), what = `[${N},${K}]x[${K},${C}]${useStream ? '' : ', norm only'}`;
      gf.forEach((g, i) => assert.ok(maxRelErr(g.dataSync(), gp[i]!.dataSync()) < 1e-5, `${what} gradient of ${names[i]}: ${maxRelErr(g.dataSync(), gp[i]!.dataSync())}`));
      tf.dispose([...gf, ...gp]);
    }
    const [yf, nf] = fused(...(ins as Parameters<typeof plain>)), [yp, np] = plain(...(ins as Parameters<typeof plain>));
    assert.ok(maxRelErr(yf.dataSync(), yp!.dataSync()) < 1e-5 && maxRelErr(nf.dataSync(), np!.dataSync()) < 1e-5, `[${N},${K}]x[${K},${C}] forward`);
    const only = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, h: tf.Tensor) => tf.sum(tf.mul(residualLinear(lin(w, b), x as tf.Tensor2D, h as tf.Tensor2D), R[0]!));
    const go = tf.grads(only)(ins.slice(0, 4)), gpo = tf.grads((x, w, b, h) => tf.sum(tf.mul(plain(x!, w!, b!, h!, ins[4]!, ins[5]!)[0]!, R[0]!)))(ins.slice(0, 4));
    go.forEach((g, i) => assert.ok(maxRelErr(g.dataSync(), gpo[i]!.dataSync()) < 1e-5, `residualLinear ${N}x${C} gradient of ${names[i]}`));
    tf.dispose([...ins, ...R, yf, nf, yp!, np!, ...go, ...gpo]);
  }
  if (tf.getKernel(LINEAR_RESIDUAL_NORM_KERNEL, tf.getBackend())) {
    // One kernel forward, and backward the norm's residual gradient kernel with no Add for the stream.
    const [x, w, b, h, g, be] = [rnd([6, 4], 1), rnd([4, 5], 2), rnd([5], 3), rnd([6, 5], 4), rnd([5], 5), rnd([5], 6)];
    const f = (xx: tf.Tensor, hh: tf.Tensor) => residualLinearNorm({ w: w as tf.Variable, b: b as tf.Variable }, xx as tf.Tensor2D, hh as tf.Tensor2D, { g: g as tf.Variable, b: be as tf.Variable });
    const fwd = await tf.profile(() => f(x, h));
    assert.deepEqual(fwd.kernelNames, [LINEAR_RESIDUAL_NORM_KERNEL]);
    const bwd = await tf.profile(() => tf.grads((xx: tf.Tensor, hh: tf.Tensor) => { const [s, n] = f(xx, hh); return tf.add(tf.sum(s), tf.sum(tf.square(n))); })([x, h]));
    assert.ok(bwd.kernelNames.includes(NORM_RESIDUAL_GRAD_KERNEL) && bwd.kernelNames.filter((k) => k === 'Add' || k === 'AddN').length === 1, `ran ${bwd.kernelNames}`);
    tf.dispose([x, w, b, h, g, be]);
  }
});
