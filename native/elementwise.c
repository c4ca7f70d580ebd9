// Element-wise kernels of the native pack and their N-API entries: tanh, GELU, SiLU, the gated residual add, AdamW, EMA,
// the gradient norm's sums of squares and classifier-free guidance. Split over the thread pool in contiguous parts.
#include <node_api.h>
#include <stdint.h>
#include <math.h>
#include "parallel.h"
#include "kernels.h"

// tanh(x) elementwise. WASM's Tanh is a scalar libm loop (~20 ns/element) and dominates GELU in a
// transformer. This is the odd rational minimax approximation x*P(x^2)/Q(x^2) on [-7.9, 7.9] that Eigen
// uses for float (max error a few ulp, see test/engine.test.ts); only mul/add/div/min/max, so the
// compiler vectorises it, and on x86-64 we build AVX-512/AVX2/SSE clones chosen at load time.
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
NESTAR_CLONES void gelu_fwd_f32(const float *restrict x, float *restrict y, size_t n) {
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

// Gated residual out = h + g·a (AdaLN-Zero's gate: one pass instead of a multiply and an add, rounded as those two
// round it) and its gradient: dg = dy·a, da = dy·g (dh = dy needs no kernel).
NESTAR_CLONES void gated_add_f32(const float *restrict h, const float *restrict g, const float *restrict a, float *restrict y, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) y[i] = h[i] + g[i] * a[i];
}

NESTAR_CLONES static void gated_add_bwd_f32(const float *restrict dy, const float *restrict g, const float *restrict a, float *restrict dg, float *restrict da, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) { dg[i] = dy[i] * a[i]; da[i] = dy[i] * g[i]; }
}

// SiLU y = x·σ(x) and its derivative σ(x)·(1 + x·(1 − σ(x))).
NESTAR_CLONES void silu_fwd_f32(const float *restrict x, float *restrict y, size_t n) {
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

void nestar_register_elementwise(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tanh", NULL, Tanh, NULL, NULL, NULL, napi_default, NULL},
      {"geluFwd", NULL, GeluFwd, NULL, NULL, NULL, napi_default, NULL},
      {"geluBwd", NULL, GeluBwd, NULL, NULL, NULL, napi_default, NULL},
      {"adamw", NULL, Adamw, NULL, NULL, NULL, napi_default, NULL},
      {"sumSquares", NULL, SumSquares, NULL, NULL, NULL, napi_default, NULL},
      {"ema", NULL, Ema, NULL, NULL, NULL, napi_default, NULL},
      {"gatedAdd", NULL, GatedAdd, NULL, NULL, NULL, napi_default, NULL},
      {"gatedAddGrad", NULL, GatedAddGrad, NULL, NULL, NULL, napi_default, NULL},
      {"siluFwd", NULL, SiluFwd, NULL, NULL, NULL, napi_default, NULL},
      {"siluBwd", NULL, SiluBwd, NULL, NULL, NULL, napi_default, NULL},
      {"guidance", NULL, Guidance, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
