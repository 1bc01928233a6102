// The JavaScript surface: raw, fast calls that return 0 or the OS error number.
// Policy (validation, error objects, Node socket resolution) lives in TypeScript;
// the checks here only keep a bad call from reaching the OS with garbage.
// The per-call functions speak Node-API directly: node-addon-api's CallbackInfo and value
// wrappers add Node-API calls to every call (what that costs: bench/RESULTS.md, "empty call").
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "capture.h"
#include "napi_args.h"
#include "socket_ops.h"

namespace {

using net_linger::SocketHandle;
using namespace net_linger::js;

constexpr double kMaxSafeInteger = 9007199254740991.0;

// The JavaScript <-> native contract; src/core/binding.ts ADDON_CONTRACT must match.
constexpr int kContract = 1;

// A handle is a non-negative safe integer (a SOCKET can exceed 32 bits) or a BigInt.
bool ReadHandle(napi_env env, napi_value value, SocketHandle* out) {
  double d;
  if (napi_get_value_double(env, value, &d) == napi_ok) {
    // In range first, so the cast is defined; a cast round trip tells an integer without libm's floor().
    if (!(d >= 0 && d <= kMaxSafeInteger) || static_cast<double>(static_cast<int64_t>(d)) != d) {
      Throw(env, "ERR_OUT_OF_RANGE", "The socket handle must be a non-negative integer", true);
      return false;
    }
    *out = static_cast<SocketHandle>(d);
    return true;
  }
  uint64_t u;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, value, &u, &lossless) == napi_ok) {
    if (!lossless) {
      Throw(env, "ERR_OUT_OF_RANGE", "The socket handle must fit in 64 bits", true);
      return false;
    }
    *out = u;
    return true;
  }
  Throw(env, "ERR_INVALID_ARG_TYPE", "The socket handle must be a number or a bigint", false);
  return false;
}

// setLinger(handle, onoff: boolean, seconds) -> errno
napi_value SetLinger(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Args(env, info, argv);
  SocketHandle handle;
  bool on;
  int seconds;
  if (!ReadHandle(env, argv[0], &handle)) return nullptr;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    return Throw(env, "ERR_INVALID_ARG_TYPE", "onoff must be a boolean", false);
  }
  if (!ReadInt(env, argv[2], 0, net_linger::kMaxLingerSeconds, &seconds)) return nullptr;
  return Errno(env, net_linger::set_linger(handle, on ? 1 : 0, seconds));
}

// getLinger(handle, out: Int32Array(2)) -> errno; out = [onoff, seconds]
napi_value GetLinger(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  SocketHandle handle;
  if (!ReadHandle(env, argv[0], &handle)) return nullptr;
  int32_t* out = TypedArrayData<int32_t>(env, argv[1], napi_int32_array, 2);
  if (out == nullptr) return Throw(env, "ERR_INVALID_ARG_TYPE", "Expected an Int32Array of length 2", false);
  net_linger::Linger linger = {0, 0};
  int err = net_linger::get_linger(handle, &linger);
  if (err == 0) {
    out[0] = linger.onoff;
    out[1] = linger.seconds;
  }
  return Errno(env, err);
}

// shutdown(handle, how) -> errno
napi_value Shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  SocketHandle handle;
  int how;
  if (!ReadHandle(env, argv[0], &handle)) return nullptr;
  if (!ReadInt(env, argv[1], 0, 2, &how)) return nullptr;
  return Errno(env, net_linger::shutdown_socket(handle, how));
}

// pendingBytes(handle, out: Float64Array(3)) -> errno; out = [unread, unsent (<0: unknown), failed step]
napi_value PendingBytes(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  SocketHandle handle;
  if (!ReadHandle(env, argv[0], &handle)) return nullptr;
  double* out = TypedArrayData<double>(env, argv[1], napi_float64_array, 3);
  if (out == nullptr) return Throw(env, "ERR_INVALID_ARG_TYPE", "Expected a Float64Array of length 3", false);
  net_linger::Pending pending = {0, -1};
  int step = 0;
  int err = net_linger::pending_bytes(handle, &pending, &step);
  out[0] = pending.unread;
  out[1] = pending.unsent;
  out[2] = step;
  return Errno(env, err);
}

// findSocket(datagram, localAddress, localPort, remoteAddress | null, remotePort,
//            out: BigUint64Array(2)) -> status (FindStatus); out = [handle, matches]
// Used where Node does not expose a socket's handle (Windows). The SOCKET belongs to the libuv
// handle that matched: callers keep it only as long as that handle (src/handle.ts).
Napi::Value FindSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int local_port;
  int remote_port;
  if (!info[1].IsString()) return Napi::Value(env, Throw(env, "ERR_INVALID_ARG_TYPE", "The local address must be a string", false));
  if (!info[3].IsString() && !info[3].IsNull()) {
    return Napi::Value(env, Throw(env, "ERR_INVALID_ARG_TYPE", "The remote address must be a string or null", false));
  }
  if (!ReadInt(env, info[2], 0, 65535, &local_port)) return env.Undefined();
  if (!ReadInt(env, info[4], 0, 65535, &remote_port)) return env.Undefined();
  uint64_t* out = TypedArrayData<uint64_t>(env, info[5], napi_biguint64_array, 2);
  if (out == nullptr) return Napi::Value(env, Throw(env, "ERR_INVALID_ARG_TYPE", "Expected a BigUint64Array of length 2", false));
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
  out[0] = handle;
  out[1] = static_cast<uint64_t>(matches);
  return Napi::Number::New(env, status);
}

// Process-wide one-shot flags (the "once per process" warnings). The addon is loaded once per
// process, so the module instances of every worker thread share these; a module-level flag in
// JavaScript would be once per thread.
constexpr int kOnceFlags = 4;
std::atomic<bool> g_once[kOnceFlags];

// claimOnce(index) -> true for the first call with this index in the process, false after.
napi_value ClaimOnce(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Args(env, info, argv);
  int index;
  if (!ReadInt(env, argv[0], 0, kOnceFlags - 1, &index)) return nullptr;
  napi_value result;
  napi_get_boolean(env, !g_once[index].exchange(true), &result);
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::atomic<bool> pinned{false};
  if (!pinned.exchange(true)) net_linger::keep_loaded();
  // Who we are, for the loader: it refuses any .node file that lacks this (another package's addon)
  // or carries another contract number (a stale build of another net-linger version).
  exports.Set("netLinger", Napi::Number::New(env, kContract));
  Define(env, exports, "setLinger", SetLinger);
  Define(env, exports, "getLinger", GetLinger);
  Define(env, exports, "shutdown", Shutdown);
  Define(env, exports, "pendingBytes", PendingBytes);
#ifdef __linux__
  net_linger::define_capture(env, exports);
#endif
  Define(env, exports, "claimOnce", ClaimOnce);
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
