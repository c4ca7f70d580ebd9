// Multi-head attention kernels of the native pack (forward, gradient, and the bound heads' fused-qkv forward).
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "kernels.h"
#include "parallel.h"

// exp for the softmax, vectorisable (Cephes' expf: range reduction by ln 2 — n rounded to nearest by adding and
// subtracting 1.5·2²³, which vectorises where floorf does not — a degree-6 polynomial, 2ⁿ from the exponent bits;
// within 2 ulp of expf), 0 below −87.3 where expf underflows to subnormals.
NESTAR_CLONES static void exp_rows(float *restrict r, int64_t n, float mx) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) {
    const float x = r[j] - mx, xc = x < -87.3f ? -87.3f : x > 88.7f ? 88.7f : x;
    const float e = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float t = xc - e * 0.693359375f + e * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * t + 1.3981999507e-3f;
    p = p * t + 8.3334519073e-3f;
    p = p * t + 4.1665795894e-2f;
    p = p * t + 1.6666665459e-1f;
    p = p * t + 5.0000001201e-1f;
    const float y = p * t * t + t + 1.0f;
    union { int32_t i; float f; } two = {.i = ((int32_t)e + 127) << 23};
    r[j] = x < -87.3f ? 0.0f : y * two.f;
  }
}

// One row of scores to probabilities: r·scale + mask, max subtracted, exp, divided by the sum (all vectorised;
// the max and the sum are reductions in SIMD order, within float rounding of tfjs's sequential ones).
NESTAR_CLONES static void softmax_row(float *restrict r, const float *restrict m, int64_t n, float scale) {
  float mx = -INFINITY, sum = 0;
  if (m) {
#pragma omp simd reduction(max : mx)
    for (int64_t c = 0; c < n; c++) {
      r[c] = r[c] * scale + m[c];
      mx = r[c] > mx ? r[c] : mx;
    }
  } else {
#pragma omp simd reduction(max : mx)
    for (int64_t c = 0; c < n; c++) {
      r[c] = r[c] * scale;
      mx = r[c] > mx ? r[c] : mx;
    }
  }
  exp_rows(r, n, mx);
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < n; c++) sum += r[c];
#pragma omp simd
  for (int64_t c = 0; c < n; c++) r[c] /= sum;
}

// Multi-head attention on row layouts, no head transposes: q [B, Lq, ·], k and v [B, Lk, ·] with row stride ld and
// head h the column block h·dh.. (ld = H·dh for separate arrays, 3·H·dh for the column blocks of one qkv matrix),
// additive mask [Lq, Lk] or none, out [B, Lq, H·dh], and the probabilities P [B, H, Lq, Lk] kept for the gradient.
// Per (b, h): S = q·kᵀ, S·scale + mask, a row softmax, out = P·v; the (b, h) pairs split over the thread pool, each pair's products register-tiled (tile.c).
typedef struct {
  const float *q, *k, *v, *mask, *dO;
  float *out, *P, *dq, *dk, *dv;
  const int32_t *lim; // each query row's live columns (forward)
  int64_t Lq, Lk, H, dh, ld;
  float scale;
  volatile int failed;
} AttentionJob;

// Causal and block masks leave a dead suffix in each row: columns whose mask is 1e8 or more below the row's largest
// value, where score·scale + mask underflows exp to an exact 0 (|score·scale| would have to pass 1e8). The kernels
// skip those columns' products (about 40 % of a causal mask's): live_lengths gives each row's live prefix, and the
// gradient reads it back from P's trailing zeros. Skipped terms are exact zeros, so only the rounding of sums that
// are vectorised in another grouping can move (an ulp).
static void live_lengths(const float *mask, int64_t Lq, int64_t Lk, int32_t *lim) {
  for (int64_t i = 0; i < Lq; i++) {
    const float *m = mask ? mask + i * Lk : NULL;
    int64_t n = Lk;
    if (m) {
      float mx = -INFINITY;
      for (int64_t c = 0; c < Lk; c++) mx = m[c] > mx ? m[c] : mx;
      while (n > 1 && m[n - 1] < mx - 1e8f) n--;
    }
    lim[i] = (int32_t)n;
  }
}

#define ROWS 4   // rows a block: tile_gemm's register tile
#define COLS 16  // columns a tile: products are computed to a multiple of it (tile_gemm's vector width)

