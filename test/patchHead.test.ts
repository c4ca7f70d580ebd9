// The patch flow head (issue #17): it must model what a per-token head cannot (tokens of one patch that
// agree), mix tokens within a patch and only there, and match PyTorch.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setup, tf, maxRelErr } from './helpers.js';
import { FlowHead } from '../src/flow/flowHead.js';
import { PatchFlowHead } from '../src/flow/patchFlowHead.js';
import { singleSegment, type HeadLayout, type VelocityHead } from '../src/flow/head.js';
import { flowMatchingLoss, integrateFlow } from '../src/flow/flowMatching.js';
import { ParamStore } from '../src/model/params.js';
import { AdamW } from '../src/train/optimizer.js';
import { Rng } from '../src/util/rng.js';
import { assignVariables } from '../src/train/weights.js';
import { engineFlags } from '../src/engine/flags.js';
import { StackedModulations, directModulator } from '../src/flow/modulation.js';
import { linear } from '../src/model/layers.js';
import { setNativeKernels } from '../src/engine/backend.js';

before(setup);

const slots = (n: number): Array<[number, number]> => Array.from({ length: n }, (_, j) => [0, j]);

function makeHead(kind: 'token' | 'patch', ps: ParamStore, tokenDim: number, condDim: number, slotCount: number): VelocityHead {
  return kind === 'token' ? new FlowHead(ps, 'h', { tokenDim, condDim, width: 32, depth: 2 })
    : new PatchFlowHead(ps, 'h', { tokenDim, condDim, width: 32, depth: 2, heads: 2, slotPositions: slots(slotCount), gridSize: 4 });
}

