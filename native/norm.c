// Row normalisation kernels of the native pack: LayerNorm / AdaLN forward and gradient, and the bound heads'
// column-block variants (normCols, gatedAddCols).
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "kernels.h"
#include "parallel.h"

// Mean and 1/σ of one row of C values, accumulated in double (shared by the forward and backward kernels,
// so the gradient sees exactly the forward's statistics).
static inline __attribute__((always_inline)) void stats_of(const float *restrict xr, int64_t C, float eps, float *mean, float *rstd) {
  double s = 0, q = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < C; c++) s += xr[c];
  const float m = (float)(s / (double)C);
#pragma omp simd reduction(+ : q)
  for (int64_t c = 0; c < C; c++) { const double d = xr[c] - m; q += d * d; }
  *mean = m;
  *rstd = (float)(1.0 / sqrt(q / (double)C + eps));
}

// (inlined into the kernels below, so each of their CPU clones gets a vectorised copy)
NESTAR_CLONES void row_stats(const float *restrict xr, int64_t C, float eps, float *mean, float *rstd) { stats_of(xr, C, eps, mean, rstd); }

// Normalise each row of x [N, C] (mean and variance accumulated in double), then scale and shift:
// y = x̂·G + B with G, B either one [C] vector for every row (LayerNorm's gain and bias) or [N, C] (AdaLN's
// 1 + scale and shift, one per row; with onePlus the kernel adds the 1 itself).
typedef struct { const float *x, *G, *B; float *y; int64_t C; int perRow, onePlus; float eps; } NormJob;

static void norm_rows(void *ctx, size_t lo, size_t hi);

static void norm_scale_shift_fwd(const float *restrict x, const float *restrict G, const float *restrict B, float *restrict y,
                                 int64_t N, int64_t C, int perRow, int onePlus, float eps) {
  NormJob j = {x, G, B, y, C, perRow, onePlus, eps};
  // Rows are independent: split them over the pool (about EW_GRAIN values a part at least).
  nestar_parallel_for((size_t)N, C > 0 ? (32768 + C - 1) / C : 1, norm_rows, &j);
}

NESTAR_CLONES static void norm_row(const float *restrict xr, const float *restrict g, const float *restrict b, float *restrict yr, int64_t C,
                                   int onePlus, float eps) {
  float mean, rstd;
  stats_of(xr, C, eps, &mean, &rstd);
  const float one = onePlus ? 1.0f : 0.0f;
#pragma omp simd
  for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean) * rstd * (one + g[c]) + b[c];
}

static void norm_rows(void *ctx, size_t lo, size_t hi) {
  const NormJob *j = (const NormJob *)ctx;
  const int64_t C = j->C;
  for (int64_t n = (int64_t)lo; n < (int64_t)hi; n++) {
    const float *g = j->perRow ? j->G + n * C : j->G, *b = j->perRow ? j->B + n * C : j->B;
    norm_row(j->x + n * C, g, b, j->y + n * C, C, j->onePlus, j->eps);
  }
}

// Its gradient (statistics recomputed from x): dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·G;
// dG = dy·x̂ and dB = dy, summed over rows (in double) when G, B are shared [C] vectors. Rows split over the pool
// in chunks of NORM_CHUNK, each chunk with its own column sums, added up in chunk order afterwards: the bits do not
// depend on the thread count.
#define NORM_CHUNK 64
// The residual form (LayerNorm of a residual stream h whose gradient dh also arrives from the stream itself): dx is
// the norm's gradient plus dh (rounded as a separate add would), and its column sums, in double, come out too (the
// bias gradient of the linear layer whose output h is).
typedef struct { const float *dy, *x, *G, *add; float *dx, *dG, *dB, *dS; double *acc; int64_t N, C; int perRow, onePlus; float eps; } NormGradJob;

NESTAR_CLONES static void norm_grad_row(const float *restrict xr, const float *restrict dyr, const float *restrict g, float *restrict dxr,
                                        double *restrict accG, double *restrict accB, float *restrict dGr, float *restrict dBr, int64_t C,
                                        int onePlus, float eps, const float *restrict addr, double *restrict accS) {
  float mean, rstd;
  stats_of(xr, C, eps, &mean, &rstd);
  double m1 = 0, m2 = 0;
  const float one = onePlus ? 1.0f : 0.0f;
#pragma omp simd reduction(+ : m1, m2)
  for (int64_t c = 0; c < C; c++) {
    const double xh = (double)((xr[c] - mean) * rstd), dxh = (double)dyr[c] * (one + g[c]);
    m1 += dxh;
    m2 += dxh * xh;
  }
  m1 /= (double)C;
  m2 /= (double)C;
#pragma omp simd
  for (int64_t c = 0; c < C; c++) {
    const float xh = (xr[c] - mean) * rstd;
    const double dxh = (double)dyr[c] * (one + g[c]);
    dxr[c] = (float)(rstd * (dxh - m1 - xh * m2));
  }
  if (addr) {
#pragma omp simd
    for (int64_t c = 0; c < C; c++) { dxr[c] += addr[c]; accS[c] += dxr[c]; }
  }
  if (dGr) {
#pragma omp simd
    for (int64_t c = 0; c < C; c++) { const float xh = (xr[c] - mean) * rstd; dGr[c] = dyr[c] * xh; dBr[c] = dyr[c]; }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; c++) { const float xh = (xr[c] - mean) * rstd; accG[c] += (double)dyr[c] * xh; accB[c] += dyr[c]; }
  }
}