static int64_t block_live(const int32_t *lim, int64_t i0, int64_t rows) {
  int64_t n = 0;
  for (int64_t r = 0; r < rows; r++) n = lim[i0 + r] > n ? lim[i0 + r] : n;
  return n;
}

static int64_t tile_cols(int64_t n, int64_t Lk) { const int64_t c = (n + COLS - 1) / COLS * COLS; return c < Lk ? c : Lk; }

static void fwd_pairs(void *ctx, size_t lo, size_t hi) {
  AttentionJob *j = (AttentionJob *)ctx;
  const int64_t Lq = j->Lq, Lk = j->Lk, H = j->H, dh = j->dh, ld = j->ld, C = H * dh;
  float *Kt = (float *)malloc(sizeof(float) * (size_t)(dh * Lk));
  if (!Kt) { j->failed = 1; return; }
  for (size_t p = lo; p < hi; p++) {
    const int64_t b = (int64_t)p / H, h = (int64_t)p % H;
    float *Pbh = j->P + (int64_t)p * Lq * Lk;
    const float *qb = j->q + b * Lq * ld + h * dh, *kb = j->k + b * Lk * ld + h * dh, *vb = j->v + b * Lk * ld + h * dh;
    float *ob = j->out + b * Lq * C + h * dh;
    tile_transpose(Lk, dh, kb, ld, Kt, Lk);
    for (int64_t i0 = 0; i0 < Lq; i0 += ROWS) {
      const int64_t rows = Lq - i0 < ROWS ? Lq - i0 : ROWS, n = block_live(j->lim, i0, rows), nc = tile_cols(n, Lk);
      float *Pi = Pbh + i0 * Lk;
      tile_gemm(rows, nc, dh, qb + i0 * ld, ld, 1, Kt, Lk, Pi, Lk);
      for (int64_t r = 0; r < rows; r++) {
        softmax_row(Pi + r * Lk, j->mask ? j->mask + (i0 + r) * Lk : NULL, nc, j->scale);
        memset(Pi + r * Lk + nc, 0, sizeof(float) * (size_t)(Lk - nc));
      }
      tile_gemm(rows, dh, n, Pi, Lk, 1, vb, ld, ob + i0 * C, C);
    }
  }
  free(Kt);
}

int attention_fwd(const float *q, const float *k, const float *v, const float *mask, float *out, float *P,
                  int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t dh, float scale, int64_t ld) {
  int32_t *lim = (int32_t *)malloc(sizeof(int32_t) * (size_t)Lq);
  if (!lim) return 0;
  live_lengths(mask, Lq, Lk, lim);
  AttentionJob j = {.q = q, .k = k, .v = v, .mask = mask, .out = out, .P = P, .lim = lim, .Lq = Lq, .Lk = Lk, .H = H, .dh = dh, .ld = ld, .scale = scale};
  nestar_parallel_for((size_t)(B * H), 1, fwd_pairs, &j);
  free(lim);
  return !j.failed;
}

// dS = P ⊙ (dP − Σⱼ P·dP) · scale for one row (the dot product in double).
NESTAR_CLONES static void softmax_grad_row(const float *restrict pr, float *restrict sr, int64_t n, float scale) {
  double dot = 0;
#pragma omp simd reduction(+ : dot)
  for (int64_t c = 0; c < n; c++) dot += (double)pr[c] * sr[c];
  const float d = (float)dot;
#pragma omp simd
  for (int64_t c = 0; c < n; c++) sr[c] = pr[c] * (sr[c] - d) * scale;
}

// Its gradient from dO [B, Lq, H·dh] and the saved P: dv = Pᵀ·dO, dP = dO·vᵀ, dS = P ⊙ (dP − Σⱼ P·dP) · scale,
// dq = dS·k, dk = dSᵀ·q (the mask is a constant); q, k, v and their gradients with row stride ld. Pᵀ and dSᵀ are read in place (tile_gemm's
// transposed A), vᵀ and kᵀ packed.
// out [Lk, dh] (leading dimension ldo) = Xᵀ·Y for X [Lq, Lk] (P or dS) and Y [Lq, dh] (leading dimension ldy), a block
// of key rows j0.. summing over the query rows from the first whose live prefix reaches j0 (X is 0 above it).
static void key_rows_product(const float *X, const float *Y, int64_t ldy, float *out, const int32_t *lim, int64_t Lq, int64_t Lk,
                             int64_t dh, int64_t ldo) {
  int64_t s0 = 0;
  for (int64_t j0 = 0; j0 < Lk; j0 += ROWS) {
    while (s0 < Lq && lim[s0] <= j0) s0++;
    const int64_t rows = Lk - j0 < ROWS ? Lk - j0 : ROWS;
    tile_gemm(rows, dh, Lq - s0, X + s0 * Lk + j0, 1, Lk, Y + s0 * ldy, ldy, out + j0 * ldo, ldo);
  }
}

