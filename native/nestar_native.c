// nestar native kernel pack: N-API bindings over the system OpenBLAS.
// The JS side hands us Float32Array views (usually of the tfjs WASM heap), so
// no copies are made: every kernel reads and writes the caller's memory.
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <stdlib.h>
#include "parallel.h"

// OpenBLAS extensions (declared in its cblas.h on Debian, repeated for other layouts).
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "nestar_native: N-API call failed"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value buf;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &buf, &offset) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)ptr;
  *len = length;
  return 1;
}

static int64_t get_i64(napi_env env, napi_value v) {
  int64_t x = 0;
  napi_get_value_int64(env, v, &x);
  return x;
}

// sgemm(a, b, c, batch, m, n, k, transA, transB, strideA, strideB, strideC)
// Row-major C[i] = op(A[i]) * op(B[i]) for i in [0, batch); a stride of 0 broadcasts.
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) {
    napi_throw_type_error(env, NULL, "sgemm expects 12 arguments");
    return NULL;
  }
  float *a, *b, *c;
  size_t la, lb, lc;
  if (!get_f32(env, argv[0], &a, &la) || !get_f32(env, argv[1], &b, &lb) || !get_f32(env, argv[2], &c, &lc)) {
    napi_throw_type_error(env, NULL, "sgemm: a, b, c must be Float32Array");
    return NULL;
  }
  int64_t batch = get_i64(env, argv[3]), m = get_i64(env, argv[4]), n = get_i64(env, argv[5]),
          k = get_i64(env, argv[6]);
  bool ta = false, tb = false;
  napi_get_value_bool(env, argv[7], &ta);
  napi_get_value_bool(env, argv[8], &tb);
  int64_t sa = get_i64(env, argv[9]), sb = get_i64(env, argv[10]), sc = get_i64(env, argv[11]);
  // Bounds: the last batch item must fit in each array.
  if (batch < 1 || m < 1 || n < 1 || k < 1 || (uint64_t)((batch - 1) * sa + m * k) > la ||
      (uint64_t)((batch - 1) * sb + k * n) > lb || (uint64_t)((batch - 1) * sc + m * n) > lc) {
    napi_throw_range_error(env, NULL, "sgemm: shapes exceed the arrays given");
    return NULL;
  }
  const int lda = ta ? (int)m : (int)k;
  const int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a + i * sa, lda, b + i * sb, ldb, 0.0f, c + i * sc, (int)n);
  }
  return NULL;
}

// tanh(x) elementwise. WASM's Tanh is a scalar libm loop (~20 ns/element) and dominates GELU in a
// transformer. This is the odd rational minimax approximation x*P(x^2)/Q(x^2) on [-7.9, 7.9] that Eigen
// uses for float (max error a few ulp, see test/engine.test.ts); only mul/add/div/min/max, so the
// compiler vectorises it, and on x86-64 we build AVX-512/AVX2/SSE clones chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NESTAR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NESTAR_CLONES
#endif
static inline float fast_tanhf(float x) {
  const float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f, a5 = 1.48572235717979e-05f,
              a7 = 5.12229709037114e-08f, a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f,
              a13 = -2.76076847742355e-16f;
  const float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f, b4 = 1.18534705686654e-04f,
              b6 = 1.19825839466702e-06f;
  float v = x > 7.90531110763549805f ? 7.90531110763549805f : (x < -7.90531110763549805f ? -7.90531110763549805f : x);
  const float v2 = v * v;
  float p = a13;
  p = p * v2 + a11; p = p * v2 + a9; p = p * v2 + a7; p = p * v2 + a5; p = p * v2 + a3; p = p * v2 + a1;
  p = p * v;
  float q = b6;
  q = q * v2 + b4; q = q * v2 + b2; q = q * v2 + b0;
  const float r = p / q;
  return (x < 0.0004f && x > -0.0004f) ? x : r;
}

NESTAR_CLONES static void tanh_f32(const float *restrict x, float *restrict y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) y[i] = fast_tanhf(x[i]);
}