static void norm_grad_chunks(void *ctx, size_t lo, size_t hi) {
  const NormGradJob *j = (const NormGradJob *)ctx;
  const int64_t C = j->C;
  for (size_t ch = lo; ch < hi; ch++) {
    const size_t width = j->add ? 3 : 2; // column sums a chunk: dG, dB (shared gain), dS (residual form)
    double *aG = j->perRow ? NULL : j->acc + ch * width * (size_t)C, *aB = aG ? aG + C : NULL, *aS = aG && j->add ? aG + 2 * C : NULL;
    if (aG) memset(aG, 0, sizeof(double) * width * (size_t)C);
    const int64_t end = (int64_t)(ch + 1) * NORM_CHUNK < j->N ? (int64_t)(ch + 1) * NORM_CHUNK : j->N;
    for (int64_t n = (int64_t)ch * NORM_CHUNK; n < end; n++) {
      const float *g = j->perRow ? j->G + n * C : j->G;
      norm_grad_row(j->x + n * C, j->dy + n * C, g, j->dx + n * C, aG, aB, j->perRow ? j->dG + n * C : NULL,
                    j->perRow ? j->dB + n * C : NULL, C, j->onePlus, j->eps, aS ? j->add + n * C : NULL, aS);
    }
  }
}

// add and dS: the residual form (shared gain only), else NULL.
static int norm_scale_shift_bwd(const float *restrict dy, const float *restrict x, const float *restrict G, float *restrict dx,
                                float *restrict dG, float *restrict dB, int64_t N, int64_t C, int perRow, int onePlus, float eps,
                                const float *restrict add, float *restrict dS) {
  const size_t chunks = (size_t)((N + NORM_CHUNK - 1) / NORM_CHUNK), width = add ? 3 : 2;
  double *acc = NULL;
  if (!perRow && !(acc = malloc(sizeof(double) * width * (size_t)C * (chunks ? chunks : 1)))) return 0;
  NormGradJob j = {dy, x, G, add, dx, dG, dB, dS, acc, N, C, perRow, onePlus, eps};
  nestar_parallel_for(chunks, C > 0 ? (32768 / NORM_CHUNK + C - 1) / C : 1, norm_grad_chunks, &j);
  if (!perRow) {
    for (int64_t c = 0; c < C; c++) {
      double sg = 0, sb = 0, ss = 0;
      for (size_t ch = 0; ch < chunks; ch++) {
        const double *a = acc + ch * width * (size_t)C;
        sg += a[c];
        sb += a[C + c];
        if (add) ss += a[2 * C + c];
      }
      dG[c] = (float)sg;
      dB[c] = (float)sb;
      if (add) dS[c] = (float)ss;
    }
    free(acc);
  }
  return 1;
}

// The norm kernels' calling convention: `count` Float32Arrays then N, C, flags, eps, with flags bit 0 perRow and
// bit 1 onePlus (the gain is 1 + G: AdaLN's 1 + scale without a separate add, rounded as that add rounds it).
// `kinds` says each array's length: 'r' N·C (rows), 'g' C, or N·C when perRow (the gain/shift and their gradients).
static int norm_args(napi_env env, napi_callback_info info, const char *usage, const char *kinds, float **a, int64_t *N, int64_t *C, int *perRow, int *onePlus, float *eps) {
  const size_t count = strlen(kinds);
  size_t argc = 12, len;
  napi_value argv[12];
  if (count > 8 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count + 4) goto bad;
  *N = get_i64(env, argv[count]);
  *C = get_i64(env, argv[count + 1]);
  const int64_t flags = get_i64(env, argv[count + 2]);
  *perRow = (flags & 1) != 0;
  *onePlus = (flags & 2) != 0;
  double e = 0;
  if (napi_get_value_double(env, argv[count + 3], &e) != napi_ok) goto bad;
  *eps = (float)e;
  for (size_t i = 0; i < count; i++) {
    const size_t want = (size_t)(kinds[i] == 'r' || *perRow ? *N * *C : *C);
    if (!get_f32(env, argv[i], &a[i], &len) || len != want) goto bad;
  }
  return 1;
bad:
  napi_throw_type_error(env, NULL, usage);
  return 0;
}

// normScaleShift(x, G, B, y, N, C, flags, eps) and normScaleShiftGrad(dy, x, G, dx, dG, dB, N, C, flags, eps).
static napi_value NormScaleShift(napi_env env, napi_callback_info info) {
  float *a[4], eps;
  int64_t N, C;
  int perRow, onePlus;
  if (norm_args(env, info, "normScaleShift(x, G, B, y, N, C, flags, eps): Float32Arrays of N*C (x, y) and C or N*C (G, B)", "rggr", a, &N, &C, &perRow, &onePlus, &eps))
    norm_scale_shift_fwd(a[0], a[1], a[2], a[3], N, C, perRow, onePlus, eps);
  return NULL;
}