// Rows are skipped as in the forward: each row's live prefix is where P is not 0 (dS is 0 beyond it too).
static void bwd_pairs(void *ctx, size_t lo, size_t hi) {
  AttentionJob *j = (AttentionJob *)ctx;
  const int64_t Lq = j->Lq, Lk = j->Lk, H = j->H, dh = j->dh, ld = j->ld, C = H * dh;
  float *dS = (float *)malloc(sizeof(float) * (size_t)(Lq * Lk + dh * Lk) + sizeof(int32_t) * (size_t)Lq);
  if (!dS) { j->failed = 1; return; }
  float *Vt = dS + Lq * Lk;
  int32_t *lim = (int32_t *)(Vt + dh * Lk);
  for (size_t p = lo; p < hi; p++) {
    const int64_t b = (int64_t)p / H, h = (int64_t)p % H;
    const float *Pbh = j->P + (int64_t)p * Lq * Lk, *dOb = j->dO + b * Lq * C + h * dh;
    const int64_t oq = b * Lq * ld + h * dh, ok = b * Lk * ld + h * dh;
    for (int64_t i = 0; i < Lq; i++) {
      int64_t n = Lk;
      while (n > 0 && Pbh[i * Lk + n - 1] == 0.0f) n--;
      lim[i] = (int32_t)n;
    }
    key_rows_product(Pbh, dOb, C, j->dv + ok, lim, Lq, Lk, dh, ld); // dv = Pᵀ·dO
    tile_transpose(Lk, dh, j->v + ok, ld, Vt, Lk);
    for (int64_t i0 = 0; i0 < Lq; i0 += ROWS) {
      const int64_t rows = Lq - i0 < ROWS ? Lq - i0 : ROWS, n = block_live(lim, i0, rows), nc = tile_cols(n, Lk);
      float *dSi = dS + i0 * Lk;
      tile_gemm(rows, nc, dh, dOb + i0 * C, C, 1, Vt, Lk, dSi, Lk);
      for (int64_t r = 0; r < rows; r++) {
        softmax_grad_row(Pbh + (i0 + r) * Lk, dSi + r * Lk, nc, j->scale);
        memset(dSi + r * Lk + nc, 0, sizeof(float) * (size_t)(Lk - nc));
      }
      tile_gemm(rows, dh, n, dSi, Lk, 1, j->k + ok, ld, j->dq + oq + i0 * ld, ld);
    }
    key_rows_product(dS, j->q + oq, ld, j->dk + ok, lim, Lq, Lk, dh, ld); // dk = dSᵀ·q
  }
  free(dS);
}

static int attention_bwd(const float *dO, const float *q, const float *k, const float *v, const float *P, float *dq, float *dk, float *dv,
                         int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t dh, float scale, int64_t ld) {
  AttentionJob j = {.q = q, .k = k, .v = v, .dO = dO, .P = (float *)P, .dq = dq, .dk = dk, .dv = dv, .Lq = Lq, .Lk = Lk, .H = H, .dh = dh, .ld = ld, .scale = scale};
  nestar_parallel_for((size_t)(B * H), 1, bwd_pairs, &j);
  return !j.failed;
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
  if (!attention_fwd(a[0], a[1], a[2], d[6] ? a[3] : NULL, a[4], a[5], d[0], d[1], d[2], d[3], d[4], float_from_bits(d[5]), d[3] * d[4]))
    napi_throw_error(env, NULL, "attention: out of memory");
  return NULL;
}

float *scratch_buffer(size_t n);

