// Strided element-wise kernels for the JS-buffer backend (src/engine/jsBufferKernels.ts), where tfjs's own
// broadcasting binary ops, Slice, SplitV and PadV2 are scalar JS loops several times slower than WASM's SIMD.
// The caller merges dimensions so the innermost loop is long, and passes shape and strides in one Float64Array
// (sizes past 2^31 elements are the point of that backend). Float32 arithmetic as tfjs's kernels round it.
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "parallel.h"

#define MAX_RANK 8

// A typed array argument of the given element type: its data and length, or 0.
static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **p, size_t *n) {
  napi_typedarray_type t;
  napi_value buf;
  size_t off;
  return napi_get_typedarray_info(env, v, &t, n, p, &buf, &off) == napi_ok && t == want;
}
#define f32(env, v, p, n) typed(env, v, napi_float32_array, (void **)(p), n)
#define f64(env, v, p, n) typed(env, v, napi_float64_array, (void **)(p), n)

// Walks the outer dimensions (all but the last) of a rank-r box with k operands' strides, calling the inner
// loop with each operand's offset. Reads r, dims, then k stride lists from meta.
typedef struct { int64_t r, dims[MAX_RANK], s[3][MAX_RANK], base[3]; } Walk;

static int read_walk(const double *m, size_t len, int k, int with_base, Walk *w) {
  if (len < 1) return 0;
  w->r = (int64_t)m[0];
  if (w->r < 1 || w->r > MAX_RANK || len != (size_t)(1 + (with_base ? k : 0) + (k + 1) * w->r)) return 0;
  size_t i = 1;
  for (int j = 0; j < k; j++) w->base[j] = with_base ? (int64_t)m[i++] : 0;
  for (int64_t d = 0; d < w->r; d++) w->dims[d] = (int64_t)m[i++];
  for (int j = 0; j < k; j++)
    for (int64_t d = 0; d < w->r; d++) w->s[j][d] = (int64_t)m[i++];
  return 1;
}

// The largest offset operand j reaches (to check it fits its array), or -1 for an empty box.
static int64_t max_offset(const Walk *w, int j) {
  int64_t o = w->base[j];
  for (int64_t d = 0; d < w->r; d++) {
    if (w->dims[d] == 0) return -1;
    o += (w->dims[d] - 1) * w->s[j][d];
  }
  return o;
}

#define WALK(w, k, ...)                                                    \
  do {                                                                     \
    int64_t idx_[MAX_RANK] = {0}, o_[3] = {(w).base[0], (w).base[1], (w).base[2]}; \
    const int64_t r_ = (w).r - 1;                                          \
    for (;;) {                                                             \
      const int64_t oy = o_[0], oa = o_[1], ob = o_[2];                    \
      (void)oa; (void)ob;                                                  \
      __VA_ARGS__;                                                         \
      int64_t d_ = r_ - 1;                                                 \
      for (; d_ >= 0; d_--) {                                              \
        idx_[d_]++;                                                        \
        for (int j_ = 0; j_ < (k); j_++) o_[j_] += (w).s[j_][d_];          \
        if (idx_[d_] < (w).dims[d_]) break;                                \
        for (int j_ = 0; j_ < (k); j_++) o_[j_] -= (w).s[j_][d_] * (w).dims[d_]; \
        idx_[d_] = 0;                                                      \
      }                                                                    \
      if (d_ < 0) break;                                                   \
    }                                                                      \
  } while (0)

#define INNER(OP)                                                                              \
  if (sa == 1 && sb == 1) for (int64_t i = 0; i < n; i++) yp[i] = ap[i] OP bp[i];             \
  else if (sa == 1 && sb == 0) { const float bv = bp[0]; for (int64_t i = 0; i < n; i++) yp[i] = ap[i] OP bv; } \
  else if (sa == 0 && sb == 1) { const float av = ap[0]; for (int64_t i = 0; i < n; i++) yp[i] = av OP bp[i]; } \
  else for (int64_t i = 0; i < n; i++) yp[i] = ap[i * sa] OP bp[i * sb];

// The box cut along its first dimension: parts of the walk for the thread pool (results do not depend on it).
static Walk sub_walk(const Walk *w, int k, size_t lo, size_t hi) {
  Walk p = *w;
  p.dims[0] = (int64_t)(hi - lo);
  for (int j = 0; j < k; j++) p.base[j] += (int64_t)lo * w->s[j][0];
  return p;
}

// Rows of the first dimension per part so that a part has at least about 32k elements.
static size_t grain_of(const Walk *w) {
  int64_t inner = 1;
  for (int64_t d = 1; d < w->r; d++) inner *= w->dims[d];
  return inner >= 32768 ? 1 : (size_t)((32768 + inner - 1) / inner);
}

