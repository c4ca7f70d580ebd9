// Register-tiled products for the small per-(batch, head) matrices of attention (L, dh up to a few hundred): at
// these sizes one OpenBLAS call costs more in dispatch and threading than its arithmetic (a 64×64×64 product ran
// at ~20 GFLOP/s through cblas_sgemm inside the attention kernel), and the attention kernels call thousands of
// them. Every element sums its K terms in ascending order, so a result does not depend on the tile it fell in.
#include <stdint.h>
#include "kernels.h"

#define MR 4
#define NR 16

// A row of NR floats as one GCC vector (one zmm under AVX-512, two ymm under AVX2), loaded and stored unaligned.
typedef float vrow __attribute__((vector_size(NR * sizeof(float)), aligned(4)));

// C[M×N] = A[M×K]·B[K×N]: A(i, k) at A[i·ra + k·ca] (ra = lda, ca = 1 for A itself; ra = 1, ca = lda for the
// transpose of a stored [K×M]), B and C row-major with leading dimensions ldb, ldc.
NESTAR_CLONES void tile_gemm(int64_t M, int64_t N, int64_t K, const float *restrict A, int64_t ra, int64_t ca, const float *restrict B,
                             int64_t ldb, float *restrict C, int64_t ldc) {
  int64_t i = 0;
  for (; i + MR <= M; i += MR) {
    int64_t j = 0;
    for (; j + NR <= N; j += NR) {
      vrow c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
      const float *a0 = A + i * ra, *a1 = a0 + ra, *a2 = a1 + ra, *a3 = a2 + ra;
      for (int64_t k = 0; k < K; k++) {
        const vrow b = *(const vrow *)(B + k * ldb + j);
        c0 += a0[k * ca] * b;
        c1 += a1[k * ca] * b;
        c2 += a2[k * ca] * b;
        c3 += a3[k * ca] * b;
      }
      *(vrow *)(C + i * ldc + j) = c0;
      *(vrow *)(C + (i + 1) * ldc + j) = c1;
      *(vrow *)(C + (i + 2) * ldc + j) = c2;
      *(vrow *)(C + (i + 3) * ldc + j) = c3;
    }
    for (; j < N; j++) {
      for (int r = 0; r < MR; r++) {
        float s = 0;
        for (int64_t k = 0; k < K; k++) s += A[(i + r) * ra + k * ca] * B[k * ldb + j];
        C[(i + r) * ldc + j] = s;
      }
    }
  }
  for (; i < M; i++) {
    float *restrict c = C + i * ldc;
    for (int64_t j = 0; j < N; j++) c[j] = 0;
    for (int64_t k = 0; k < K; k++) {
      const float a = A[i * ra + k * ca];
      const float *restrict b = B + k * ldb;
      for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
    }
  }
}

// dst[c×r] = srcᵀ for src [r×c], leading dimensions lds and ldd (a packed B operand for tile_gemm, with ldd = r), in
// 32×32 blocks so that neither side is walked a whole column at a time.
void tile_transpose(int64_t r, int64_t c, const float *restrict src, int64_t lds, float *restrict dst, int64_t ldd) {
  for (int64_t i0 = 0; i0 < r; i0 += 32) {
    const int64_t i1 = i0 + 32 < r ? i0 + 32 : r;
    for (int64_t j0 = 0; j0 < c; j0 += 32) {
      const int64_t j1 = j0 + 32 < c ? j0 + 32 : c;
      for (int64_t j = j0; j < j1; j++)
        for (int64_t i = i0; i < i1; i++) dst[j * ldd + i] = src[i * lds + j];
    }
  }
}
