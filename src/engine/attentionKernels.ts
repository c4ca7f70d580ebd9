// The native pack's attention kernels (native/attention.c), registered by nativeKernels.ts: multi-head attention on
// row layouts with its gradient, the bound heads' forward from one qkv matrix, and training's self-attention from
// one qkv matrix with a gradient of that layout.
import * as tf from '@tensorflow/tfjs-core';
import { floatBits, kernelHost, NO_MASK } from './kernelHost.js';
import type { NativeAddon } from './nativeAddon.js';

interface AttentionAttrs { heads: number; scale: number; groups: number }

/** The [B, Lq, Lk, H, dh] of an attention call on q [B, Lq, C] or [B·Lq, C] (B = groups), k likewise. */
function attentionDims(q: tf.TensorInfo, k: tf.TensorInfo, a: AttentionAttrs): [number, number, number, number, number] {
  const C = q.shape[q.shape.length - 1]!, B = a.groups, nq = tf.util.sizeFromShape(q.shape), nk = tf.util.sizeFromShape(k.shape);
  if (k.shape[k.shape.length - 1] !== C || C % a.heads !== 0 || nq % (B * C) !== 0 || nk % (B * C) !== 0) {
    throw new Error(`attention: q ${q.shape} and k ${k.shape} do not fit ${B} groups of ${a.heads} heads`);
  }
  return [B, nq / (B * C), nk / (B * C), a.heads, C / a.heads];
}

/** NestarAttention (src/engine/fusedOps.ts): [out, P]. */
export function makeAttention(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { q, k, v, mask } = inputs as Record<'q' | 'k' | 'v', tf.TensorInfo> & { mask?: tf.TensorInfo };
    const a = attrs as unknown as AttentionAttrs;
    const [B, Lq, Lk, H, dh] = attentionDims(q, k, a);
    const be = kernelHost(backend);
    const out = be.makeOutput([...q.shape], 'float32'), P = be.makeOutput([B, H, Lq, Lk], 'float32');
    addon.attention(be.view(q), be.view(k), be.view(v), mask ? be.view(mask) : NO_MASK,
      be.view(out), be.view(P), B, Lq, Lk, H, dh, floatBits(a.scale), mask ? 1 : 0);
    return [out, P];
  };
}

/** NestarAttentionQkv: self-attention of the column blocks of qkv [B·L, 3C] → [B·L, C] (forward only). */
export function makeAttentionQkv(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { qkv, mask } = inputs as { qkv: tf.TensorInfo; mask?: tf.TensorInfo };
    const a = attrs as unknown as AttentionAttrs;
    const [N, C3] = qkv.shape as [number, number], C = C3 / 3;
    if (C3 % 3 !== 0 || C % a.heads !== 0 || N % a.groups !== 0) throw new Error(`attentionQkv: qkv ${qkv.shape} does not fit ${a.groups} groups of ${a.heads} heads`);
    const be = kernelHost(backend);
    const out = be.makeOutput([N, C], 'float32');
    addon.attentionQkv(be.view(qkv), mask ? be.view(mask) : NO_MASK, be.view(out), a.groups, N / a.groups, a.heads, C / a.heads,
      floatBits(a.scale), mask ? 1 : 0);
    return out;
  };
}

/** The [B, L, H, dh] of a self-attention call on qkv [B·L, 3·H·dh] in `groups` = B groups. */
function selfAttentionDims(qkv: tf.TensorInfo, a: AttentionAttrs): [number, number, number, number] {
  const [N, C3] = qkv.shape as [number, number], C = C3 / 3;
  if (qkv.shape.length !== 2 || C3 % 3 !== 0 || C % a.heads !== 0 || N % a.groups !== 0) throw new Error(`selfAttention: qkv ${qkv.shape} does not fit ${a.groups} groups of ${a.heads} heads`);
  return [a.groups, N / a.groups, a.heads, C / a.heads];
}

/** NestarSelfAttention: [out [B·L, C], P] from qkv [B·L, 3C]. */
export function makeSelfAttention(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { qkv, mask } = inputs as { qkv: tf.TensorInfo; mask?: tf.TensorInfo };
    const a = attrs as unknown as AttentionAttrs;
    const [B, L, H, dh] = selfAttentionDims(qkv, a);
    const be = kernelHost(backend);
    const out = be.makeOutput([B * L, H * dh], 'float32'), P = be.makeOutput([B, H, L, L], 'float32');
    addon.selfAttention(be.view(qkv), mask ? be.view(mask) : NO_MASK, be.view(out), be.view(P), B, L, H, dh, floatBits(a.scale), mask ? 1 : 0);
    return [out, P];
  };
}

/** NestarSelfAttentionGrad: dqkv [B·L, 3C] from dO and the saved probabilities. */
export function makeSelfAttentionGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dO, qkv, P } = inputs as Record<'dO' | 'qkv' | 'P', tf.TensorInfo>;
    const a = attrs as unknown as AttentionAttrs;
    const [B, L, H, dh] = selfAttentionDims(qkv, a);
    const be = kernelHost(backend);
    const out = be.makeOutput([...qkv.shape], 'float32');
    addon.selfAttentionGrad(be.view(dO), be.view(qkv), be.view(P), be.view(out), B, L, H, dh, floatBits(a.scale));
    return out;
  };
}

/** NestarAttentionGrad: [dq, dk, dv] from dO and the saved probabilities. */
export function makeAttentionGrad(addon: NativeAddon): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dO, q, k, v, P } = inputs as Record<'dO' | 'q' | 'k' | 'v' | 'P', tf.TensorInfo>;
    const a = attrs as unknown as AttentionAttrs;
    const [B, Lq, Lk, H, dh] = attentionDims(q, k, a);
    const be = kernelHost(backend);
    const outs = [q, k, v].map((t) => be.makeOutput([...t.shape], 'float32'));
    const [dq, dk, dv] = outs.map((o) => be.view(o));
    addon.attentionGrad(be.view(dO), be.view(q), be.view(k), be.view(v), be.view(P),
      dq!, dk!, dv!, B, Lq, Lk, H, dh, floatBits(a.scale));
    return outs;
  };
}

