// The bound flow heads' one-call velocity evaluations (src/engine/fusedOps.ts `fusedPatchHeadStep`,
// `fusedTokenHeadStep`).
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "kernels.h"

// One velocity evaluation of a patch flow head bound to its conditions (src/flow/patchFlowHead.ts `prepare`), as
// one call instead of the ~26 kernels of the plain path, with the same operations in the same order (so the same
// bits): c = silu(te + zp); M = c·Wm + bm (every AdaLN scale/shift/gate side by side); h = y·Win + bin + pos; per
// block: h += M[gate]·proj(attn(qkv(norm(h, M[scale], M[shift])))), h += M[gate]·fc2(gelu(fc1(norm(h, …)))); then
// v = norm(h, M[final])·Wout + bout. arrays: y, te, zp, pos, Win, bin, Wm, bm, Wout, bout, mask, v, then per block
// Wqkv, bqkv, Wproj, bproj, Wfc1, bfc1, Wfc2, bfc2. meta: N, D, W, K, hidden, depth, H, groups, hasMask, scale, eps,
// teRows, then per block the column offsets in M of attn scale, shift, gate, mlp scale, shift, gate, and last the
// final scale and shift.
static float *head_ws = NULL;
static size_t head_ws_len = 0;

static void linear_rows(const float *x, const float *w, const float *b, float *y, int64_t M, int64_t K, int64_t N) {
  pool_sgemm_bias(0, 0, M, N, K, x, K, w, N, b, y, N);
}

static void norm_cols_rows(const float *x, const float *M, float *y, int64_t N, int64_t C, int64_t ld, int64_t go, int64_t bo, float eps) {
  for (int64_t n = 0; n < N; n++) {
    const float *xr = x + n * C, *g = M + n * ld + go, *b = M + n * ld + bo;
    float mean, rstd, *yr = y + n * C;
    row_stats(xr, C, eps, &mean, &rstd);
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean) * rstd * (1.0f + g[c]) + b[c];
  }
}

static void gated_cols_rows(const float *h, const float *M, const float *a, float *y, int64_t N, int64_t C, int64_t ld, int64_t off) {
  for (int64_t n = 0; n < N; n++) gated_add_f32(h + n * C, M + n * ld + off, a + n * C, y + n * C, (size_t)C);
}

// The shared parts of the two head-step kernels: their (arrays, meta) arguments, a workspace kept between calls, the
// AdaLN modulations of c = silu(te + zp) as M = c·Wm + bm, and the final modulated output layer.
static int head_args(napi_env env, napi_callback_info info, float **a, size_t *l, uint32_t max, uint32_t *count, double **m, size_t *lm) {
  size_t argc = 2, off;
  napi_value argv[2], buf;
  napi_typedarray_type t;
  bool isArr = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || napi_is_array(env, argv[0], &isArr) != napi_ok || !isArr
      || napi_get_typedarray_info(env, argv[1], &t, lm, (void **)m, &buf, &off) != napi_ok || t != napi_float64_array
      || napi_get_array_length(env, argv[0], count) != napi_ok || *count > max) return 0;
  for (uint32_t i = 0; i < *count; i++) {
    napi_value e;
    if (napi_get_element(env, argv[0], i, &e) != napi_ok || !get_f32(env, e, &a[i], &l[i])) return 0;
  }
  return 1;
}

static float *head_workspace(size_t need) {
  if (need > head_ws_len) {
    free(head_ws);
    head_ws = (float *)malloc(sizeof(float) * need);
    head_ws_len = head_ws ? need : 0;
  }
  return head_ws;
}

static void head_modulations(const float *te, int64_t teRows, const float *zp, const float *Wm, const float *bm, float *tmp, float *c, float *M,
                             int64_t N, int64_t W, int64_t K) {
  for (int64_t r = 0; r < N; r++) {
    const float *tr = te + (teRows == 1 ? 0 : r * W), *zr = zp + r * W;
    for (int64_t j = 0; j < W; j++) tmp[r * W + j] = tr[j] + zr[j];
  }
  silu_fwd_f32(tmp, c, (size_t)(N * W));
  linear_rows(c, Wm, bm, M, N, W, K);
}

static void head_output(const float *h, const float *M, float *hn, const double *o, const float *Wout, const float *bout, float *v,
                        int64_t N, int64_t W, int64_t K, int64_t D, float eps) {
  norm_cols_rows(h, M, hn, N, W, K, (int64_t)o[0], (int64_t)o[1], eps);
  linear_rows(hn, Wout, bout, v, N, W, D);
}

