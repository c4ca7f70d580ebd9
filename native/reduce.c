// Column sums of a row-major [N, C] matrix (a linear layer's bias gradient 1ᵀ·dy, LayerNorm's gain and shift
// gradients): columns split over the thread pool, each column summed by one thread over the rows in order, so the
// bits do not depend on the thread count. One pass over dy instead of a [1, N]·[N, C] product, which BLAS runs at a
// few GFLOP/s.
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "kernels.h"
#include "parallel.h"

typedef struct { const float *x; float *out; int64_t N, C; } SumRowsJob;

#define COL_BLOCK 16

NESTAR_CLONES static void sum_rows_cols(const float *restrict x, float *restrict out, int64_t N, int64_t C, int64_t c0, int64_t c1) {
  memcpy(out + c0, x + c0, sizeof(float) * (size_t)(c1 - c0));
  for (int64_t r = 1; r < N; r++) {
    const float *restrict xr = x + r * C;
#pragma omp simd
    for (int64_t c = c0; c < c1; c++) out[c] += xr[c];
  }
}

static void sum_rows_range(void *ctx, size_t lo, size_t hi) {
  const SumRowsJob *j = (const SumRowsJob *)ctx;
  const int64_t c0 = (int64_t)lo * COL_BLOCK, c1 = (int64_t)hi * COL_BLOCK < j->C ? (int64_t)hi * COL_BLOCK : j->C;
  if (c1 > c0) sum_rows_cols(j->x, j->out, j->N, j->C, c0, c1);
}

// sumRows(x, out, N, C): out[c] = Σ_r x[r, c].
static napi_value SumRows(napi_env env, napi_callback_info info) {
  float *a[2];
  size_t l[2];
  int64_t d[2];
  const char *usage = "sumRows(x, out, N, C): Float32Arrays of N*C (x) and C (out), N >= 1";
  if (!arrays_ints(env, info, usage, 2, 2, a, l, d)) return NULL;
  const int64_t N = d[0], C = d[1];
  if (N < 1 || l[0] != (size_t)(N * C) || l[1] != (size_t)C) { napi_throw_range_error(env, NULL, usage); return NULL; }
  SumRowsJob j = {a[0], a[1], N, C};
  const int64_t blocks = (C + COL_BLOCK - 1) / COL_BLOCK, perBlock = N * COL_BLOCK;
  nestar_parallel_for((size_t)blocks, (size_t)(32768 / perBlock + 1), sum_rows_range, &j);
  return NULL;
}

void nestar_register_reduce(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {{"sumRows", NULL, SumRows, NULL, NULL, NULL, napi_default, NULL}};
  napi_define_properties(env, exports, 1, props);
}
