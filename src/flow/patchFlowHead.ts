// Patch flow head (FlowAR's flow head, Hi-MAR's DiT head; method.md §3): a small transformer over all the
// tokens one sequential step emits. Each token's AdaLN modulation comes from c_j = emb(t) + proj(z_j), the
// tokens of one segment (a patch of NestAR, a scale of next-scale AR) attend to each other with full
// self-attention, and a learned in-patch position table tells them apart. The modulations and the output
// layer start at zero (adaLN-Zero), so like the per-token head it starts as the zero velocity field.
// Why: a per-token head samples the P tokens of a patch independently given their conditions, so nothing
// makes neighbours agree (speckled strokes); here the ODE state of a patch is integrated jointly.
import * as tf from '@tensorflow/tfjs-core';
import { applyLinear, gelu, linear, LN_EPS, silu, stackLinears, type Linear } from '../model/layers.js';
import { fusedAttentionQkv, fusedPatchHeadStep } from '../engine/fusedOps.js';
import { directModulator, StackedModulations } from './modulation.js';
import type { ParamStore } from '../model/params.js';
import { timeEmbedding, TimeTable, T_FREQ } from './flowHead.js';
import { layoutRows, type HeadLayout, type PreparedVelocity, type VelocityHead } from './head.js';
import { sinCos2d } from '../model/posEmbed.js';
import { groupedSelfAttention, projectedSelfAttention } from '../model/attention.js';

export interface PatchFlowHeadSpec {
  tokenDim: number; condDim: number; width: number; depth: number;
  /** Attention heads (width must divide by it). */
  heads: number;
  /** Grid positions [row, col] of the in-patch position table's slots (their sin-cos features initialise it). */
  slotPositions: Array<[number, number]>;
  gridSize: number;
}

/** Hidden width of the head's MLP as a multiple of its width. */
export const PATCH_HEAD_MLP_RATIO = 2;

interface Modulation { shift: Linear; scale: Linear; gate: Linear }
interface HeadBlock { attnMod: Modulation; q: Linear; k: Linear; v: Linear; proj: Linear; mlpMod: Modulation; fc1: Linear; fc2: Linear }

export class PatchFlowHead implements VelocityHead {
  readonly kind = 'patch' as const;
  private readonly tEmb1: Linear; private readonly tEmb2: Linear;
  private readonly zProj: Linear; private readonly inProj: Linear;
  private readonly pos: tf.Variable;
  private readonly blocks: HeadBlock[] = [];
  private readonly finalShift: Linear; private readonly finalScale: Linear; private readonly out: Linear;

  constructor(ps: ParamStore, readonly name: string, readonly spec: PatchFlowHeadSpec) {
    const { tokenDim: D, condDim, width: W, depth, heads } = spec;
    if (W % heads !== 0) throw new Error(`${name}: head width ${W} is not divisible by its ${heads} attention heads`);
    this.tEmb1 = linear(ps, `${name}.t_emb.fc1`, T_FREQ, W);
    this.tEmb2 = linear(ps, `${name}.t_emb.fc2`, W, W);
    this.zProj = linear(ps, `${name}.z_proj`, condDim, W);
    this.inProj = linear(ps, `${name}.in`, D, W);
    const S = spec.slotPositions.length, table = new Float32Array(S * W);
    spec.slotPositions.forEach((p, j) => table.set(sinCos2d(p, W, spec.gridSize), j * W));
    this.pos = ps.create(`${name}.pos`, [S, W], { kind: 'values', values: table });
    const mod = (p: string): Modulation => ({
      shift: linear(ps, `${p}.ada_shift`, W, W, { zero: true }), scale: linear(ps, `${p}.ada_scale`, W, W, { zero: true }),
      gate: linear(ps, `${p}.ada_gate`, W, W, { zero: true }),
    });
    const hidden = PATCH_HEAD_MLP_RATIO * W;
    for (let i = 0; i < depth; i++) {
      const p = `${name}.blocks.${i}`;
      this.blocks.push({
        attnMod: mod(`${p}.attn`), q: linear(ps, `${p}.attn.q`, W, W), k: linear(ps, `${p}.attn.k`, W, W),
        v: linear(ps, `${p}.attn.v`, W, W), proj: linear(ps, `${p}.attn.proj`, W, W),
        mlpMod: mod(`${p}.mlp`), fc1: linear(ps, `${p}.mlp.fc1`, W, hidden), fc2: linear(ps, `${p}.mlp.fc2`, hidden, W),
      });
    }
    this.finalShift = linear(ps, `${name}.final.ada_shift`, W, W, { zero: true });
    this.finalScale = linear(ps, `${name}.final.ada_scale`, W, W, { zero: true });
    this.out = linear(ps, `${name}.final.out`, W, D, { zero: true });
  }