// tanh-GELU, fused: y = 0.5·x·(1 + tanh(u)), u = sqrt(2/pi)·(x + 0.044715·x³), and its derivative
// dy/dx = 0.5·(1 + t) + 0.5·x·(1 - t²)·sqrt(2/pi)·(1 + 3·0.044715·x²). One pass instead of ~8 tfjs ops
// forward and ~15 backward over the MLP's widest activation.
#define GELU_C 0.7978845608028654f
#define GELU_A 0.044715f
NESTAR_CLONES static void gelu_fwd_f32(const float *restrict x, float *restrict y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = 0.5f * v * (1.0f + fast_tanhf(GELU_C * (v + GELU_A * v * v * v)));
  }
}

NESTAR_CLONES static void gelu_bwd_f32(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    const float t = fast_tanhf(GELU_C * (v + GELU_A * v * v * v));
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * GELU_A * v * v));
  }
}

// One AdamW step over one parameter, the op-by-op path's float32 arithmetic in its order (src/train/optimizer.ts;
// ISO C mode, so no multiply-add contraction): k = [gradScale, b1, 1-b1, b2, 1-b2, c1, c2, eps, decay, lr,
// scaleOn, decayOn], every value already rounded to float32 as tfjs rounds a scalar operand.
NESTAR_CLONES static void adamw_f32(const float *restrict p, const float *restrict m, const float *restrict v, const float *restrict g,
                                    float *restrict po, float *restrict mo, float *restrict vo, const float *k, size_t n) {
  const float s = k[0], b1 = k[1], ob1 = k[2], b2 = k[3], ob2 = k[4], c1 = k[5], c2 = k[6], eps = k[7], dec = k[8], lr = k[9];
  const int scaleOn = k[10] != 0.0f, decayOn = k[11] != 0.0f;
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const float gi = scaleOn ? g[i] * s : g[i];
    const float mi = m[i] * b1 + gi * ob1;
    const float vi = v[i] * b2 + (gi * gi) * ob2;
    const float u = (mi / c1) / (sqrtf(vi / c2) + eps);
    const float pd = decayOn ? p[i] * dec : p[i];
    mo[i] = mi;
    vo[i] = vi;
    po[i] = pd - u * lr;
  }
}

// EMA of one parameter: so = s·d + p·(1−d), k = [d, 1−d] in float32.
NESTAR_CLONES static void ema_f32(const float *restrict sh, const float *restrict p, float *restrict so, const float *k, size_t n) {
  const float d = k[0], od = k[1];
#pragma omp simd
  for (size_t i = 0; i < n; i++) so[i] = sh[i] * d + p[i] * od;
}

// Reads `count` Float32Array arguments (their lengths into lens) then `nints` non-negative integers: the calling
// convention of the linear and attention kernels.
static int arrays_ints(napi_env env, napi_callback_info info, const char *usage, size_t count, size_t nints, float **a, size_t *lens, int64_t *ints) {
  size_t argc = 16;
  napi_value argv[16];
  if (count + nints > 16 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count + nints) goto bad;
  for (size_t i = 0; i < count; i++) if (!get_f32(env, argv[i], &a[i], &lens[i])) goto bad;
  for (size_t i = 0; i < nints; i++) if (napi_get_value_int64(env, argv[count + i], &ints[i]) != napi_ok || ints[i] < 0) goto bad;
  return 1;
bad:
  napi_throw_type_error(env, NULL, usage);
  return 0;
}

// Reads `count` Float32Array arguments, the first `equal` of one common length *len (the elementwise kernels'
// calling convention), the rest (vectors of scalars) of any length.
static int f32_args(napi_env env, napi_callback_info info, const char *usage, size_t count, size_t equal, float **arrays, size_t *len) {
  size_t lens[16];
  if (!arrays_ints(env, info, usage, count, 0, arrays, lens, NULL)) return 0;
  for (size_t i = 1; i < equal; i++) {
    if (lens[i] != lens[0]) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
  }
  *len = lens[0];
  return 1;
}

// Element-wise kernels over more than one core: the first `shift` arrays (all of length n) are cut into
// contiguous parts, the rest (vectors of scalars) passed whole; each part is the kernel on its slice.
#define EW_GRAIN 32768
typedef struct { float *a[8]; int count, shift; void (*f)(float **a, size_t n); } EwJob;

static void ew_range(void *ctx, size_t lo, size_t hi) {
  const EwJob *j = (const EwJob *)ctx;
  float *a[8];
  for (int i = 0; i < j->count; i++) a[i] = i < j->shift ? j->a[i] + lo : j->a[i];
  j->f(a, hi - lo);
}