/** Pearson correlation of the two tokens of each patch (rows 2i and 2i+1 of a [2N, 1] sample). */
function pairCorrelation(s: Float32Array): number {
  const N = s.length / 2;
  let ma = 0, mb = 0;
  for (let i = 0; i < N; i++) { ma += s[2 * i]!; mb += s[2 * i + 1]!; }
  ma /= N; mb /= N;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < N; i++) {
    const a = s[2 * i]! - ma, b = s[2 * i + 1]! - mb;
    sab += a * b; saa += a * a; sbb += b * b;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Trains a head on 2-token patches whose tokens are equal, each ±1 (a 2-component mixture), and samples it. */
function trainAndSample(kind: 'token' | 'patch'): { corr: number; absMean: number } {
  const ps = new ParamStore(3);
  const head = makeHead(kind, ps, 1, 2, 2);
  const opt = new AdamW(ps.vars, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
  const rng = new Rng(5), layout = singleSegment(2);
  const G = 128;
  const z = tf.tidy(() => tf.concat([tf.ones([2 * G, 1]), tf.zeros([2 * G, 1])], 1)) as tf.Tensor2D;
  for (let step = 0; step < 300; step++) {
    const x = new Float32Array(2 * G);
    for (let g = 0; g < G; g++) {
      const v = (rng.next() < 0.5 ? -1 : 1) + 0.05 * rng.normal();
      x[2 * g] = v; x[2 * g + 1] = v;
    }
    const xt = tf.tensor2d(x, [2 * G, 1]);
    const { value, grads } = ps.grads(() => flowMatchingLoss(head, xt, z, rng, { layout, repeats: 2 }));
    opt.apply(grads, 3e-3);
    tf.dispose([xt, value, ...grads.values()]);
  }
  z.dispose();
  const N = 1000;
  const zs = tf.tidy(() => tf.concat([tf.ones([2 * N, 1]), tf.zeros([2 * N, 1])], 1)) as tf.Tensor2D;
  const y = tf.tidy(() => integrateFlow((yy, t) => head.forward(yy, t, zs, layout), [2 * N, 1], { steps: 32, solver: 'euler', temperature: 1, seed: 9 }).y);
  const s = y.dataSync() as Float32Array;
  let absMean = 0;
  for (const v of s) absMean += Math.abs(v) / s.length;
  const corr = pairCorrelation(s);
  tf.dispose([zs, y]);
  opt.dispose();
  ps.dispose();
  return { corr, absMean };
}

test('a patch head samples the two equal tokens of a patch together (correlation >= 0.9); a per-token head cannot (|r| < 0.2)', () => {
  const patch = trainAndSample('patch'), token = trainAndSample('token');
  // Both learnt the marginal (mass near ±1), so the difference is the joint law alone.
  assert.ok(patch.absMean > 0.7 && token.absMean > 0.7, `marginals: patch E|x| = ${patch.absMean}, token E|x| = ${token.absMean}`);
  assert.ok(patch.corr >= 0.9, `patch head correlation ${patch.corr}`);
  assert.ok(Math.abs(token.corr) < 0.2, `per-token head correlation ${token.corr}`);
});

/** Every parameter set to random values (the heads start with zero outputs, which would hide any mixing). */
function randomise(ps: ParamStore, seed: number): void {
  const rng = new Rng(seed);
  for (const v of ps.vars.values()) {
    const d = new Float32Array(v.size);
    for (let i = 0; i < d.length; i++) d[i] = 0.3 * rng.normal();
    v.assign(tf.tensor(d, v.shape));
  }
}

test('through the real forward pass, a patch head mixes the tokens of a patch and nothing else; a per-token head mixes nothing', () => {
  const layout: HeadLayout = { segments: [{ slot: 0, length: 3 }, { slot: 0, length: 3 }] };
  const unequal: HeadLayout = { segments: [{ slot: 0, length: 1 }, { slot: 1, length: 4 }] };
  for (const [kind, lay] of [['patch', layout], ['token', layout], ['patch', unequal]] as const) {
    const ps = new ParamStore(1);
    const head = makeHead(kind, ps, 2, 3, 6);
    randomise(ps, 2);
    const S = lay.segments.reduce((a, s) => a + s.length, 0), N = 2 * S;
    const rng = new Rng(4);
    const y = Float32Array.from({ length: N * 2 }, () => rng.normal());
    const z = tf.tensor2d(Float32Array.from({ length: N * 3 }, () => rng.normal()), [N, 3]);
    const t = new Float32Array(N).fill(0.4);
    const v0 = head.forward(tf.tensor2d(y, [N, 2]), t, z, lay).arraySync() as number[][];
    const j = lay.segments[0]!.length === 1 ? 2 : 1; // a token of the first sample's last segment / first patch
    const y2 = y.slice(); y2[2 * j] = y2[2 * j]! + 1;
    const v1 = head.forward(tf.tensor2d(y2, [N, 2]), t, z, lay).arraySync() as number[][];
    const segOf: number[] = [];
    lay.segments.forEach((s, i) => { for (let r = 0; r < s.length; r++) segOf.push(i); });
    for (let row = 0; row < N; row++) {
      if (row === j) continue;
      const changed = Math.max(...v0[row]!.map((x, d) => Math.abs(x - v1[row]![d]!))) > 1e-4;
      const sameSegment = row < S && segOf[row] === segOf[j];
      assert.equal(changed, kind === 'patch' && sameSegment, `${kind} head (${lay.segments.length} segments): row ${row} ${changed ? 'changed' : 'unchanged'} when token ${j} moved`);
    }
    z.dispose();
    ps.dispose();
  }
});

test('one patch-head forward pass matches PyTorch to 1e-5 relative (equal and unequal segments)', () => {
  const ref = JSON.parse(readFileSync(new URL('./fixtures/patch-head.json', import.meta.url), 'utf8'));
  const s = ref.spec;
  const ps = new ParamStore(0);
  const head = new PatchFlowHead(ps, 'ph', { tokenDim: s.tokenDim, condDim: s.condDim, width: s.width, depth: s.depth, heads: s.heads, slotPositions: slots(s.slots), gridSize: 4 });
  const arrays = Object.fromEntries(Object.entries(ref.weights as Record<string, { shape: number[]; data: number[] }>).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]));
  assignVariables(ps.vars, arrays, 'patch-head.json');
  assert.equal(ref.cases.length, 2);
  for (const c of ref.cases) {
    const out = head.forward(tf.tensor2d(Float32Array.from(c.y), [c.n, s.tokenDim]), Float32Array.from(c.t), tf.tensor2d(Float32Array.from(c.z), [c.n, s.condDim]), { segments: c.segments });
    const err = maxRelErr(out.dataSync(), c.out);
    assert.ok(err < 1e-5, `segments ${JSON.stringify(c.segments)}: relative error ${err}`);
  }
  ps.dispose();
});