  forward(y_ND: tf.Tensor2D, t: number | Float32Array, z_NC: tf.Tensor2D, layout: HeadLayout): tf.Tensor2D {
    const terms = this.conditionTerms(z_NC, layout, y_ND.shape[0]);
    return this.velocityFrom(y_ND, timeEmbedding(this.tEmb1, this.tEmb2, t, y_ND.shape[0]), terms);
  }

  prepare(z_NC: tf.Tensor2D, layout: HeadLayout, times: ArrayLike<number>): PreparedVelocity {
    const base = this.conditionTerms(z_NC, layout, z_NC.shape[0]);
    // Positions tiled to every row once, so each step adds them without reshapes; q/k/v and the modulations stacked.
    const posN = tf.tile(base.posS, [z_NC.shape[0] / base.posS.shape[0]!, 1]);
    const qkv = this.blocks.map((b) => stackLinears([b.q, b.k, b.v]));
    const stack = new StackedModulations([...this.blocks.flatMap((b) => [b.attnMod, b.mlpMod]).flatMap((m) => [m.scale, m.shift, m.gate]), this.finalScale, this.finalShift]);
    const terms: ConditionTerms = { ...base, posN, qkv, stack };
    const owned = [base.zp, base.posS, posN, ...(base.mask ? [base.mask] : [])].map((x) => tf.keep(x)).concat(qkv.flatMap((l) => [l.w, l.b!]));
    const table = new TimeTable(this.tEmb1, this.tEmb2, times);
    // Where the engine has it, a whole evaluation is one kernel over the same terms (the same operations, so the same bits).
    // What the kernel reads besides (y, t) is fixed for the solve: gathered once here, not every step.
    const fixed = { zp: terms.zp, pos: posN, inW: this.inProj.w, inB: this.inProj.b!, modW: stack.layer.w, modB: stack.layer.b!, outW: this.out.w,
      outB: this.out.b!, mask: terms.mask, heads: this.spec.heads, groups: terms.groups, eps: LN_EPS,
      blocks: this.blocks.map((b, i) => [qkv[i]!.w, qkv[i]!.b!, b.proj.w, b.proj.b!, b.fc1.w, b.fc1.b!, b.fc2.w, b.fc2.b!]),
      offsets: [...this.blocks.flatMap((b) => [b.attnMod.scale, b.attnMod.shift, b.attnMod.gate, b.mlpMod.scale, b.mlpMod.shift, b.mlpMod.gate]),
        this.finalScale, this.finalShift].map((l) => stack.column(l)) };
    const step = (y: tf.Tensor2D, te: tf.Tensor) => fusedPatchHeadStep({ ...fixed, y, te });
    return {
      velocity: (y, t) => { const te = table.row(t); return step(y, te) ?? this.velocityFrom(y, te, terms); },
      dispose: () => { tf.dispose(owned); table.dispose(); stack.dispose(); },
    };
  }

  /** What depends on the conditions and layout only: the projected conditions, the in-patch positions, the attention. */
  private conditionTerms(z_NC: tf.Tensor2D, layout: HeadLayout, N: number): ConditionTerms {
    const W = this.spec.width, S = layoutRows(layout);
    if (N % S !== 0) throw new Error(`${this.name}: ${N} rows do not split into samples of ${S} rows`);
    for (const s of layout.segments) {
      if (s.slot < 0 || s.slot + s.length > this.pos.shape[0]!) throw new Error(`${this.name}: segment slots ${s.slot}..${s.slot + s.length} exceed its ${this.pos.shape[0]} positions`);
    }
    // In a tidy: prepare() runs outside one, and the slices would outlive it.
    const posS = tf.tidy(() => tf.concat(layout.segments.map((s) => tf.slice(this.pos, [s.slot, 0], [s.length, W])), 0));
    return { zp: applyLinear(this.zProj, z_NC), posS, ...segmentAttention(layout, N / S, this.spec.heads) };
  }

