// The JavaScript surface: raw, fast calls that return 0 or the OS error number.
// Policy (validation, error objects, Node socket resolution) lives in TypeScript;
// the checks here only keep a bad call from reaching the OS with garbage.
// The per-call functions speak Node-API directly: node-addon-api's CallbackInfo and value
// wrappers add Node-API calls to every call (what that costs: bench/RESULTS.md, "empty call").
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "packet.h"
#include "socket_ops.h"

namespace {

using net_linger::SocketHandle;

constexpr double kMaxSafeInteger = 9007199254740991.0;

// The JavaScript <-> native contract; src/core/binding.ts ADDON_CONTRACT must match.
constexpr int kContract = 1;

// Throws a TypeError or RangeError carrying a Node-style `code`; returns nullptr to return on.
napi_value Throw(napi_env env, const char* code, const char* message, bool range) {
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

bool ReadInt(napi_env env, napi_value value, int min, int max, int* out) {
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
T* TypedArrayData(napi_env env, napi_value value, napi_typedarray_type type, size_t min_length) {
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
napi_value Errno(napi_env env, int err) {
  napi_value result;
  napi_create_int32(env, err, &result);
  return result;
}

// Missing arguments read as undefined.
template <size_t N>
void Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
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

#ifdef __linux__
// packetOpen(ifname, filter: Uint8Array (8 bytes per sock_filter), rcvbuf, netnsPath | null,
//            out: Float64Array(4)) -> -errno or 0; out = [fd, rcvbuf granted, loopback, failed step]
napi_value PacketOpen(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Args(env, info, argv);
  size_t len = 0;
  char ifname[IFNAMSIZ];
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok) {
    return Throw(env, "ERR_INVALID_ARG_TYPE", "The interface name must be a string", false);
  }
  uint8_t* program = TypedArrayData<uint8_t>(env, argv[1], napi_uint8_array, 8);
  size_t program_bytes = 0;
  if (program != nullptr) napi_get_typedarray_info(env, argv[1], nullptr, &program_bytes, nullptr, nullptr, nullptr);
  if (program == nullptr || program_bytes % sizeof(sock_filter) != 0 || program_bytes / sizeof(sock_filter) > BPF_MAXINSNS) {
    return Throw(env, "ERR_INVALID_ARG_TYPE", "The filter must be a Uint8Array of sock_filter instructions", false);
  }
  int rcvbuf;
  if (!ReadInt(env, argv[2], 0, 1 << 30, &rcvbuf)) return nullptr;
  char netns[4096];
  bool has_netns = false;
  napi_valuetype type;
  napi_typeof(env, argv[3], &type);
  if (type == napi_string) {
    if (napi_get_value_string_utf8(env, argv[3], netns, sizeof netns, &len) != napi_ok) return nullptr;
    has_netns = true;
  } else if (type != napi_null && type != napi_undefined) {
    return Throw(env, "ERR_INVALID_ARG_TYPE", "The namespace path must be a string or null", false);
  }
  double* out = TypedArrayData<double>(env, argv[4], napi_float64_array, 4);
  if (out == nullptr) return Throw(env, "ERR_INVALID_ARG_TYPE", "Expected a Float64Array of length 4", false);
  // Copied: sock_filter needs its own alignment.
  sock_filter filter[BPF_MAXINSNS];
  std::memcpy(filter, program, program_bytes);
  net_linger::packet::Opened opened;
  int err = net_linger::packet::packet_open(ifname, filter, static_cast<unsigned short>(program_bytes / sizeof(sock_filter)),
                                            rcvbuf, has_netns ? netns : nullptr, &opened);
  out[0] = opened.fd;
  out[1] = opened.rcvbuf;
  out[2] = opened.loopback;
  out[3] = opened.step;
  return Errno(env, err);
}

// packetRead(fd, data: Uint8Array(max * slot), slot, meta: Float64Array(5 * max)) -> count or -errno
napi_value PacketRead(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Args(env, info, argv);
  int fd;
  int slot;
  if (!ReadInt(env, argv[0], 0, 1 << 30, &fd)) return nullptr;
  if (!ReadInt(env, argv[2], 1, 1 << 16, &slot)) return nullptr;
  size_t data_len = 0;
  size_t meta_len = 0;
  uint8_t* data = TypedArrayData<uint8_t>(env, argv[1], napi_uint8_array, static_cast<size_t>(slot));
  double* meta = TypedArrayData<double>(env, argv[3], napi_float64_array, 5);
  if (data == nullptr || meta == nullptr) return Throw(env, "ERR_INVALID_ARG_TYPE", "Expected a Uint8Array and a Float64Array", false);
  napi_get_typedarray_info(env, argv[1], nullptr, &data_len, nullptr, nullptr, nullptr);
  napi_get_typedarray_info(env, argv[3], nullptr, &meta_len, nullptr, nullptr, nullptr);
  size_t max = data_len / static_cast<size_t>(slot);
  if (meta_len / 5 < max) max = meta_len / 5;
  return Errno(env, net_linger::packet::packet_read(fd, data, static_cast<size_t>(slot), meta, static_cast<int>(max)));
}

// packetStats(fd, out: Float64Array(2)) -> -errno or 0; out = [packets, drops] since the last call
napi_value PacketStats(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  int fd;
  if (!ReadInt(env, argv[0], 0, 1 << 30, &fd)) return nullptr;
  double* out = TypedArrayData<double>(env, argv[1], napi_float64_array, 2);
  if (out == nullptr) return Throw(env, "ERR_INVALID_ARG_TYPE", "Expected a Float64Array of length 2", false);
  return Errno(env, net_linger::packet::packet_stats(fd, &out[0], &out[1]));
}

// packetClose(fd) -> -errno or 0
napi_value PacketClose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Args(env, info, argv);
  int fd;
  if (!ReadInt(env, argv[0], 0, 1 << 30, &fd)) return nullptr;
  return Errno(env, net_linger::packet::packet_close(fd));
}
#endif  // __linux__

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

void Define(Napi::Env env, Napi::Object exports, const char* name, napi_callback callback) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
  exports.Set(name, Napi::Value(env, fn));
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
  Define(env, exports, "packetOpen", PacketOpen);
  Define(env, exports, "packetRead", PacketRead);
  Define(env, exports, "packetStats", PacketStats);
  Define(env, exports, "packetClose", PacketClose);
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
