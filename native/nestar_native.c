// nestar native kernel pack: N-API bindings over the system OpenBLAS.
// The JS side hands us Float32Array views (usually of the tfjs WASM heap), so
// no copies are made: every kernel reads and writes the caller's memory.
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// OpenBLAS extensions (declared in its cblas.h on Debian, repeated for other layouts).
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "nestar_native: N-API call failed"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

static int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value buf;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &buf, &offset) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)ptr;
  *len = length;
  return 1;
}

static int64_t get_i64(napi_env env, napi_value v) {
  int64_t x = 0;
  napi_get_value_int64(env, v, &x);
  return x;
}

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
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a + i * sa, lda, b + i * sb, ldb, 0.0f, c + i * sc, (int)n);
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  openblas_set_num_threads((int)get_i64(env, argv[0]));
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  napi_value obj, core, threads, config;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &threads));
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
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
