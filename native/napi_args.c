// The N-API calling conventions every kernel file of the native pack reads its arguments with (declared in kernels.h):
// Float32Array views and integers, checked, with a TypeError naming the call's usage when they do not fit.
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "kernels.h"

int get_f32(napi_env env, napi_value v, float **data, size_t *len) {
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

int64_t get_i64(napi_env env, napi_value v) {
  int64_t x = 0;
  napi_get_value_int64(env, v, &x);
  return x;
}

// Reads `count` Float32Array arguments (their lengths into lens) then `nints` non-negative integers: the calling
// convention of the linear and attention kernels.
int arrays_ints(napi_env env, napi_callback_info info, const char *usage, size_t count, size_t nints, float **a, size_t *lens, int64_t *ints) {
  size_t argc = 16;
  napi_value argv[16];
  if (count + nints > 16 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count + nints) goto bad;
  for (size_t i = 0; i < count; i++) if (!get_f32(env, argv[i], &a[i], &lens[i])) goto bad;
  for (size_t i = 0; i < nints; i++) if (napi_get_value_int64(env, argv[count + i], &ints[i]) != napi_ok || ints[i] < 0) goto bad;
  return 1;
bad:
  napi_throw_type_error(env, NULL, usage);
  return 0;
}

// Reads `count` Float32Array arguments, the first `equal` of one common length *len (the elementwise kernels'
// calling convention), the rest (vectors of scalars) of any length.
int f32_args(napi_env env, napi_callback_info info, const char *usage, size_t count, size_t equal, float **arrays, size_t *len) {
  size_t lens[16];
  if (!arrays_ints(env, info, usage, count, 0, arrays, lens, NULL)) return 0;
  for (size_t i = 1; i < equal; i++) {
    if (lens[i] != lens[0]) {
      napi_throw_type_error(env, NULL, usage);
      return 0;
    }
  }
  *len = lens[0];
  return 1;
}

float float_from_bits(int64_t bits) {
  const uint32_t u = (uint32_t)bits;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
