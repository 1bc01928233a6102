// Reading JavaScript arguments and making errors, shared by the addon's entry points (addon.cc,
// capture.cc). Plain node_api.h: no exceptions, nothing that can abort.
#pragma once

#include <node_api.h>

#include <cstddef>

namespace net_linger {
namespace js {

// Throws a TypeError or RangeError carrying a Node-style `code`; returns nullptr to return on.
inline napi_value Throw(napi_env env, const char* code, const char* message, bool range) {
  napi_value code_value;
  napi_value message_value;
  napi_value error;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  if (range) {
    napi_create_range_error(env, code_value, message_value, &error);
  } else {
    napi_create_type_error(env, code_value, message_value, &error);
  }
  napi_throw(env, error);
  return nullptr;
}

inline bool ReadInt(napi_env env, napi_value value, int min, int max, int* out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) {
    Throw(env, "ERR_INVALID_ARG_TYPE", "Expected a number", false);
    return false;
  }
  if (!(d >= min && d <= max) || static_cast<double>(static_cast<int>(d)) != d) {
    Throw(env, "ERR_OUT_OF_RANGE", "Number out of range", true);
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

// The data of a typed array of this type and at least this length, or nullptr.
template <typename T>
inline T* TypedArrayData(napi_env env, napi_value value, napi_typedarray_type type, size_t min_length) {
  napi_typedarray_type actual;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(env, value, &actual, &length, &data, nullptr, nullptr) != napi_ok ||
      actual != type || length < min_length) {
    return nullptr;
  }
  return static_cast<T*>(data);
}

// Small integers come back as Smis: no heap number per call.
inline napi_value Errno(napi_env env, int err) {
  napi_value result;
  napi_create_int32(env, err, &result);
  return result;
}

// Missing arguments read as undefined.
template <size_t N>
inline void Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
}

inline void Define(napi_env env, napi_value exports, const char* name, napi_callback callback) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

}  // namespace js
}  // namespace net_linger