// h2 = h + M[gate]·fc2(act(fc1(norm(h, M[scale], M[shift])))): the gated AdaLN MLP sublayer both heads share (o: the
// offsets of scale, shift, gate; hn [N, W], f and f2 [N, hid], p [N, W] are scratch).
static void adaln_mlp(const float *h, float *h2, const float *M, const double *o, float *const *w, void (*act)(const float *, float *, size_t),
                      float *hn, float *f, float *f2, float *p, int64_t N, int64_t W, int64_t hid, int64_t K, float eps) {
  norm_cols_rows(h, M, hn, N, W, K, (int64_t)o[0], (int64_t)o[1], eps);
  linear_rows(hn, w[0], w[1], f, N, W, hid);
  act(f, f2, (size_t)(N * hid));
  linear_rows(f2, w[2], w[3], p, N, hid, W);
  gated_cols_rows(h, M, p, h2, N, W, K, (int64_t)o[2]);
}

static napi_value PatchHeadStep(napi_env env, napi_callback_info info) {
  const char *usage = "patchHeadStep(arrays, meta): the bound head's Float32Arrays (see native/headStep.c) and a Float64Array of sizes and offsets";
  float *a[12 + 8 * 64];
  size_t l[12 + 8 * 64], lm = 0;
  uint32_t na = 0;
  double *m = NULL;
  if (!head_args(env, info, a, l, 12 + 8 * 64, &na, &m, &lm) || lm < 12) goto bad;
  const int64_t N = (int64_t)m[0], D = (int64_t)m[1], W = (int64_t)m[2], K = (int64_t)m[3], hid = (int64_t)m[4], depth = (int64_t)m[5],
                H = (int64_t)m[6], G = (int64_t)m[7], hasMask = (int64_t)m[8], teRows = (int64_t)m[11];
  const float scale = (float)m[9], eps = (float)m[10];
  if (N < 1 || D < 1 || W < 1 || H < 1 || W % H || G < 1 || N % G || depth < 0 || lm != (size_t)(12 + 6 * depth + 2) || (teRows != 1 && teRows != N)) goto bad;
  if (depth > 64 || na != (uint32_t)(12 + 8 * depth)) goto bad;
  const size_t n = (size_t)N;
  if (l[0] != n * D || l[1] != (size_t)(teRows * W) || l[2] != n * W || l[3] != n * W || l[4] != (size_t)(D * W) || l[5] != (size_t)W
      || l[6] != (size_t)(W * K) || l[7] != (size_t)K || l[8] != (size_t)(W * D) || l[9] != (size_t)D || l[11] != n * D
      || (hasMask && l[10] != (size_t)((N / G) * (N / G)))) goto bad;
  for (int64_t i = 0; i < depth; i++) {
    const size_t *b = l + 12 + 8 * i;
    if (b[0] != (size_t)(W * 3 * W) || b[1] != (size_t)(3 * W) || b[2] != (size_t)(W * W) || b[3] != (size_t)W || b[4] != (size_t)(W * hid)
        || b[5] != (size_t)hid || b[6] != (size_t)(hid * W) || b[7] != (size_t)W) goto bad;
  }
  for (size_t i = 12; i < lm; i++) if (m[i] < 0 || m[i] + W > K) goto bad;
  {
    // Workspace: c/hn/att/p/h/h2 [N, W] each, M [N, K], qkv [N, 3W], f/f2 [N, hid], and attention probabilities.
    const int64_t L = N / G;
    float *c = head_workspace(n * (6 * W + K + 3 * W + 2 * hid) + (size_t)(G * H * L * L));
    if (!c) { napi_throw_error(env, NULL, "patchHeadStep: out of memory"); return NULL; }
    float *hn = c + n * W, *att = hn + n * W, *p = att + n * W, *h = p + n * W, *h2 = h + n * W, *M = h2 + n * W,
          *qkv = M + n * K, *f = qkv + n * 3 * W, *f2 = f + n * hid, *P = f2 + n * hid, *tmp;
    head_modulations(a[1], teRows, a[2], a[6], a[7], p, c, M, N, W, K);
    linear_rows(a[0], a[4], a[5], h2, N, D, W);
    for (size_t i = 0; i < n * W; i++) h[i] = h2[i] + a[3][i];
    const double *o = m + 12;
    for (int64_t i = 0; i < depth; i++, o += 6) {
      float *const *b = a + 12 + 8 * i;
      norm_cols_rows(h, M, hn, N, W, K, (int64_t)o[0], (int64_t)o[1], eps);
      linear_rows(hn, b[0], b[1], qkv, N, W, 3 * W);
      if (!attention_fwd(qkv, qkv + W, qkv + 2 * W, hasMask ? a[10] : NULL, att, P, G, L, L, H, W / H, scale, 3 * W)) {
        napi_throw_error(env, NULL, "patchHeadStep: out of memory");
        return NULL;
      }
      linear_rows(att, b[2], b[3], p, N, W, W);
      gated_cols_rows(h, M, p, h2, N, W, K, (int64_t)o[2]);
      tmp = h, h = h2, h2 = tmp;
      adaln_mlp(h, h2, M, o + 3, b + 4, gelu_fwd_f32, hn, f, f2, p, N, W, hid, K, eps);
      tmp = h, h = h2, h2 = tmp;
    }
    head_output(h, M, hn, o, a[8], a[9], a[11], N, W, K, D, eps);
  }
  return NULL;
bad:
  napi_throw_type_error(env, NULL, usage);
  return NULL;
}

