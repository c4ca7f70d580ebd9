// Convolution-gradient kernels of the native pack (im2col / col2im around one sgemm), and the pack's shared scratch
// buffer.
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "kernels.h"
#include <stdio.h>

// One scratch buffer reused across calls: a fresh 50 MB malloc each step costs more in page faults (on
// VMs especially) than the convolution itself. JS calls are single-threaded, so one buffer is enough.
static float *scratch = NULL;
static size_t scratch_len = 0;
float *scratch_buffer(size_t n) {
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
  pool_sgemm(1, 0, cols, O, rows, patches, cols, dy, O, dw, O);
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
  pool_sgemm(0, 1, rows, cols, O, dy, O, w, O, c, cols);
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

void nestar_register_conv(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"conv2dFilterGrad", NULL, Conv2dFilterGrad, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dInputGrad", NULL, Conv2dInputGrad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