static napi_value NormScaleShiftGrad(napi_env env, napi_callback_info info) {
  float *a[6], eps;
  int64_t N, C;
  int perRow, onePlus;
  if (norm_args(env, info, "normScaleShiftGrad(dy, x, G, dx, dG, dB, N, C, flags, eps): Float32Arrays of N*C (dy, x, dx) and C or N*C (G, dG, dB)", "rrgrgg", a, &N, &C, &perRow, &onePlus, &eps)
      && !norm_scale_shift_bwd(a[0], a[1], a[2], a[3], a[4], a[5], N, C, perRow, onePlus, eps, NULL, NULL))
    napi_throw_error(env, NULL, "normScaleShiftGrad: out of memory");
  return NULL;
}

// normResidualGrad(dy, x, G, dh, dx, dG, dB, dS, N, C, flags, eps): the residual form above (flags 0: shared gain).
static napi_value NormResidualGrad(napi_env env, napi_callback_info info) {
  float *a[8], eps;
  int64_t N, C;
  int perRow, onePlus;
  const char *usage = "normResidualGrad(dy, x, G, dh, dx, dG, dB, dS, N, C, flags, eps): Float32Arrays of N*C (dy, x, dh, dx) and C (G, dG, dB, dS), flags 0";
  if (!norm_args(env, info, usage, "rrgrrggg", a, &N, &C, &perRow, &onePlus, &eps)) return NULL;
  if (perRow) { napi_throw_type_error(env, NULL, usage); return NULL; }
  if (!norm_scale_shift_bwd(a[0], a[1], a[2], a[4], a[5], a[6], N, C, 0, onePlus, eps, a[3], a[7])) napi_throw_error(env, NULL, "normResidualGrad: out of memory");
  return NULL;
}

// Forward-only variants that read the AdaLN modulations from column blocks of one [N, ld] matrix M (all of a
// head's scale/shift/gate projections made by one matmul in a bound head): normCols(x, M, y, N, C, ld, gOff, bOff,
// eps) is y = x̂·(1 + M[:, gOff..]) + M[:, bOff..], gatedAddCols(h, M, a, y, N, C, ld, off) is y = h + M[:, off..]·a.
static napi_value NormCols(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t l[3];
  int64_t d[6];
  const char *usage = "normCols(x, M, y, N, C, ld, gOff, bOff, epsBits): Float32Arrays of N*C (x, y) and N*ld (M), offsets + C <= ld";
  if (!arrays_ints(env, info, usage, 3, 6, a, l, d)) return NULL;
  const int64_t N = d[0], C = d[1], ld = d[2], go = d[3], bo = d[4];
  if (l[0] != (size_t)(N * C) || l[2] != (size_t)(N * C) || l[1] != (size_t)(N * ld) || go + C > ld || bo + C > ld) { napi_throw_range_error(env, NULL, usage); return NULL; }
  const float eps = float_from_bits(d[5]);
  for (int64_t n = 0; n < N; n++) {
    const float *xr = a[0] + n * C, *g = a[1] + n * ld + go, *b = a[1] + n * ld + bo;
    float mean, rstd, *yr = a[2] + n * C;
    row_stats(xr, C, eps, &mean, &rstd);
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean) * rstd * (1.0f + g[c]) + b[c];
  }
  return NULL;
}

static napi_value GatedAddCols(napi_env env, napi_callback_info info) {
  float *a[4];
  size_t l[4];
  int64_t d[4];
  const char *usage = "gatedAddCols(h, M, a, y, N, C, ld, off): Float32Arrays of N*C (h, a, y) and N*ld (M), off + C <= ld";
  if (!arrays_ints(env, info, usage, 4, 4, a, l, d)) return NULL;
  const int64_t N = d[0], C = d[1], ld = d[2], off = d[3];
  if (l[0] != (size_t)(N * C) || l[2] != (size_t)(N * C) || l[3] != (size_t)(N * C) || l[1] != (size_t)(N * ld) || off + C > ld) { napi_throw_range_error(env, NULL, usage); return NULL; }
  for (int64_t n = 0; n < N; n++) gated_add_f32(a[0] + n * C, a[1] + n * ld + off, a[2] + n * C, a[3] + n * C, (size_t)C);
  return NULL;
}

void nestar_register_norm(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"normScaleShift", NULL, NormScaleShift, NULL, NULL, NULL, napi_default, NULL},
      {"normScaleShiftGrad", NULL, NormScaleShiftGrad, NULL, NULL, NULL, napi_default, NULL},
      {"normResidualGrad", NULL, NormResidualGrad, NULL, NULL, NULL, napi_default, NULL},
      {"normCols", NULL, NormCols, NULL, NULL, NULL, napi_default, NULL},
      {"gatedAddCols", NULL, GatedAddCols, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
