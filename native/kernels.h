// What the native pack's source files share: argument readers of the N-API calling conventions (native/napi_args.c),
// the element-wise kernels other kernels reuse (native/elementwise.c), the kernels named below, and each file's registration.
#ifndef NESTAR_KERNELS_H
#define NESTAR_KERNELS_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

// Function multi-versioning: AVX-512/AVX2/SSE clones chosen at load time on x86-64 (GCC).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NESTAR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NESTAR_CLONES
#endif

int get_f32(napi_env env, napi_value v, float **data, size_t *len);
int64_t get_i64(napi_env env, napi_value v);
int arrays_ints(napi_env env, napi_callback_info info, const char *usage, size_t count, size_t nints, float **a, size_t *lens, int64_t *ints);
int f32_args(napi_env env, napi_callback_info info, const char *usage, size_t count, size_t equal, float **arrays, size_t *len);
float float_from_bits(int64_t bits);

NESTAR_CLONES void gelu_fwd_f32(const float *restrict x, float *restrict y, size_t n);
NESTAR_CLONES void silu_fwd_f32(const float *restrict x, float *restrict y, size_t n);
NESTAR_CLONES void gated_add_f32(const float *restrict h, const float *restrict g, const float *restrict a, float *restrict y, size_t n);

// native/norm.c
void row_stats(const float *restrict xr, int64_t C, float eps, float *mean, float *rstd);
// native/attention.c
int attention_fwd(const float *q, const float *k, const float *v, const float *mask, float *out, float *P,
                   int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t dh, float scale, int64_t ld);
// native/gemm.c: C[m×n] = op(A)·op(B) (row-major, beta 0) over the thread pool, OpenBLAS single-threaded per part.
void pool_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);
// The same plus a bias row added to every row of C (C = op(A)·op(B) + bias), rounded as a separate add would round it.
void pool_sgemm_bias(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias,
                     float *c, int64_t ldc);
// native/tile.c (declared without the clones attribute: a caller in another file then calls the one ifunc symbol,
// where GCC would otherwise emit a resolver there that names the defining file's local clones)
void tile_gemm(int64_t M, int64_t N, int64_t K, const float *restrict A, int64_t ra, int64_t ca, const float *restrict B, int64_t ldb,
               float *restrict C, int64_t ldc);
void tile_transpose(int64_t r, int64_t c, const float *restrict src, int64_t lds, float *restrict dst, int64_t ldd);
// native/conv.c: one scratch buffer reused across calls (JS calls are single-threaded).
float *scratch_buffer(size_t n);

void nestar_register_elementwise(napi_env env, napi_value exports);
void nestar_register_strided(napi_env env, napi_value exports);
void nestar_register_norm(napi_env env, napi_value exports);
void nestar_register_attention(napi_env env, napi_value exports);
void nestar_register_head_step(napi_env env, napi_value exports);
void nestar_register_conv(napi_env env, napi_value exports);
void nestar_register_reduce(napi_env env, napi_value exports);
void nestar_register_gemm(napi_env env, napi_value exports);
#endif
