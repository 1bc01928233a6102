// An experimental copy of the addon's call path written against plain node_api.h, built only by
// the bench, to see what node-addon-api costs per call and which parts of it are avoidable.
// It links the package's own native/posix.cc, so the syscalls are byte-for-byte the same.
#include <node_api.h>

#include <cmath>

#include "../../native/socket_ops.h"

namespace {

using net_linger::SocketHandle;

constexpr double kMaxSafeInteger = 9007199254740991.0;

napi_value Number(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

napi_value Int(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

// Only the fast path is interesting here: a non-negative integral number. Anything else throws
// a plain TypeError (the bench never sends it).
bool ReadHandle(napi_env env, napi_value value, SocketHandle* out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= kMaxSafeInteger) || std::floor(d) != d) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "bad handle");
    return false;
  }
  *out = static_cast<SocketHandle>(d);
  return true;
}

napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

// setLinger(handle, onoff, seconds) -> errno
napi_value SetLinger(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  SocketHandle handle;
  if (argc < 3 || !ReadHandle(env, argv[0], &handle)) return nullptr;
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  double seconds;
  if (napi_get_value_double(env, argv[2], &seconds) != napi_ok || !(seconds >= 0 && seconds <= 2147483647.0) ||
      std::floor(seconds) != seconds) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "bad seconds");
    return nullptr;
  }
  return Int(env, net_linger::set_linger(handle, on ? 1 : 0, static_cast<int>(seconds)));
}

// setLingerPacked(handle, seconds or -1 for off) -> errno: one argument fewer to convert.
napi_value SetLingerPacked(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  SocketHandle handle;
  if (argc < 2 || !ReadHandle(env, argv[0], &handle)) return nullptr;
  double value;
  if (napi_get_value_double(env, argv[1], &value) != napi_ok || !(value >= -1 && value <= 2147483647.0) ||
      std::floor(value) != value) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "bad seconds");
    return nullptr;
  }
  return Int(env, value < 0 ? net_linger::set_linger(handle, 0, 0) : net_linger::set_linger(handle, 1, static_cast<int>(value)));
}

// getLinger(handle, out: Int32Array(2)) -> errno, with one napi_get_typedarray_info call.
napi_value GetLinger(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  SocketHandle handle;
  if (argc < 2 || !ReadHandle(env, argv[0], &handle)) return nullptr;
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || length < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "Expected an Int32Array of length 2");
    return nullptr;
  }
  net_linger::Linger linger = {0, 0};
  int err = net_linger::get_linger(handle, &linger);
  if (err == 0) {
    static_cast<int32_t*>(data)[0] = linger.onoff;
    static_cast<int32_t*>(data)[1] = linger.seconds;
  }
  return Int(env, err);
}

// getLingerPacked(handle) -> seconds * 2 + onoff, or -errno: no out-array at all.
napi_value GetLingerPacked(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  SocketHandle handle;
  if (argc < 1 || !ReadHandle(env, argv[0], &handle)) return nullptr;
  net_linger::Linger linger = {0, 0};
  int err = net_linger::get_linger(handle, &linger);
  return Number(env, err != 0 ? -static_cast<double>(err) : static_cast<double>(linger.seconds) * 2 + linger.onoff);
}

// pendingBytes(handle, out: Float64Array(3)) -> errno
napi_value PendingBytes(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  SocketHandle handle;
  if (argc < 2 || !ReadHandle(env, argv[0], &handle)) return nullptr;
  napi_typedarray_type type;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float64_array || length < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "Expected a Float64Array of length 3");
    return nullptr;
  }
  net_linger::Pending pending = {0, -1};
  int step = 0;
  int err = net_linger::pending_bytes(handle, &pending, &step);
  double* out = static_cast<double*>(data);
  out[0] = pending.unread;
  out[1] = pending.unsent;
  out[2] = step;
  return Int(env, err);
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"noop", nullptr, Noop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setLinger", nullptr, SetLinger, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setLingerPacked", nullptr, SetLingerPacked, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getLinger", nullptr, GetLinger, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"getLingerPacked", nullptr, GetLingerPacked, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pendingBytes", nullptr, PendingBytes, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
