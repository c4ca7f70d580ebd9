// nestar native kernel pack: the module's entry (registration of every kernel file), batched sgemm over the system
// OpenBLAS, and the thread and build settings. The JS side hands us Float32Array views (usually of the tfjs WASM
// heap), so no copies are made: every kernel reads and writes the caller's memory. Argument readers live in
// napi_args.c, element-wise kernels in elementwise.c, the rest in one file per kind (kernels.h lists them).
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <stdlib.h>
#include "parallel.h"
#include "kernels.h"

// OpenBLAS extensions (declared in its cblas.h on Debian, repeated for other layouts).
extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "nestar_native: N-API call failed"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

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
    pool_sgemm(ta, tb, m, n, k, a + i * sa, lda, b + i * sb, ldb, c + i * sc, n);
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  // The pool runs every multi-core kernel, sgemm included (native/gemm.c): OpenBLAS itself stays single-threaded.
  openblas_set_num_threads(1);
  nestar_set_pool_threads((int)get_i64(env, argv[0]));
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  napi_value obj, core, threads, config;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core));
  CHECK(napi_create_int32(env, nestar_pool_threads(), &threads)); // the pack's threads (OpenBLAS itself runs on one)
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(napi_set_named_property(env, obj, "coreType", core));
  CHECK(napi_set_named_property(env, obj, "threads", threads));
  CHECK(napi_set_named_property(env, obj, "config", config));
  return obj;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  nestar_register_elementwise(env, exports);
  nestar_register_strided(env, exports);
  nestar_register_norm(env, exports);
  nestar_register_attention(env, exports);
  nestar_register_head_step(env, exports);
  nestar_register_conv(env, exports);
  nestar_register_reduce(env, exports);
  nestar_register_gemm(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
