// bench copy of native/addon.cc with the proposed per-call savings (the bench builds it; the
// package does not): one Node-API call per argument on the fast path, one typed-array query,
// a Smi return value, getLinger packed into its return value.
// The JavaScript surface: raw, fast calls that return 0 or the OS error number.
// Policy (validation, error objects, Node socket resolution) lives in TypeScript;
// the checks here only keep a bad call from reaching the OS with garbage.
#include <napi.h>

#include <cmath>

#include "../../native/socket_ops.h"

namespace {

using net_linger::SocketHandle;

constexpr double kMaxSafeInteger = 9007199254740991.0;

Napi::Value Fail(const Napi::Env& env, const char* code, const char* message, bool range) {
  Napi::Error error = range ? static_cast<Napi::Error>(Napi::RangeError::New(env, message))
                            : static_cast<Napi::Error>(Napi::TypeError::New(env, message));
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// A handle is a non-negative safe integer (a SOCKET can exceed 32 bits) or a BigInt.
bool ReadHandle(const Napi::CallbackInfo& info, size_t index, SocketHandle* out) {
  Napi::Value value = info[index];
  double d;
  if (napi_get_value_double(info.Env(), value, &d) == napi_ok) {
    if (!(d >= 0 && d <= kMaxSafeInteger) || std::floor(d) != d) {
      Fail(info.Env(), "ERR_OUT_OF_RANGE", "The socket handle must be a non-negative integer", true);
      return false;
    }
    *out = static_cast<SocketHandle>(d);
    return true;
  }
  if (value.IsBigInt()) {
    bool lossless = false;
    uint64_t u = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      Fail(info.Env(), "ERR_OUT_OF_RANGE", "The socket handle must fit in 64 bits", true);
      return false;
    }
    *out = u;
    return true;
  }
  Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "The socket handle must be a number or a bigint", false);
  return false;
}

bool ReadInt(const Napi::CallbackInfo& info, size_t index, int min, int max, int* out) {
  double d;
  if (napi_get_value_double(info.Env(), info[index], &d) != napi_ok) {
    Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected a number", false);
    return false;
  }
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    Fail(info.Env(), "ERR_OUT_OF_RANGE", "Number out of range", true);
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

// Small integers come back as Smis: no heap number per call.
Napi::Value Errno(napi_env env, int err) {
  napi_value result;
  napi_create_int32(env, err, &result);
  return Napi::Value(env, result);
}

// One query for type, length and data.
template <typename T>
T* TypedArrayData(const Napi::CallbackInfo& info, size_t index, napi_typedarray_type type, size_t min_length) {
  napi_typedarray_type actual;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(info.Env(), info[index], &actual, &length, &data, nullptr, nullptr) != napi_ok ||
      actual != type || length < min_length) {
    return nullptr;
  }
  return static_cast<T*>(data);
}

// setLinger(handle, onoff, seconds) -> errno
Napi::Value SetLinger(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  int seconds;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  if (!ReadInt(info, 2, 0, net_linger::kMaxLingerSeconds, &seconds)) return info.Env().Undefined();
  bool on = false;
  if (napi_get_value_bool(info.Env(), info[1], &on) != napi_ok) {
    return Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected a boolean", false);
  }
  return Errno(info.Env(), net_linger::set_linger(handle, on ? 1 : 0, seconds));
}

// getLinger(handle, out: Int32Array(2)) -> errno; out = [onoff, seconds]
Napi::Value GetLinger(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  int32_t* out = TypedArrayData<int32_t>(info, 1, napi_int32_array, 2);
  if (out == nullptr) return Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected an Int32Array of length 2", false);
  net_linger::Linger linger = {0, 0};
  int err = net_linger::get_linger(handle, &linger);
  if (err == 0) {
    out[0] = linger.onoff;
    out[1] = linger.seconds;
  }
  return Errno(info.Env(), err);
}

// getLingerPacked(handle) -> seconds * 2 + onoff, or -errno
Napi::Value GetLingerPacked(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  net_linger::Linger linger = {0, 0};
  int err = net_linger::get_linger(handle, &linger);
  return Napi::Number::New(info.Env(), err != 0 ? -static_cast<double>(err)
                                                : static_cast<double>(linger.seconds) * 2 + linger.onoff);
}

// shutdown(handle, how) -> errno
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  int how;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  if (!ReadInt(info, 1, 0, 2, &how)) return info.Env().Undefined();
  return Errno(info.Env(), net_linger::shutdown_socket(handle, how));
}

// pendingBytes(handle, out: Float64Array(3)) -> errno; out = [unread, unsent (<0: unknown), failed step]
Napi::Value PendingBytes(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  double* out = TypedArrayData<double>(info, 1, napi_float64_array, 3);
  if (out == nullptr) return Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected a Float64Array of length 3", false);
  net_linger::Pending pending = {0, -1};
  int step = 0;
  int err = net_linger::pending_bytes(handle, &pending, &step);
  out[0] = pending.unread;
  out[1] = pending.unsent;
  out[2] = step;
  return Errno(info.Env(), err);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setLinger", Napi::Function::New(env, SetLinger, "setLinger"));
  exports.Set("getLinger", Napi::Function::New(env, GetLinger, "getLinger"));
  exports.Set("getLingerPacked", Napi::Function::New(env, GetLingerPacked, "getLingerPacked"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("pendingBytes", Napi::Function::New(env, PendingBytes, "pendingBytes"));
  exports.Set("maxLingerSeconds", Napi::Number::New(env, net_linger::kMaxLingerSeconds));
  Napi::Object syscalls = Napi::Object::New(env);
  syscalls.Set("setLinger", net_linger::kSyscallNames.set_linger);
  syscalls.Set("getLinger", net_linger::kSyscallNames.get_linger);
  syscalls.Set("shutdown", net_linger::kSyscallNames.shutdown);
  syscalls.Set("pendingUnread", net_linger::kSyscallNames.pending_unread);
  syscalls.Set("pendingUnsent", net_linger::kSyscallNames.pending_unsent);
  exports.Set("syscalls", syscalls);
  return exports;
}

}  // namespace

NODE_API_MODULE(net_linger, Init)