static void ew_parallel(float **a, int count, int shift, size_t n, void (*f)(float **a, size_t n)) {
  EwJob j = {.count = count, .shift = shift, .f = f};
  for (int i = 0; i < count; i++) j.a[i] = a[i];
  nestar_parallel_for(n, EW_GRAIN, ew_range, &j);
}

static void adamw_part(float **a, size_t n) { adamw_f32(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], n); }
static void ema_part(float **a, size_t n) { ema_f32(a[0], a[1], a[2], a[3], n); }

static napi_value Adamw(napi_env env, napi_callback_info info) {
  float *a[8];
  size_t n;
  if (f32_args(env, info, "adamw(p, m, v, g, pOut, mOut, vOut, k) expects seven Float32Arrays of one length and k of 12", 8, 7, a, &n)) ew_parallel(a, 8, 7, n, adamw_part);
  return NULL;
}

static napi_value Ema(napi_env env, napi_callback_info info) {
  float *a[4];
  size_t n;
  if (f32_args(env, info, "ema(shadow, p, out, k) expects three Float32Arrays of one length and k of 2", 4, 3, a, &n)) ew_parallel(a, 4, 3, n, ema_part);
  return NULL;
}

// Sum of squares of one array, in the order and precision of the op-by-op path: each square rounded to
// float32, then added one after the other in float32 (tfjs WASM's Sum over all axes; no SIMD reordering).
static float sum_squares_f32(const float *restrict x, size_t n) {
  float acc = 0.0f;
  for (size_t i = 0; i < n; i++) {
    const float sq = x[i] * x[i];
    acc += sq;
  }
  return acc;
}

// sumSquares(out, k): out[i] = Σ_j x_ij², for the Float32Arrays x_i in the JS array k (the global gradient norm).
static napi_value SumSquares(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  float *out;
  size_t nOut;
  uint32_t count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !get_f32(env, argv[0], &out, &nOut)
      || napi_get_array_length(env, argv[1], &count) != napi_ok || count != nOut) {
    napi_throw_type_error(env, NULL, "sumSquares(out, arrays) expects a Float32Array and an array of as many Float32Arrays");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    float *x;
    size_t n;
    if (napi_get_element(env, argv[1], i, &el) != napi_ok || !get_f32(env, el, &x, &n)) {
      napi_throw_type_error(env, NULL, "sumSquares: every entry of arrays must be a Float32Array");
      return NULL;
    }
    out[i] = sum_squares_f32(x, n);
  }
  return NULL;
}

// Mean and 1/σ of one row of C values, accumulated in double (shared by the forward and backward kernels,
// so the gradient sees exactly the forward's statistics).
static void row_stats(const float *restrict xr, int64_t C, float eps, float *mean, float *rstd) {
  double s = 0, q = 0;
  for (int64_t c = 0; c < C; c++) s += xr[c];
  const float m = (float)(s / (double)C);
  for (int64_t c = 0; c < C; c++) { const double d = xr[c] - m; q += d * d; }
  *mean = m;
  *rstd = (float)(1.0 / sqrt(q / (double)C + eps));
}

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

static void norm_rows(void *ctx, size_t lo, size_t hi) {
  const NormJob *j = (const NormJob *)ctx;
  const float *restrict x = j->x, *restrict G = j->G, *restrict B = j->B;
  float *restrict y = j->y;
  const int64_t C = j->C;
  const int perRow = j->perRow, onePlus = j->onePlus;
  const float eps = j->eps;
  for (int64_t n = (int64_t)lo; n < (int64_t)hi; n++) {
    const float *xr = x + n * C, *g = perRow ? G + n * C : G, *b = perRow ? B + n * C : B;
    float mean, rstd;
    row_stats(xr, C, eps, &mean, &rstd);
    float *yr = y + n * C;
    if (onePlus) for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean) * rstd * (1.0f + g[c]) + b[c];
    else for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean) * rstd * g[c] + b[c];
  }
}

