// sgemm with the native pack's own threads: OpenBLAS runs single-threaded and a product big enough to share is cut
// into blocks of GEMM_ROWS rows of C run by the thread pool (parallel.h), one single-threaded OpenBLAS call a block.
// Why: with OpenBLAS's own threads, its workers spin for a while after every call (OPENBLAS_THREAD_TIMEOUT, 2^28
// cycles by default), so the pool's element-wise and attention kernels that followed found the second core taken;
// with one set of threads every multi-core kernel gets every core (reference step 690 -> 600 ms, one run each).
// Rows, never columns, and cuts on multiples of 48: OpenBLAS's Haswell sgemm then gives every element the bits of
// the uncut call (column cuts and other row multiples do not), so results do not depend on the thread count.
// A small output (at most 2^16 values) over a long inner size (weight gradients xᵀ·dy: 256×256 from 4096 rows) has too few row
// blocks to share evenly, so it is cut along K instead, in fixed chunks of GEMM_KC whatever the thread count, each
// chunk's product into its own buffer, then summed in chunk order (rows of the sum over the pool).
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include "kernels.h"
#include "parallel.h"

#define GEMM_ROWS 48
#define GEMM_KC 1024

typedef struct { int ta, tb; int64_t m, n, k, lda, ldb, ldc; const float *a, *b; float *c; } GemmJob;

static void gemm_blocks(void *ctx, size_t lo, size_t hi) {
  const GemmJob *j = (const GemmJob *)ctx;
  const int64_t r0 = (int64_t)lo * GEMM_ROWS, r1 = (int64_t)hi * GEMM_ROWS < j->m ? (int64_t)hi * GEMM_ROWS : j->m;
  if (r1 <= r0) return;
  const float *a = j->a + (j->ta ? r0 : r0 * j->lda);
  cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)(r1 - r0), (int)j->n, (int)j->k, 1.0f,
              a, (int)j->lda, j->b, (int)j->ldb, 0.0f, j->c + r0 * j->ldc, (int)j->ldc);
}

typedef struct { int ta, tb; int64_t m, n, k, lda, ldb, ldc; const float *a, *b; float *c, *parts; } SplitKJob;

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
  }
}

void pool_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc) {
  if (m * n <= (1 << 16) && k >= 2 * GEMM_KC) { // whatever the thread count, so the bits do not depend on it
    const int64_t chunks = (k + GEMM_KC - 1) / GEMM_KC;
    float *parts = (float *)malloc(sizeof(float) * (size_t)(chunks * m * n));
    if (parts) {
      SplitKJob j = {ta, tb, m, n, k, lda, ldb, ldc, a, b, c, parts};
      nestar_parallel_for((size_t)chunks, 1, splitk_chunks, &j);
      nestar_parallel_for((size_t)m, (size_t)(32768 / (n * chunks) + 1), splitk_sum, &j);
      free(parts);
      return;
    }
  }
  const int64_t blocks = (m + GEMM_ROWS - 1) / GEMM_ROWS, perBlock = GEMM_ROWS * n * k;
  // About 2^18 multiply-adds a part at least (OpenBLAS's own threshold for going multi-threaded is 2^18 too).
  const int64_t grain = perBlock > 0 ? ((1 << 18) + perBlock - 1) / perBlock : blocks;
  GemmJob j = {ta, tb, m, n, k, lda, ldb, ldc, a, b, c};
  nestar_parallel_for((size_t)blocks, (size_t)(grain < 1 ? 1 : grain), gemm_blocks, &j);
}
