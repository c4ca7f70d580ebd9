// sgemm with the native pack's own threads: OpenBLAS runs single-threaded and a product big enough to share is cut
// into one part of rows of C a thread, run by the thread pool (parallel.h), one single-threaded OpenBLAS call a part.
// Why: with OpenBLAS's own threads, its workers spin for a while after every call (OPENBLAS_THREAD_TIMEOUT, 2^28
// cycles by default), so the pool's element-wise and attention kernels that followed found the second core taken;
// with one set of threads every multi-core kernel gets every core (reference training step 681-691 -> 603-627 ms,
// two interleaved runs each way).
// Rows, never columns, and cuts on multiples of GEMM_ROWS (24) rows, as even as that allows: OpenBLAS's Haswell
// sgemm then gives every element the bits of the uncut call (column cuts and cuts elsewhere do not), so results do
// not depend on the thread count (test/engine.test.ts).
// A small output (at most 2^16 values) over a long inner size (weight gradients xᵀ·dy: 256×256 from 4096 rows) has
// too few rows to share evenly, so it is cut along K instead, in fixed chunks of GEMM_KC whatever the thread count,
// each chunk's product into its own buffer, then summed in chunk order (rows of the sum over the pool).
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "parallel.h"

#define GEMM_ROWS 24
#define MAX_PARTS 64
#define GEMM_KC 1024

typedef struct { int ta, tb; int64_t m, n, k, lda, ldb, ldc; const float *a, *b, *bias, *res; float *c; int64_t cut[MAX_PARTS + 1]; } GemmJob;

static void gemm_parts(void *ctx, size_t lo, size_t hi) {
  const GemmJob *j = (const GemmJob *)ctx;
  const int64_t r0 = j->cut[lo], r1 = j->cut[hi];
  if (r1 <= r0) return;
  const float *a = j->a + (j->ta ? r0 : r0 * j->lda);
  // With a bias: C's rows start as the bias and the product is added to them (beta 1), which rounds x·w + b as one
  // add after the product, as a separate add would — without a second pass over C. With a residual r [m, n] too,
  // they start as bias + r (a residual stream's r + x·w + b without the add's pass: x·w + (b + r), rounded so).
  if (j->res) {
    for (int64_t r = r0; r < r1; r++) {
      float *restrict cr = j->c + r * j->ldc;
      const float *restrict rr = j->res + r * j->n, *restrict b = j->bias;
#pragma omp simd
      for (int64_t x = 0; x < j->n; x++) cr[x] = b[x] + rr[x];
    }
  } else if (j->bias) for (int64_t r = r0; r < r1; r++) memcpy(j->c + r * j->ldc, j->bias, sizeof(float) * (size_t)j->n);
  cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)(r1 - r0), (int)j->n, (int)j->k, 1.0f,
              a, (int)j->lda, j->b, (int)j->ldb, j->bias ? 1.0f : 0.0f, j->c + r0 * j->ldc, (int)j->ldc);
}

typedef struct { int ta, tb; int64_t m, n, k, lda, ldb, ldc; const float *a, *b, *bias; float *c, *parts; } SplitKJob;

static void splitk_chunks(void *ctx, size_t lo, size_t hi) {
  const SplitKJob *j = (const SplitKJob *)ctx;
  for (size_t ch = lo; ch < hi; ch++) {
    const int64_t k0 = (int64_t)ch * GEMM_KC, kc = j->k - k0 < GEMM_KC ? j->k - k0 : GEMM_KC;
    // op(A)[:, k0..] is A's columns k0.. (rows when transposed); op(B)[k0.., :] likewise.
    const float *a = j->a + (j->ta ? k0 * j->lda : k0), *b = j->b + (j->tb ? k0 : k0 * j->ldb);
    cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)j->m, (int)j->n, (int)kc, 1.0f,
                a, (int)j->lda, b, (int)j->ldb, 0.0f, j->parts + ch * j->m * j->n, (int)j->n);
  }
}

static void splitk_sum(void *ctx, size_t lo, size_t hi) {
  const SplitKJob *j = (const SplitKJob *)ctx;
  const int64_t chunks = (j->k + GEMM_KC - 1) / GEMM_KC, mn = j->m * j->n;
  for (size_t r = lo; r < hi; r++) {
    float *restrict cr = j->c + (int64_t)r * j->ldc;
    const float *restrict p0 = j->parts + (int64_t)r * j->n;
    for (int64_t x = 0; x < j->n; x++) cr[x] = p0[x];
    for (int64_t ch = 1; ch < chunks; ch++) {
      const float *restrict p = p0 + ch * mn;
      for (int64_t x = 0; x < j->n; x++) cr[x] += p[x];
    }
    if (j->bias) for (int64_t x = 0; x < j->n; x++) cr[x] += j->bias[x];
  }
}

// The K chunks' products: one buffer kept between calls (grown as needed; the JS thread makes every call), since a
// fresh multi-megabyte allocation a call costs page faults.
static float *scratch = NULL;
static size_t scratch_len = 0;

static float *gemm_scratch(size_t n) {
  if (n > scratch_len) {
    float *p = (float *)realloc(scratch, sizeof(float) * n);
    if (!p) return NULL;
    scratch = p;
    scratch_len = n;
  }
  return scratch;
}

typedef struct { const float *src; float *dst; int64_t m, n, ldc; } TransposeJob;