// Its gradient (statistics recomputed from x): dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·G;
// dG = dy·x̂ and dB = dy, summed over rows (in double) when G, B are shared [C] vectors.
static int norm_scale_shift_bwd(const float *restrict dy, const float *restrict x, const float *restrict G, float *restrict dx,
                                float *restrict dG, float *restrict dB, int64_t N, int64_t C, int perRow, int onePlus, float eps) {
  double *accG = NULL, *accB = NULL;
  if (!perRow) {
    accG = calloc((size_t)C, sizeof(double));
    accB = calloc((size_t)C, sizeof(double));
    if (!accG || !accB) { free(accG); free(accB); return 0; }
  }
  for (int64_t n = 0; n < N; n++) {
    const float *xr = x + n * C, *dyr = dy + n * C, *g = perRow ? G + n * C : G;
    float mean, rstd;
    row_stats(xr, C, eps, &mean, &rstd);
    double m1 = 0, m2 = 0;
    for (int64_t c = 0; c < C; c++) {
      const double xh = (double)((xr[c] - mean) * rstd), dxh = (double)dyr[c] * (onePlus ? 1.0f + g[c] : g[c]);
      m1 += dxh;
      m2 += dxh * xh;
    }
    m1 /= (double)C;
    m2 /= (double)C;
    float *dxr = dx + n * C;
    for (int64_t c = 0; c < C; c++) {
      const float xh = (xr[c] - mean) * rstd;
      const double dxh = (double)dyr[c] * (onePlus ? 1.0f + g[c] : g[c]);
      dxr[c] = (float)(rstd * (dxh - m1 - xh * m2));
      if (perRow) { dG[n * C + c] = dyr[c] * xh; dB[n * C + c] = dyr[c]; }
      else { accG[c] += (double)dyr[c] * xh; accB[c] += dyr[c]; }
    }
  }
  if (!perRow) {
    for (int64_t c = 0; c < C; c++) { dG[c] = (float)accG[c]; dB[c] = (float)accB[c]; }
    free(accG);
    free(accB);
  }
  return 1;
}

// The norm kernels' calling convention: `count` Float32Arrays then N, C, flags, eps, with flags bit 0 perRow and
// bit 1 onePlus (the gain is 1 + G: AdaLN's 1 + scale without a separate add, rounded as that add rounds it).
// `kinds` says each array's length: 'r' N·C (rows), 'g' C, or N·C when perRow (the gain/shift and their gradients).
static int norm_args(napi_env env, napi_callback_info info, const char *usage, const char *kinds, float **a, int64_t *N, int64_t *C, int *perRow, int *onePlus, float *eps) {
  const size_t count = strlen(kinds);
  size_t argc = 10, len;
  napi_value argv[10];
  if (count > 6 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count + 4) goto bad;
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
      && !norm_scale_shift_bwd(a[0], a[1], a[2], a[3], a[4], a[5], N, C, perRow, onePlus, eps))
    napi_throw_error(env, NULL, "normScaleShiftGrad: out of memory");
  return NULL;
}


// linear(x, w, b, y, M, K, N): y = x·w + b for x [M, K], w [K, N], b [N] — one kernel instead of a matmul and
// an add; the bias is added after the product, as the two ops round it.
static napi_value Linear(napi_env env, napi_callback_info info) {
  float *a[4];
  size_t l[4];
  int64_t d[3];
  const char *usage = "linear(x, w, b, y, M, K, N): Float32Arrays of M*K, K*N, N, M*N";
  if (!arrays_ints(env, info, usage, 4, 3, a, l, d)) return NULL;
  const int64_t M = d[0], K = d[1], N = d[2];
  if (l[0] != (size_t)(M * K) || l[1] != (size_t)(K * N) || l[2] != (size_t)N || l[3] != (size_t)(M * N)) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  if (M == 0 || N == 0) return NULL;
  if (K == 0) memset(a[3], 0, sizeof(float) * (size_t)(M * N));
  else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, a[0], (int)K, a[1], (int)N, 0.0f, a[3], (int)N);
  for (int64_t i = 0; i < M; i++) {
    float *yr = a[3] + i * N;
    for (int64_t j = 0; j < N; j++) yr[j] += a[2][j];
  }
  return NULL;
}

