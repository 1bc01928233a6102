// The JavaScript surface: raw, fast calls that return 0 or the OS error number.
// Policy (validation, error objects, Node socket resolution) lives in TypeScript;
// the checks here only keep a bad call from reaching the OS with garbage.
#include <napi.h>

#include <cmath>
#include <string>

#include "socket_ops.h"

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
  if (value.IsNumber()) {
    double d = value.As<Napi::Number>().DoubleValue();
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
  Napi::Value value = info[index];
  if (!value.IsNumber()) {
    Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected a number", false);
    return false;
  }
  double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    Fail(info.Env(), "ERR_OUT_OF_RANGE", "Number out of range", true);
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

// setLinger(handle, onoff, seconds) -> errno
Napi::Value SetLinger(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  int seconds;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  if (!ReadInt(info, 2, 0, net_linger::kMaxLingerSeconds, &seconds)) return info.Env().Undefined();
  int onoff = info[1].ToBoolean().Value() ? 1 : 0;
  return Napi::Number::New(info.Env(), net_linger::set_linger(handle, onoff, seconds));
}

// getLinger(handle, out: Int32Array(2)) -> errno; out = [onoff, seconds]
Napi::Value GetLinger(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[1].As<Napi::TypedArray>().ElementLength() < 2) {
    return Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected an Int32Array of length 2", false);
  }
  net_linger::Linger linger = {0, 0};
  int err = net_linger::get_linger(handle, &linger);
  if (err == 0) {
    Napi::Int32Array out = info[1].As<Napi::Int32Array>();
    out[0] = linger.onoff;
    out[1] = linger.seconds;
  }
  return Napi::Number::New(info.Env(), err);
}

// shutdown(handle, how) -> errno
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  int how;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  if (!ReadInt(info, 1, 0, 2, &how)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), net_linger::shutdown_socket(handle, how));
}

// pendingBytes(handle, out: Float64Array(3)) -> errno; out = [unread, unsent (<0: unknown), failed step]
Napi::Value PendingBytes(const Napi::CallbackInfo& info) {
  SocketHandle handle;
  if (!ReadHandle(info, 0, &handle)) return info.Env().Undefined();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::TypedArray>().ElementLength() < 3) {
    return Fail(info.Env(), "ERR_INVALID_ARG_TYPE", "Expected a Float64Array of length 3", false);
  }
  net_linger::Pending pending = {0, -1};
  int step = 0;
  int err = net_linger::pending_bytes(handle, &pending, &step);
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  out[0] = pending.unread;
  out[1] = pending.unsent;
  out[2] = step;
  return Napi::Number::New(info.Env(), err);
}

// findSocket(datagram, localAddress, localPort, remoteAddress | null, remotePort,
//            out: BigUint64Array(2)) -> status (FindStatus); out = [handle, matches]
// Used where Node does not expose a socket's handle (Windows): the handle is valid only until
// the event loop runs again, so callers use it in the same synchronous call and never keep it.
Napi::Value FindSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int local_port;
  int remote_port;
  if (!info[1].IsString()) return Fail(env, "ERR_INVALID_ARG_TYPE", "The local address must be a string", false);
  if (!info[3].IsString() && !info[3].IsNull()) {
    return Fail(env, "ERR_INVALID_ARG_TYPE", "The remote address must be a string or null", false);
  }
  if (!ReadInt(info, 2, 0, 65535, &local_port)) return env.Undefined();
  if (!ReadInt(info, 4, 0, 65535, &remote_port)) return env.Undefined();
  if (!info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
      info[5].As<Napi::TypedArray>().ElementLength() < 2) {
    return Fail(env, "ERR_INVALID_ARG_TYPE", "Expected a BigUint64Array of length 2", false);
  }
  std::string local = info[1].As<Napi::String>().Utf8Value();
  std::string remote = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
  net_linger::SocketQuery query;
  query.datagram = info[0].ToBoolean().Value() ? 1 : 0;
  query.local_address = local.c_str();
  query.local_port = local_port;
  query.remote_address = info[3].IsString() ? remote.c_str() : nullptr;
  query.remote_port = remote_port;
  uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) loop = nullptr;
  SocketHandle handle = 0;
  int matches = 0;
  int status = net_linger::find_socket(loop, query, &handle, &matches);
  Napi::BigUint64Array out = info[5].As<Napi::BigUint64Array>();
  out[0] = handle;
  out[1] = static_cast<uint64_t>(matches);
  return Napi::Number::New(env, status);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setLinger", Napi::Function::New(env, SetLinger, "setLinger"));
  exports.Set("getLinger", Napi::Function::New(env, GetLinger, "getLinger"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("pendingBytes", Napi::Function::New(env, PendingBytes, "pendingBytes"));
  exports.Set("findSocket", Napi::Function::New(env, FindSocket, "findSocket"));
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
