// Multi-head attention kernels of the native pack (forward, gradient, and the bound heads' fused-qkv forward).
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "kernels.h"

// Multi-head attention on row layouts, no head transposes: q [B, Lq, H·dh], k and v [B, Lk, H·dh] (head h is
// the column block h·dh..), additive mask [Lq, Lk] or none, out [B, Lq, H·dh], and the probabilities
// P [B, H, Lq, Lk] kept for the gradient. Per (b, h): S = q·kᵀ (BLAS, strided), S·scale + mask, a row softmax
// (max subtracted, sum in float as tfjs's kernel does), out = P·v (BLAS, strided).
// ld is the row stride of q, k and v (C for separate arrays; 3C when they are column blocks of one qkv matrix).
void attention_fwd(const float *q, const float *k, const float *v, const float *mask, float *out, float *P,
                          int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t dh, float scale, int64_t ld) {
  const int64_t C = H * dh;
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < H; h++) {
      float *Pbh = P + (b * H + h) * Lq * Lk;
      const float *qb = q + b * Lq * ld + h * dh, *kb = k + b * Lk * ld + h * dh, *vb = v + b * Lk * ld + h * dh;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Lq, (int)Lk, (int)dh, 1.0f, qb, (int)ld, kb, (int)ld, 0.0f, Pbh, (int)Lk);
      for (int64_t i = 0; i < Lq; i++) {
        float *r = Pbh + i * Lk, mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Lk; j++) {
          r[j] = r[j] * scale;
          if (mask) r[j] += mask[i * Lk + j];
          if (r[j] > mx) mx = r[j];
        }
        for (int64_t j = 0; j < Lk; j++) { r[j] = expf(r[j] - mx); sum += r[j]; }
        for (int64_t j = 0; j < Lk; j++) r[j] /= sum;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Lq, (int)dh, (int)Lk, 1.0f, Pbh, (int)Lk, vb, (int)ld, 0.0f,
                  out + b * Lq * C + h * dh, (int)C);
    }
  }
}

// Its gradient from dO [B, Lq, C] and the saved P: dv = Pᵀ·dO, dP = dO·vᵀ, dS = P ⊙ (dP − Σⱼ P·dP) · scale,
// dq = dS·k, dk = dSᵀ·q (the mask is a constant). One [Lq, Lk] scratch row block per (b, h).
static int attention_bwd(const float *dO, const float *q, const float *k, const float *v, const float *P, float *dq, float *dk, float *dv,
                         int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t dh, float scale) {
  const int64_t C = H * dh;
  float *dS = (float *)malloc(sizeof(float) * (size_t)(Lq * Lk));
  if (!dS) return 0;
  for (int64_t b = 0; b < B; b++) {
    for (int64_t h = 0; h < H; h++) {
      const float *Pbh = P + (b * H + h) * Lq * Lk;
      const int64_t oq = b * Lq * C + h * dh, ok = b * Lk * C + h * dh;
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Lk, (int)dh, (int)Lq, 1.0f, Pbh, (int)Lk, dO + oq, (int)C, 0.0f, dv + ok, (int)C);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Lq, (int)Lk, (int)dh, 1.0f, dO + oq, (int)C, v + ok, (int)C, 0.0f, dS, (int)Lk);
      for (int64_t i = 0; i < Lq; i++) {
        const float *pr = Pbh + i * Lk;
        float *sr = dS + i * Lk;
        double dot = 0;
        for (int64_t j = 0; j < Lk; j++) dot += (double)pr[j] * sr[j];
        for (int64_t j = 0; j < Lk; j++) sr[j] = pr[j] * (sr[j] - (float)dot) * scale;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Lq, (int)dh, (int)Lk, 1.0f, dS, (int)Lk, k + ok, (int)C, 0.0f, dq + oq, (int)C);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Lk, (int)dh, (int)Lq, 1.0f, dS, (int)Lk, q + oq, (int)C, 0.0f, dk + ok, (int)C);
    }
  }
  free(dS);
  return 1;
}