typedef struct { Walk w; int op; float *y; const float *a, *b; } BinaryJob;

static void binary_range(void *ctx, size_t lo, size_t hi) {
  const BinaryJob *j = (const BinaryJob *)ctx;
  const Walk w = sub_walk(&j->w, 3, lo, hi);
  float *y = j->y;
  const float *a = j->a, *b = j->b;
  const int op = j->op;
  const int64_t n = w.dims[w.r - 1], sa = w.s[1][w.r - 1], sb = w.s[2][w.r - 1];
  WALK(w, 3, {
    float *yp = y + oy;
    const float *ap = a + oa, *bp = b + ob;
    switch (op) {
      case 0: INNER(+) break;
      case 1: INNER(-) break;
      case 2: INNER(*) break;
      default: INNER(/)
    }
  });
}

typedef struct { Walk w; float *dst; const float *src; } CopyJob;

static void copy_range(void *ctx, size_t lo, size_t hi) {
  const CopyJob *j = (const CopyJob *)ctx;
  const Walk w = sub_walk(&j->w, 2, lo, hi);
  float *dst = j->dst;
  const float *src = j->src;
  const int64_t n = w.dims[w.r - 1], sd = w.s[0][w.r - 1], ss = w.s[1][w.r - 1];
  WALK(w, 2, {
    float *dp = dst + oy;
    const float *sp = src + oa;
    if (sd == 1 && ss == 1) memcpy(dp, sp, sizeof(float) * (size_t)n);
    else for (int64_t i = 0; i < n; i++) dp[i * sd] = sp[i * ss];
  });
}

// binary(op, y, a, b, meta): y = a op b (op 0 add, 1 sub, 2 mul, 3 div) over the box meta = [r, dims, sy, sa, sb].
static napi_value Binary(napi_env env, napi_callback_info info) {
  size_t argc = 5, ly, la, lb, lm;
  napi_value argv[5];
  float *y, *a, *b;
  double *m;
  int32_t op = -1;
  Walk w;
  const char *usage = "binary(op 0-3, y, a, b, meta [r, dims, sy, sa, sb]): Float32Arrays the box fits in, meta a Float64Array";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 || napi_get_value_int32(env, argv[0], &op) != napi_ok
      || op < 0 || op > 3 || !f32(env, argv[1], &y, &ly) || !f32(env, argv[2], &a, &la) || !f32(env, argv[3], &b, &lb)
      || !f64(env, argv[4], &m, &lm) || !read_walk(m, lm, 3, 0, &w)) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (max_offset(&w, 0) < 0) return NULL;
  if (max_offset(&w, 0) >= (int64_t)ly || max_offset(&w, 1) >= (int64_t)la || max_offset(&w, 2) >= (int64_t)lb || w.s[0][w.r - 1] != 1) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  BinaryJob j = {w, op, y, a, b};
  nestar_parallel_for((size_t)w.dims[0], grain_of(&w), binary_range, &j);
  return NULL;
}

// copy(src, dst, meta): dst[dstBase + Σ i·sDst] = src[srcBase + Σ i·sSrc] over the box meta = [r, dstBase, srcBase,
// dims, sDst, sSrc] (Slice, SplitV: strided source; PadV2: strided destination).
static napi_value Copy(napi_env env, napi_callback_info info) {
  size_t argc = 3, ls, ld, lm;
  napi_value argv[3];
  float *src, *dst;
  double *m;
  Walk w;
  const char *usage = "copy(src, dst, meta [r, dstBase, srcBase, dims, sDst, sSrc]): Float32Arrays the box fits in, meta a Float64Array";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || !f32(env, argv[0], &src, &ls)
      || !f32(env, argv[1], &dst, &ld) || !f64(env, argv[2], &m, &lm) || !read_walk(m, lm, 2, 1, &w)) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  w.base[2] = 0;
  for (int64_t d = 0; d < w.r; d++) w.s[2][d] = 0;
  if (max_offset(&w, 0) < 0) return NULL;
  if (max_offset(&w, 0) >= (int64_t)ld || max_offset(&w, 1) >= (int64_t)ls) {
    napi_throw_range_error(env, NULL, usage);
    return NULL;
  }
  CopyJob j = {w, dst, src};
  nestar_parallel_for((size_t)w.dims[0], grain_of(&w), copy_range, &j);
  return NULL;
}

void nestar_register_strided(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"binary", NULL, Binary, NULL, NULL, NULL, napi_default, NULL},
      {"copy", NULL, Copy, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