// Multi-head attention on row layouts, no head transposes: q [B, Lq, H·dh], k and v [B, Lk, H·dh] (head h is
// the column block h·dh..), additive mask [Lq, Lk] or none, out [B, Lq, H·dh], and the probabilities
// P [B, H, Lq, Lk] kept for the gradient. Per (b, h): S = q·kᵀ (BLAS, strided), S·scale + mask, a row softmax
// (max subtracted, sum in float as tfjs's kernel does), out = P·v (BLAS, strided).
// ld is the row stride of q, k and v (C for separate arrays; 3C when they are column blocks of one qkv matrix).
static void attention_fwd(const float *q, const float *k, const float *v, const float *mask, float *out, float *P,
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

static float float_from_bits(int64_t bits) {
  const uint32_t u = (uint32_t)bits;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
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

static float *scratch_buffer(size_t n);

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

// Gated residual out = h + g·a (AdaLN-Zero's gate: one pass instead of a multiply and an add, rounded as those two
// round it) and its gradient: dg = dy·a, da = dy·g (dh = dy needs no kernel).
NESTAR_CLONES static void gated_add_f32(const float *restrict h, const float *restrict g, const float *restrict a, float *restrict y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) y[i] = h[i] + g[i] * a[i];
}

NESTAR_CLONES static void gated_add_bwd_f32(const float *restrict dy, const float *restrict g, const float *restrict a, float *restrict dg, float *restrict da, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) { dg[i] = dy[i] * a[i]; da[i] = dy[i] * g[i]; }
}