// The per-token flow head's bound velocity evaluation (src/flow/flowHead.ts `prepare`) as one call, likewise:
// c = silu(te + zp); M = c·Wm + bm; h = y·Win + bin; per block h += M[gate]·fc2(silu(fc1(norm(h, M[scale], M[shift]))));
// v = norm(h, M[final])·Wout + bout. arrays: y, te, zp, Win, bin, Wm, bm, Wout, bout, v, then per block Wfc1, bfc1,
// Wfc2, bfc2. meta: N, D, W, K, depth, eps, teRows, then per block the offsets of scale, shift, gate; then the final
// scale and shift.
static napi_value TokenHeadStep(napi_env env, napi_callback_info info) {
  const char *usage = "tokenHeadStep(arrays, meta): the bound head's Float32Arrays (see native/headStep.c) and a Float64Array of sizes and offsets";
  float *a[10 + 4 * 64];
  size_t l[10 + 4 * 64], lm = 0;
  uint32_t na = 0;
  double *m = NULL;
  if (!head_args(env, info, a, l, 10 + 4 * 64, &na, &m, &lm) || lm < 7) goto bad;
  const int64_t N = (int64_t)m[0], D = (int64_t)m[1], W = (int64_t)m[2], K = (int64_t)m[3], depth = (int64_t)m[4], teRows = (int64_t)m[6];
  const float eps = (float)m[5];
  if (N < 1 || D < 1 || W < 1 || depth < 0 || depth > 64 || lm != (size_t)(7 + 3 * depth + 2) || (teRows != 1 && teRows != N)) goto bad;
  if (na != (uint32_t)(10 + 4 * depth)) goto bad;
  const size_t n = (size_t)N;
  if (l[0] != n * D || l[1] != (size_t)(teRows * W) || l[2] != n * W || l[3] != (size_t)(D * W) || l[4] != (size_t)W || l[5] != (size_t)(W * K)
      || l[6] != (size_t)K || l[7] != (size_t)(W * D) || l[8] != (size_t)D || l[9] != n * D) goto bad;
  for (int64_t i = 0; i < depth; i++) {
    const size_t *b = l + 10 + 4 * i;
    if (b[0] != (size_t)(W * W) || b[1] != (size_t)W || b[2] != (size_t)(W * W) || b[3] != (size_t)W) goto bad;
  }
  for (size_t i = 7; i < lm; i++) if (m[i] < 0 || m[i] + W > K) goto bad;
  {
    float *c = head_workspace(n * (7 * W + K));
    if (!c) { napi_throw_error(env, NULL, "tokenHeadStep: out of memory"); return NULL; }
    float *hn = c + n * W, *p = hn + n * W, *h = p + n * W, *h2 = h + n * W, *f = h2 + n * W, *f2 = f + n * W, *M = f2 + n * W, *tmp;
    head_modulations(a[1], teRows, a[2], a[5], a[6], p, c, M, N, W, K);
    linear_rows(a[0], a[3], a[4], h, N, D, W);
    const double *o = m + 7;
    for (int64_t i = 0; i < depth; i++, o += 3) {
      float *const *b = a + 10 + 4 * i;
      adaln_mlp(h, h2, M, o, b, silu_fwd_f32, hn, f, f2, p, N, W, W, K, eps);
      tmp = h, h = h2, h2 = tmp;
    }
    head_output(h, M, hn, o, a[7], a[8], a[9], N, W, K, D, eps);
  }
  return NULL;
bad:
  napi_throw_type_error(env, NULL, usage);
  return NULL;
}

void nestar_register_head_step(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"patchHeadStep", NULL, PatchHeadStep, NULL, NULL, NULL, napi_default, NULL},
      {"tokenHeadStep", NULL, TokenHeadStep, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