// Self-attention on the column blocks of one [B·L, 3·H·dh] matrix (one matmul of the q, k, v weights side by side
// made it): attentionQkv(qkv, mask, out, B, L, H, dh, scaleBits, hasMask) for a bound head's ODE step (no gradient:
// the probabilities go to a scratch buffer) and selfAttention(qkv, mask, out, P, …) for training, which keeps P for
// selfAttentionGrad(dO, qkv, P, dqkv, B, L, H, dh, scaleBits), whose gradient comes back as one [B·L, 3·H·dh] matrix.
static napi_value qkv_forward(napi_env env, napi_callback_info info, int keepP) {
  float *a[4];
  size_t l[4];
  int64_t d[6];
  const size_t n = keepP ? 4 : 3;
  const char *usage = keepP ? "selfAttention(qkv, mask, out, P, B, L, H, dh, scaleBits, hasMask): Float32Arrays of B*L*3*H*dh (qkv), L*L (mask), B*L*H*dh (out) and B*H*L*L (P)"
                            : "attentionQkv(qkv, mask, out, B, L, H, dh, scaleBits, hasMask): Float32Arrays of B*L*3*H*dh (qkv), L*L (mask) and B*L*H*dh (out)";
  if (!arrays_ints(env, info, usage, n, 6, a, l, d)) return NULL;
  const int64_t B = d[0], L = d[1], H = d[2], dh = d[3], C = H * dh;
  if (B < 1 || L < 1 || H < 1 || dh < 1 || l[0] != (size_t)(B * L * 3 * C) || l[2] != (size_t)(B * L * C) || (keepP && l[3] != (size_t)(B * H * L * L))
      || (d[5] && l[1] != (size_t)(L * L))) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  float *P = keepP ? a[3] : scratch_buffer((size_t)(B * H * L * L));
  if (!P || !attention_fwd(a[0], a[0] + C, a[0] + 2 * C, d[5] ? a[1] : NULL, a[2], P, B, L, L, H, dh, float_from_bits(d[4]), 3 * C))
    napi_throw_error(env, NULL, keepP ? "selfAttention: out of memory" : "attentionQkv: out of memory");
  return NULL;
}

static napi_value AttentionQkv(napi_env env, napi_callback_info info) { return qkv_forward(env, info, 0); }
static napi_value SelfAttention(napi_env env, napi_callback_info info) { return qkv_forward(env, info, 1); }

static napi_value SelfAttentionGrad(napi_env env, napi_callback_info info) {
  float *a[4];
  size_t l[4];
  int64_t d[5];
  const char *usage = "selfAttentionGrad(dO, qkv, P, dqkv, B, L, H, dh, scaleBits): Float32Arrays of B*L*H*dh (dO), B*L*3*H*dh (qkv, dqkv) and B*H*L*L (P)";
  if (!arrays_ints(env, info, usage, 4, 5, a, l, d)) return NULL;
  const int64_t B = d[0], L = d[1], H = d[2], dh = d[3], C = H * dh;
  if (B < 1 || L < 1 || H < 1 || dh < 1 || l[0] != (size_t)(B * L * C) || l[1] != (size_t)(B * L * 3 * C) || l[3] != l[1] || l[2] != (size_t)(B * H * L * L)) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  const float *qkv = a[1];
  float *g = a[3];
  if (!attention_bwd(a[0], qkv, qkv + C, qkv + 2 * C, a[2], g, g + C, g + 2 * C, B, L, L, H, dh, float_from_bits(d[4]), 3 * C))
    napi_throw_error(env, NULL, "selfAttentionGrad: out of memory");
  return NULL;
}

static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  float *a[8];
  size_t l[8];
  int64_t d[6];
  const char *usage = "attentionGrad(dO, q, k, v, P, dq, dk, dv, B, Lq, Lk, H, dh, scaleBits): Float32Arrays of B*Lq*H*dh (dO, q, dq), B*Lk*H*dh (k, v, dk, dv) and B*H*Lq*Lk (P)";
  if (!arrays_ints(env, info, usage, 8, 6, a, l, d) || !attention_shapes(env, l, d, 0, usage, 1)) return NULL;
  if (!attention_bwd(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], d[0], d[1], d[2], d[3], d[4], float_from_bits(d[5]), d[3] * d[4]))
    napi_throw_error(env, NULL, "attentionGrad: out of memory");
  return NULL;
}

void nestar_register_attention(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_default, NULL},
      {"attentionQkv", NULL, AttentionQkv, NULL, NULL, NULL, napi_default, NULL},
      {"selfAttention", NULL, SelfAttention, NULL, NULL, NULL, napi_default, NULL},
      {"selfAttentionGrad", NULL, SelfAttentionGrad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
