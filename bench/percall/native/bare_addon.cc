// The floor for a Node-API binding of the package's calls, built only by the bench: each function
// reads its arguments with one Node-API call apiece, checks nothing, makes the syscalls directly
// (no native/posix.cc in between) and returns the errno as a small integer. Nothing a package
// could ship: garbage arguments reach the OS. The *Packed variants change the interface instead
// (one argument fewer, or no out-array) to show what a different JavaScript surface would save.
#include <node_api.h>

#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace {

napi_value Int(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

template <size_t N>
void Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
}

napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

// setLinger(fd, onoff, seconds) -> errno
napi_value SetLinger(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Args(env, info, argv);
  int32_t fd = -1;
  bool on = false;
  int32_t seconds = 0;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_bool(env, argv[1], &on);
  napi_get_value_int32(env, argv[2], &seconds);
  struct linger value = {on ? 1 : 0, seconds};
  return Int(env, setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof value) == 0 ? 0 : errno);
}

// setLingerPacked(fd, seconds or -1 for off) -> errno
napi_value SetLingerPacked(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  int32_t fd = -1;
  int32_t seconds = 0;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_int32(env, argv[1], &seconds);
  struct linger value = {seconds >= 0 ? 1 : 0, seconds >= 0 ? seconds : 0};
  return Int(env, setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof value) == 0 ? 0 : errno);
}

// getLinger(fd, out: Int32Array(2)) -> errno
napi_value GetLinger(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  void* data = nullptr;
  napi_get_typedarray_info(env, argv[1], nullptr, nullptr, &data, nullptr, nullptr);
  struct linger value = {0, 0};
  socklen_t size = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &size) != 0) return Int(env, errno);
  static_cast<int32_t*>(data)[0] = value.l_onoff;
  static_cast<int32_t*>(data)[1] = value.l_linger;
  return Int(env, 0);
}

// getLingerPacked(fd) -> seconds * 2 + onoff, or -errno: no out-array.
napi_value GetLingerPacked(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Args(env, info, argv);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  struct linger value = {0, 0};
  socklen_t size = sizeof value;
  napi_value result;
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &size) != 0) {
    napi_create_double(env, -static_cast<double>(errno), &result);
  } else {
    napi_create_double(env, static_cast<double>(value.l_linger) * 2 + (value.l_onoff ? 1 : 0), &result);
  }
  return result;
}

// pendingBytes(fd, out: Float64Array(3)) -> errno
napi_value PendingBytes(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Args(env, info, argv);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  void* data = nullptr;
  napi_get_typedarray_info(env, argv[1], nullptr, nullptr, &data, nullptr, nullptr);
  int unread = 0;
  int unsent = 0;
  if (ioctl(fd, FIONREAD, &unread) != 0 || ioctl(fd, SIOCOUTQ, &unsent) != 0) return Int(env, errno);
  static_cast<double*>(data)[0] = unread;
  static_cast<double*>(data)[1] = unsent;
  return Int(env, 0);
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