// SiLU y = x·σ(x) and its derivative σ(x)·(1 + x·(1 − σ(x))).
NESTAR_CLONES static void silu_fwd_f32(const float *restrict x, float *restrict y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

NESTAR_CLONES static void silu_bwd_f32(const float *restrict x, const float *restrict dy, float *restrict dx, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const float s = 1.0f / (1.0f + expf(-x[i]));
    dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

// N-API entries of the element-wise kernels: `count` Float32Arrays of one length, then the kernel on them.
#define ELEMENTWISE(Name, count, usage, call)                                   \
  static void Name##_part(float **a, size_t n) { call; }                        \
  static napi_value Name(napi_env env, napi_callback_info info) {               \
    float *a[count];                                                            \
    size_t n;                                                                   \
    if (f32_args(env, info, usage " expects " #count " Float32Arrays of equal length", count, count, a, &n)) \
      ew_parallel(a, count, count, n, Name##_part);                             \
    return NULL;                                                                \
  }
ELEMENTWISE(Tanh, 2, "tanh(x, y)", tanh_f32(a[0], a[1], n))
ELEMENTWISE(GeluFwd, 2, "geluFwd(x, y)", gelu_fwd_f32(a[0], a[1], n))
ELEMENTWISE(GeluBwd, 3, "geluBwd(x, dy, dx)", gelu_bwd_f32(a[0], a[1], a[2], n))
ELEMENTWISE(GatedAdd, 4, "gatedAdd(h, g, a, y)", gated_add_f32(a[0], a[1], a[2], a[3], n))
ELEMENTWISE(GatedAddGrad, 5, "gatedAddGrad(dy, g, a, dg, da)", gated_add_bwd_f32(a[0], a[1], a[2], a[3], a[4], n))
ELEMENTWISE(SiluFwd, 2, "siluFwd(x, y)", silu_fwd_f32(a[0], a[1], n))
ELEMENTWISE(SiluBwd, 3, "siluBwd(x, dy, dx)", silu_bwd_f32(a[0], a[1], a[2], n))

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

// guidance(v, y, w): classifier-free guidance of v = [v_c; v_u] (two halves of n values each): y = v_u + (v_c − v_u)·w,
// rounded as the three ops of the composite form round it.
static napi_value Guidance(napi_env env, napi_callback_info info) {
  float *a[3];
  size_t l[3];
  int64_t wbits;
  const char *usage = "guidance(v, y, wBits): Float32Arrays of 2n (v) and n (y), the weight as its float32 bits";
  if (!arrays_ints(env, info, usage, 2, 1, a, l, &wbits)) return NULL;
  if (l[0] != 2 * l[1]) { napi_throw_range_error(env, NULL, usage); return NULL; }
  const float w = float_from_bits(wbits);
  const float *vc = a[0], *vu = a[0] + l[1];
  for (size_t i = 0; i < l[1]; i++) a[1][i] = vu[i] + (vc[i] - vu[i]) * w;
  return NULL;
}

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
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K, w, (int)N, 0.0f, y, (int)N);
  for (int64_t i = 0; i < M; i++) {
    float *yr = y + i * N;
    for (int64_t j = 0; j < N; j++) yr[j] += b[j];
  }
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
  const char *usage = "patchHeadStep(arrays, meta): the bound head's Float32Arrays (see native/nestar_native.c) and a Float64Array of sizes and offsets";
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
      attention_fwd(qkv, qkv + W, qkv + 2 * W, hasMask ? a[10] : NULL, att, P, G, L, L, H, W / H, scale, 3 * W);
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
  const char *usage = "tokenHeadStep(arrays, meta): the bound head's Float32Arrays (see native/nestar_native.c) and a Float64Array of sizes and offsets";
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

// One scratch buffer reused across calls: a fresh 50 MB malloc each step costs more in page faults (on
// VMs especially) than the convolution itself. JS calls are single-threaded, so one buffer is enough.
static float *scratch = NULL;
static size_t scratch_len = 0;
static float *scratch_buffer(size_t n) {
  if (n > scratch_len) {
    free(scratch);
    scratch = (float *)malloc(sizeof(float) * n);
    scratch_len = scratch ? n : 0;
  }
  return scratch;
}

// The shared argument list of the two convolution-gradient kernels: three arrays (a, b, out) and the
// sizes N, H, W, C, OH, OW, O, k, padTop, padLeft. x is [N,H,W,C], dy [N,OH,OW,O], the filter [k,k,C,O].
// `scratch` is the [N·OH·OW, k·k·C] im2col/col2im buffer both kernels need.
typedef struct { float *a, *b, *out, *scratch; int64_t N, H, W, C, OH, OW, O, K, pt, pl, rows, cols; } ConvArgs;

static int conv_args(napi_env env, napi_callback_info info, const char *name, int a_is_x, ConvArgs *c) {
  size_t argc = 13;
  napi_value argv[13];
  size_t la, lb, lo;
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 13 || !get_f32(env, argv[0], &c->a, &la) ||
      !get_f32(env, argv[1], &c->b, &lb) || !get_f32(env, argv[2], &c->out, &lo)) {
    snprintf(msg, sizeof msg, "%s expects three Float32Arrays and 10 sizes", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  int64_t *dims[] = {&c->N, &c->H, &c->W, &c->C, &c->OH, &c->OW, &c->O, &c->K, &c->pt, &c->pl};
  for (int i = 0; i < 10; i++) *dims[i] = get_i64(env, argv[3 + i]);
  const uint64_t x = (uint64_t)(c->N * c->H * c->W * c->C), dy = (uint64_t)(c->N * c->OH * c->OW * c->O),
                 w = (uint64_t)(c->K * c->K * c->C * c->O);
  // conv2dFilterGrad(x, dy, dw); conv2dInputGrad(dy, w, dx)
  const int ok = a_is_x ? (x <= la && dy <= lb && w <= lo) : (dy <= la && w <= lb && x <= lo);
  if (!ok) {
    snprintf(msg, sizeof msg, "%s: sizes exceed the arrays given", name);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  c->rows = c->N * c->OH * c->OW;
  c->cols = c->K * c->K * c->C;
  c->scratch = scratch_buffer((size_t)(c->rows * c->cols));
  if (!c->scratch) {
    snprintf(msg, sizeof msg, "%s: out of memory for the im2col buffer", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static napi_value Conv2dFilterGrad(napi_env env, napi_callback_info info) {
  ConvArgs a;
  if (!conv_args(env, info, "conv2dFilterGrad", 1, &a)) return NULL;
  const float *x = a.a, *dy = a.b;
  float *dw = a.out;
  const int64_t N = a.N, H = a.H, W = a.W, C = a.C, OH = a.OH, OW = a.OW, O = a.O, K = a.K, pt = a.pt, pl = a.pl;
  const int64_t rows = a.rows, cols = a.cols;
  float *patches = a.scratch;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float *row = patches + ((n * OH + oh) * OW + ow) * cols;
        for (int64_t ky = 0; ky < K; ky++) {
          const int64_t ih = oh + ky - pt;
          for (int64_t kx = 0; kx < K; kx++) {
            const int64_t iw = ow + kx - pl;
            float *dst = row + (ky * K + kx) * C;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) memset(dst, 0, sizeof(float) * (size_t)C);
            else memcpy(dst, x + ((n * H + ih) * W + iw) * C, sizeof(float) * (size_t)C);
          }
        }
      }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)cols, (int)O, (int)rows, 1.0f, patches, (int)cols, dy, (int)O, 0.0f, dw, (int)O);
  return NULL;
}

// conv2dInputGrad(dy, w, dx, N, H, W, C, OH, OW, O, k, padTop, padLeft): the input gradient of a stride-1
// NHWC convolution: cols = dy · wᵀ (one sgemm, [N·OH·OW, k·k·C]) scattered back with col2im.
static napi_value Conv2dInputGrad(napi_env env, napi_callback_info info) {
  ConvArgs a;
  if (!conv_args(env, info, "conv2dInputGrad", 0, &a)) return NULL;
  const float *dy = a.a, *w = a.b;
  float *dx = a.out;
  const int64_t N = a.N, H = a.H, W = a.W, C = a.C, OH = a.OH, OW = a.OW, O = a.O, K = a.K, pt = a.pt, pl = a.pl;
  const int64_t rows = a.rows, cols = a.cols;
  float *c = a.scratch;
  // w is [k, k, C, O] = [cols, O] row-major, so cols = dy [rows, O] · wᵀ.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)O, 1.0f, dy, (int)O, w, (int)O, 0.0f, c, (int)cols);
  memset(dx, 0, sizeof(float) * (size_t)(N * H * W * C));
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        const float *row = c + ((n * OH + oh) * OW + ow) * cols;
        for (int64_t ky = 0; ky < K; ky++) {
          const int64_t ih = oh + ky - pt;
          if (ih < 0 || ih >= H) continue;
          for (int64_t kx = 0; kx < K; kx++) {
            const int64_t iw = ow + kx - pl;
            if (iw < 0 || iw >= W) continue;
            float *dst = dx + ((n * H + ih) * W + iw) * C;
            const float *src = row + (ky * K + kx) * C;
            for (int64_t ch = 0; ch < C; ch++) dst[ch] += src[ch];
          }
        }
      }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  openblas_set_num_threads((int)get_i64(env, argv[0]));
  nestar_set_pool_threads((int)get_i64(env, argv[0]));
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  napi_value obj, core, threads, config;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &threads));
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(napi_set_named_property(env, obj, "coreType", core));
  CHECK(napi_set_named_property(env, obj, "threads", threads));
  CHECK(napi_set_named_property(env, obj, "config", config));
  return obj;
}

// native/strided.c: the JS-buffer backend's strided element-wise kernels.
void nestar_register_strided(napi_env env, napi_value exports);

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"tanh", NULL, Tanh, NULL, NULL, NULL, napi_default, NULL},
      {"geluFwd", NULL, GeluFwd, NULL, NULL, NULL, napi_default, NULL},
      {"geluBwd", NULL, GeluBwd, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dFilterGrad", NULL, Conv2dFilterGrad, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dInputGrad", NULL, Conv2dInputGrad, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, Adamw, NULL, NULL, NULL, napi_default, NULL},
      {"sumSquares", NULL, SumSquares, NULL, NULL, NULL, napi_default, NULL},
      {"normScaleShift", NULL, NormScaleShift, NULL, NULL, NULL, napi_default, NULL},
      {"normScaleShiftGrad", NULL, NormScaleShiftGrad, NULL, NULL, NULL, napi_default, NULL},
      {"ema", NULL, Ema, NULL, NULL, NULL, napi_default, NULL},
      {"linear", NULL, Linear, NULL, NULL, NULL, napi_default, NULL},
      {"gatedAdd", NULL, GatedAdd, NULL, NULL, NULL, napi_default, NULL},
      {"gatedAddGrad", NULL, GatedAddGrad, NULL, NULL, NULL, napi_default, NULL},
      {"siluFwd", NULL, SiluFwd, NULL, NULL, NULL, napi_default, NULL},
      {"siluBwd", NULL, SiluBwd, NULL, NULL, NULL, napi_default, NULL},
      {"guidance", NULL, Guidance, NULL, NULL, NULL, napi_default, NULL},
      {"patchHeadStep", NULL, PatchHeadStep, NULL, NULL, NULL, napi_default, NULL},
      {"tokenHeadStep", NULL, TokenHeadStep, NULL, NULL, NULL, napi_default, NULL},
      {"normCols", NULL, NormCols, NULL, NULL, NULL, napi_default, NULL},
      {"gatedAddCols", NULL, GatedAddCols, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_default, NULL},
      {"attentionQkv", NULL, AttentionQkv, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  nestar_register_strided(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