// attention(q, k, v, mask, out, P, B, Lq, Lk, H, dh, scaleBits, hasMask) and
// attentionGrad(dO, q, k, v, P, dq, dk, dv, B, Lq, Lk, H, dh, scaleBits). The scale travels as its float32 bits
// (an integer) so it is exactly the float the composite path multiplies by.
static int attention_shapes(napi_env env, const size_t *l, const int64_t *d, int withMask, const char *usage, int grad) {
  const int64_t B = d[0], Lq = d[1], Lk = d[2], H = d[3], dh = d[4], C = H * dh;
  const size_t nq = (size_t)(B * Lq * C), nk = (size_t)(B * Lk * C), np = (size_t)(B * H * Lq * Lk);
  int ok = B > 0 && Lq > 0 && Lk > 0 && H > 0 && dh > 0;
  if (grad) ok = ok && l[0] == nq && l[1] == nq && l[2] == nk && l[3] == nk && l[4] == np && l[5] == nq && l[6] == nk && l[7] == nk;
  else ok = ok && l[0] == nq && l[1] == nk && l[2] == nk && (!withMask || l[3] == (size_t)(Lq * Lk)) && l[4] == nq && l[5] == np;
  if (!ok) napi_throw_range_error(env, NULL, usage);
  return ok;
}

static napi_value Attention(napi_env env, napi_callback_info info) {
  float *a[6];
  size_t l[6];
  int64_t d[7];
  const char *usage = "attention(q, k, v, mask, out, P, B, Lq, Lk, H, dh, scaleBits, hasMask): Float32Arrays of B*Lq*H*dh (q, out), B*Lk*H*dh (k, v), Lq*Lk (mask) and B*H*Lq*Lk (P)";
  if (!arrays_ints(env, info, usage, 6, 7, a, l, d) || !attention_shapes(env, l, d, d[6] != 0, usage, 0)) return NULL;
  attention_fwd(a[0], a[1], a[2], d[6] ? a[3] : NULL, a[4], a[5], d[0], d[1], d[2], d[3], d[4], float_from_bits(d[5]), d[3] * d[4]);
  return NULL;
}

float *scratch_buffer(size_t n);

// attentionQkv(qkv, mask, out, B, L, H, dh, scaleBits, hasMask): self-attention forward (no gradient: a bound head's
// ODE step) with q, k, v the column blocks of one [B·L, 3·H·dh] matrix (one matmul made all three).
static napi_value AttentionQkv(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t l[3];
  int64_t d[6];
  const char *usage = "attentionQkv(qkv, mask, out, B, L, H, dh, scaleBits, hasMask): Float32Arrays of B*L*3*H*dh (qkv), L*L (mask) and B*L*H*dh (out)";
  if (!arrays_ints(env, info, usage, 3, 6, a, l, d)) return NULL;
  const int64_t B = d[0], L = d[1], H = d[2], dh = d[3], C = H * dh;
  if (B < 1 || L < 1 || H < 1 || dh < 1 || l[0] != (size_t)(B * L * 3 * C) || l[2] != (size_t)(B * L * C) || (d[5] && l[1] != (size_t)(L * L))) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  float *P = scratch_buffer((size_t)(B * H * L * L));
  if (!P) { napi_throw_error(env, NULL, "attentionQkv: out of memory"); return NULL; }
  attention_fwd(a[0], a[0] + C, a[0] + 2 * C, d[5] ? a[1] : NULL, a[2], P, B, L, L, H, dh, float_from_bits(d[4]), 3 * C);
  return NULL;
}

static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  float *a[8];
  size_t l[8];
  int64_t d[6];
  const char *usage = "attentionGrad(dO, q, k, v, P, dq, dk, dv, B, Lq, Lk, H, dh, scaleBits): Float32Arrays of B*Lq*H*dh (dO, q, dq), B*Lk*H*dh (k, v, dk, dv) and B*H*Lq*Lk (P)";
  if (!arrays_ints(env, info, usage, 8, 6, a, l, d) || !attention_shapes(env, l, d, 0, usage, 1)) return NULL;
  if (!attention_bwd(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], d[0], d[1], d[2], d[3], d[4], float_from_bits(d[5])))
    napi_throw_error(env, NULL, "attentionGrad: out of memory");
  return NULL;
}

void nestar_register_attention(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_default, NULL},
      {"attentionQkv", NULL, AttentionQkv, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