// Rows [lo, hi) of dst [m, n] (leading dimension ldc) from src [n, m]: the transpose of src's columns lo..hi.
static void transpose_rows(void *ctx, size_t lo, size_t hi) {
  const TransposeJob *j = (const TransposeJob *)ctx;
  tile_transpose(j->n, (int64_t)(hi - lo), j->src + lo, j->m, j->dst + (int64_t)lo * j->ldc, j->ldc);
}

static void pool_sgemm_rows(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                            const float *bias, const float *res, float *c, int64_t ldc);

void pool_sgemm_bias(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias,
                     float *c, int64_t ldc) {
  // A product with fewer rows than columns over a long K (a weight gradient xᵀ·dy: 256 × 1024 from 4096 rows) is
  // made as its transpose op(B)ᵀ·op(A)ᵀ [n, m] and transposed into C: its cuts on multiples of GEMM_ROWS then fall
  // within 1.6 % of even shares of 1024 rows, not 6 % of 256 (one pass over m·n values costs far less). Chosen by
  // shape alone, so the bits do not depend on the thread count.
  if (!bias && m < n && m * n > (1 << 16) && k >= 2 * n) {
    float *t = gemm_scratch((size_t)(m * n));
    if (t) {
      pool_sgemm_rows(!tb, !ta, n, m, k, b, ldb, a, lda, NULL, NULL, t, m);
      TransposeJob j = {t, c, m, n, ldc};
      nestar_parallel_for((size_t)m, 32, transpose_rows, &j);
      return;
    }
  }
  if (m * n <= (1 << 16) && k >= 2 * GEMM_KC) { // whatever the thread count, so the bits do not depend on it
    const int64_t chunks = (k + GEMM_KC - 1) / GEMM_KC;
    float *parts = gemm_scratch((size_t)(chunks * m * n));
    if (parts) {
      SplitKJob j = {ta, tb, m, n, k, lda, ldb, ldc, a, b, bias, c, parts};
      nestar_parallel_for((size_t)chunks, 1, splitk_chunks, &j);
      nestar_parallel_for((size_t)m, (size_t)(32768 / (n * chunks) + 1), splitk_sum, &j);
      return;
    }
  }
  pool_sgemm_rows(ta, tb, m, n, k, a, lda, b, ldb, bias, NULL, c, ldc);
}

// One part of C's rows a thread (the cuts below).
static void pool_sgemm_rows(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                            const float *bias, const float *res, float *c, int64_t ldc) {
  // One part a thread, at least about 2^18 multiply-adds each (OpenBLAS's own threshold for going multi-threaded),
  // the cuts the multiples of GEMM_ROWS nearest to equal shares.
  const int64_t blocks = (m + GEMM_ROWS - 1) / GEMM_ROWS, perBlock = GEMM_ROWS * n * k;
  int64_t parts = nestar_pool_threads();
  if (perBlock > 0 && blocks * perBlock / parts < (1 << 18)) parts = blocks * perBlock / (1 << 18);
  if (parts > blocks) parts = blocks;
  if (parts > MAX_PARTS) parts = MAX_PARTS;
  if (parts < 1) parts = 1;
  GemmJob j = {ta, tb, m, n, k, lda, ldb, ldc, a, b, bias, res, c, {0}};
  for (int64_t p = 1; p < parts; p++) j.cut[p] = (m * p / parts + GEMM_ROWS / 2) / GEMM_ROWS * GEMM_ROWS;
  j.cut[parts] = m;
  nestar_parallel_for((size_t)parts, 1, gemm_parts, &j);
}

void pool_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc) {
  pool_sgemm_bias(ta, tb, m, n, k, a, lda, b, ldb, NULL, c, ldc);
}

// linear(x, w, b, y, M, K, N): y = x·w + b; linearResidual(x, w, b, r, y, M, K, N): y = r + x·w + b (row-major, x
// [M, K], w [K, N], b [N], r and y [M, N]).
static napi_value linear_call(napi_env env, napi_callback_info info, int residual) {
  float *a[5];
  size_t l[5];
  int64_t d[3];
  const char *usage = residual ? "linearResidual(x, w, b, r, y, M, K, N): Float32Arrays of M*K, K*N, N, M*N, M*N"
                               : "linear(x, w, b, y, M, K, N): Float32Arrays of M*K, K*N, N, M*N";
  const size_t count = residual ? 5 : 4;
  if (!arrays_ints(env, info, usage, count, 3, a, l, d)) return NULL;
  const int64_t M = d[0], K = d[1], N = d[2];
  float *y = a[count - 1];
  const float *res = residual ? a[3] : NULL;
  if (l[0] != (size_t)(M * K) || l[1] != (size_t)(K * N) || l[2] != (size_t)N || l[count - 1] != (size_t)(M * N) || (res && l[3] != (size_t)(M * N))) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  if (M == 0 || N == 0) return NULL;
  if (K == 0) {
    for (int64_t i = 0; i < M; i++)
      for (int64_t x = 0; x < N; x++) y[i * N + x] = res ? a[2][x] + res[i * N + x] : a[2][x];
  } else if (res) pool_sgemm_rows(0, 0, M, N, K, a[0], K, a[1], N, a[2], res, y, N);
  else pool_sgemm_bias(0, 0, M, N, K, a[0], K, a[1], N, a[2], y, N);
  return NULL;
}

static napi_value Linear(napi_env env, napi_callback_info info) { return linear_call(env, info, 0); }
static napi_value LinearResidual(napi_env env, napi_callback_info info) { return linear_call(env, info, 1); }

void nestar_register_gemm(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"linear", NULL, Linear, NULL, NULL, NULL, napi_default, NULL},
      {"linearResidual", NULL, LinearResidual, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