test('a head bound to its conditions (prepare, what the ODE solvers call) gives forward\'s velocities, on and off its time grid', () => {
  const rnd = (shape: [number, number], seed: number) => {
    const r = new Rng(seed);
    return tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => r.normal()), shape);
  };
  const unequal: HeadLayout = { segments: [{ slot: 0, length: 1 }, { slot: 1, length: 4 }, { slot: 5, length: 3 }] };
  for (const [kind, layout] of [['token', singleSegment(4)], ['patch', singleSegment(4)], ['patch', unequal]] as const) {
    const ps = new ParamStore(3);
    const head = makeHead(kind, ps, 3, 5, 8);
    // Zero-initialised modulations and output would make every velocity 0: randomise all weights first.
    const r = new Rng(11);
    for (const v of ps.list()) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => 0.3 * r.normal()), v.shape));
    const rows = 2 * (layout.segments.reduce((a, s) => a + s.length, 0));
    const y = rnd([rows, 3], 1), z = rnd([rows, 5], 2), times = [0, 0.25, 0.5, 0.75];
    // Fused kernels off: the stacked modulations and q/k/v are read by slices (engines without column kernels).
    for (const fused of [true, false]) {
      engineFlags.fusedNorm = engineFlags.fusedAttention = engineFlags.fusedHead = fused;
      try {
        const bound = head.prepare(z, layout, times);
        for (const t of [0, 0.5, 0.75, 0.6]) {
          const a = bound.velocity(y, t).dataSync() as Float32Array, b = head.forward(y, t, z, layout).dataSync() as Float32Array;
          assert.ok(maxRelErr(a, b) < 1e-5, `${kind} head, ${layout.segments.length} segments, t ${t}, fused ${fused}: ${maxRelErr(a, b)}`);
          assert.ok(b.some((x) => Math.abs(x) > 1e-3), 'velocities are not all zero');
          if (fused) {
            // The one-kernel evaluation (NestarPatchHeadStep, where the engine has it) runs the bound path's own operations: the same bits.
            engineFlags.fusedHead = false;
            const c = bound.velocity(y, t).dataSync() as Float32Array;
            engineFlags.fusedHead = true;
            assert.deepEqual(a, c, `${kind} head, t ${t}: the fused head step differs from the kernel-by-kernel bound path`);
          }
        }
        const before = tf.memory().numTensors;
        bound.dispose();
        assert.ok(tf.memory().numTensors < before, 'dispose frees the bound tensors');
      } finally { engineFlags.fusedNorm = engineFlags.fusedAttention = engineFlags.fusedHead = true; }
    }
    tf.dispose([y, z]);
  }
});

test('stacked modulations equal each layer on its own, and refuse a layer they do not hold', () => {
  const ps = new ParamStore(4);
  const a = linear(ps, 'a', 6, 5), b = linear(ps, 'b', 6, 5), g = linear(ps, 'g', 6, 5), other = linear(ps, 'o', 6, 5);
  for (const l of [a, b, g]) l.b!.assign(tf.randomNormal([5], 0, 1, 'float32', 7));
  const stacked = new StackedModulations([a, b, g]);
  assert.equal(stacked.column(b), 5);
  assert.throws(() => stacked.column(other), /not stacked/);
  const c = tf.randomNormal([3, 6], 0, 1, 'float32', 1), x = tf.randomNormal([3, 5], 0, 1, 'float32', 2), h = tf.randomNormal([3, 5], 0, 1, 'float32', 3);
  const close = (u: tf.Tensor, v: tf.Tensor, what: string) => {
    const e = maxRelErr(u.dataSync(), v.dataSync());
    assert.ok(u.size === 15 && e < 1e-5, `${what}: ${e}`);
  };
  // With the native column-reading kernels, and without them (the plain tfjs path every other backend takes).
  for (const native of [true, false]) {
    setNativeKernels(native);
    try {
      const s1 = stacked.of(c), d = directModulator(c), on = native ? 'native' : 'plain tfjs';
      close(s1.modulate(x, a, b), d.modulate(x, a, b), `modulate (${on})`);
      close(s1.modulate(x, b, g), d.modulate(x, b, g), `modulate, other columns (${on})`);
      close(s1.gate(h, g, x), d.gate(h, g, x), `gate (${on})`);
    } finally { setNativeKernels(true); }
  }
  stacked.dispose();
});
