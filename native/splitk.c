// Split-K matmul: C = op(A)·op(B) with the inner dimension K cut into `chunks` fixed slices, each an sgemm run
// single-threaded on the pool, then summed in slice order. OpenBLAS threads a GEMM over C's rows and columns, so a
// weight gradient xᵀ·dy — a small C (say 96×96) over a long K (every row of the batch) — leaves the second core
// mostly idle or re-packing the same panels; here every core streams its own slice of K. The slices depend only on
// the call's `chunks`, never on the thread count, so the bits do not either.
#include "kernels.h"
#include "parallel.h"
#include <cblas.h>
#include <stdbool.h>
#include <stdlib.h>

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

typedef struct {
  const float *a, *b;
  float *c, *parts;
  int64_t m, n, k, chunks;
  bool ta, tb;
} SplitK;

static void slice_gemm(void *p, size_t lo, size_t hi) {
  const SplitK *s = (const SplitK *)p;
  for (size_t j = lo; j < hi; j++) {
    const int64_t k0 = s->k * (int64_t)j / s->chunks, k1 = s->k * (int64_t)(j + 1) / s->chunks;
    // A is [M, K] (lda K) or, transposed, [K, M] (lda M); B is [K, N] (ldb N) or, transposed, [N, K] (ldb K).
    const float *a = s->ta ? s->a + k0 * s->m : s->a + k0;
    const float *b = s->tb ? s->b + k0 : s->b + k0 * s->n;
    float *out = j == 0 ? s->c : s->parts + (j - 1) * s->m * s->n;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, (int)s->m,
                (int)s->n, (int)(k1 - k0), 1.0f, a, s->ta ? (int)s->m : (int)s->k, b, s->tb ? (int)s->k : (int)s->n,
                0.0f, out, (int)s->n);
  }
}

static void sum_parts(void *p, size_t lo, size_t hi) {
  const SplitK *s = (const SplitK *)p;
  const size_t mn = (size_t)(s->m * s->n);
  for (int64_t j = 1; j < s->chunks; j++) {
    const float *part = s->parts + (size_t)(j - 1) * mn;
    for (size_t i = lo; i < hi; i++) s->c[i] += part[i];
  }
}

static float *parts_buffer(size_t n) {
  static float *buf = NULL;
  static size_t len = 0;
  if (n > len) {
    free(buf);
    buf = (float *)malloc(sizeof(float) * n);
    len = buf ? n : 0;
  }
  return buf;
}

// Returns 0 when the slices' buffer cannot be had (the caller then runs one plain sgemm).
int sgemm_split_k(const float *a, const float *b, float *c, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                  int64_t chunks) {
  if (chunks > k) chunks = k;
  SplitK s = {a, b, c, NULL, m, n, k, chunks, ta, tb};
  if (chunks > 1 && !(s.parts = parts_buffer((size_t)((chunks - 1) * m * n)))) return 0;
  const int blas = openblas_get_num_threads();
  openblas_set_num_threads(1);
  nestar_parallel_for((size_t)chunks, 1, slice_gemm, &s);
  openblas_set_num_threads(blas);
  if (chunks > 1) nestar_parallel_for((size_t)(m * n), 4096, sum_parts, &s);
  return 1;
}

// sgemmSplitK(a, b, c, m, n, k, transA, transB, chunks): one row-major GEMM, C = op(A)·op(B), K in `chunks` slices.
static napi_value SgemmSplitK(napi_env env, napi_callback_info info) {
  float *arr[3];
  size_t len[3];
  int64_t v[6];
  const char *usage = "sgemmSplitK(a, b, c, m, n, k, transA, transB, chunks): three Float32Arrays, then positive sizes, 0/1 flags and chunks >= 1";
  if (!arrays_ints(env, info, usage, 3, 6, arr, len, v)) return NULL;
  const int64_t m = v[0], n = v[1], k = v[2], chunks = v[5];
  if (m < 1 || n < 1 || k < 1 || chunks < 1 || (uint64_t)(m * k) > len[0] || (uint64_t)(k * n) > len[1] ||
      (uint64_t)(m * n) > len[2]) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  if (!sgemm_split_k(arr[0], arr[1], arr[2], m, n, k, v[3] != 0, v[4] != 0, chunks)) {
    napi_throw_error(env, NULL, "sgemmSplitK: out of memory for the slices' partial products");
  }
  return NULL;
}

void nestar_register_split_k(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {{"sgemmSplitK", NULL, SgemmSplitK, NULL, NULL, NULL, napi_default, NULL}};
  napi_define_properties(env, exports, 1, props);
}