  /** The head given emb(t) ([N, W], or [1, W] for every row) and the condition terms. */
  private velocityFrom(y_ND: tf.Tensor2D, te: tf.Tensor, terms: ConditionTerms): tf.Tensor2D {
    const N = y_ND.shape[0], W = this.spec.width, S = terms.posS.shape[0]!;
    const c = silu(tf.add(te, terms.zp));
    const mod = terms.stack ? terms.stack.of(c) : directModulator(c);
    const x = applyLinear(this.inProj, y_ND);
    let h: tf.Tensor = terms.posN ? tf.add(x, terms.posN) : tf.reshape(tf.add(tf.reshape(x, [N / S, S, W]), terms.posS), [N, W]);
    for (const [i, b] of this.blocks.entries()) {
      const hn = mod.modulate(h, b.attnMod.scale, b.attnMod.shift);
      const a = terms.qkv ? terms.attendQkv(applyLinear(terms.qkv[i]!, hn) as tf.Tensor2D) : projectedSelfAttention(hn as tf.Tensor2D, b.q, b.k, b.v, terms.mask, this.spec.heads, terms.groups);
      h = mod.gate(h, b.attnMod.gate, applyLinear(b.proj, a));
      const hm = mod.modulate(h, b.mlpMod.scale, b.mlpMod.shift);
      h = mod.gate(h, b.mlpMod.gate, applyLinear(b.fc2, gelu(applyLinear(b.fc1, hm))));
    }
    return applyLinear(this.out, mod.modulate(h, this.finalScale, this.finalShift)) as tf.Tensor2D;
  }
}

interface ConditionTerms {
  zp: tf.Tensor; posS: tf.Tensor;
  /** posS tiled to all N rows (bound heads only). */
  posN?: tf.Tensor;
  /** The modulation layers side by side (bound heads only). */
  stack?: StackedModulations;
  /** Each block's q, k, v layers side by side (bound heads only). */
  qkv?: Linear[];
  mask: tf.Tensor2D | null;
  /** Attention groups of the rows (samples × equal segments, or samples under the block-diagonal mask). */
  groups: number;
  attend: (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;
  /** The same from the column blocks of qkv [N, 3W]. */
  attendQkv: (qkv: tf.Tensor2D) => tf.Tensor;
}

/**
 * Full self-attention within each segment of each sample, on [N, W] rows. Equal segments are folded into
 * the batch (no mask); unequal ones (next-scale's scales) attend over the sample under a block-diagonal mask.
 */
function segmentAttention(layout: HeadLayout, G: number, H: number): Pick<ConditionTerms, 'mask' | 'groups' | 'attend' | 'attendQkv'> {
  const lens = layout.segments.map((s) => s.length), S = lens.reduce((a, b) => a + b, 0);
  const equal = lens.every((l) => l === lens[0]);
  const groups = equal ? G * lens.length : G, L = equal ? lens[0]! : S;
  let mask: tf.Tensor2D | null = null;
  if (!equal) {
    const m = new Float32Array(S * S).fill(-1e9);
    let off = 0;
    for (const l of lens) {
      for (let i = off; i < off + l; i++) m.fill(0, i * S + off, i * S + off + l);
      off += l;
    }
    mask = tf.tensor2d(m, [S, S]);
  }
  const attend = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => groupedSelfAttention(q as tf.Tensor2D, k as tf.Tensor2D, v as tf.Tensor2D, mask, H, groups);
  const third = (x: tf.Tensor2D, i: number) => tf.slice(x, [0, (i * x.shape[1]) / 3], [-1, x.shape[1] / 3]);
  return { mask, groups, attend, attendQkv: (qkv) => fusedAttentionQkv(qkv, mask, H, groups) ?? attend(third(qkv, 0), third(qkv, 1), third(qkv, 2)) };
}
