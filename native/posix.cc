// Linux and macOS.
#include "socket_ops.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

namespace net_linger {

namespace {

// A handle that does not fit an int cannot be an open descriptor.
bool to_fd(SocketHandle s, int* fd) {
  if (s > static_cast<SocketHandle>(INT_MAX)) return false;
  *fd = static_cast<int>(s);
  return true;
}

#if defined(__APPLE__)
// Plain SO_LINGER on Darwin counts clock ticks; SO_LINGER_SEC counts seconds.
constexpr int kLingerOption = SO_LINGER_SEC;
#else
constexpr int kLingerOption = SO_LINGER;
#endif

}  // namespace

#if defined(__APPLE__)
const SyscallNames kSyscallNames = {"setsockopt", "getsockopt", "shutdown", "ioctl", "getsockopt"};
// The kernel keeps the time as a short multiplied by hz (100): 32767 / 100.
const int kMaxLingerSeconds = 327;
#else
const SyscallNames kSyscallNames = {"setsockopt", "getsockopt", "shutdown", "ioctl", "ioctl"};
// Linux stores l_linger as an int; a negative value would mean "forever".
const int kMaxLingerSeconds = INT_MAX;
#endif

// Linux: close() then blocks the calling thread for up to `seconds`, even on an
// O_NONBLOCK socket; {1,0} makes close() send RST and discard unsent data.
// macOS: a non-blocking lingering close does not wait.
int set_linger(SocketHandle s, int onoff, int seconds) {
  int fd;
  if (!to_fd(s, &fd)) return EBADF;
  struct linger value;
  value.l_onoff = onoff ? 1 : 0;
  value.l_linger = seconds;
  return setsockopt(fd, SOL_SOCKET, kLingerOption, &value, sizeof value) == 0 ? 0 : errno;
}

int get_linger(SocketHandle s, Linger* out) {
  int fd;
  if (!to_fd(s, &fd)) return EBADF;
  struct linger value = {0, 0};
  socklen_t size = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, kLingerOption, &value, &size) != 0) return errno;
  out->onoff = value.l_onoff ? 1 : 0;
  out->seconds = value.l_linger;
  return 0;
}

// SHUT_WR sends FIN once queued data is out; SHUT_RD on Linux sends nothing: queued
// bytes are still returned, then reads return 0, and later data is still accepted.
int shutdown_socket(SocketHandle s, int how) {
  int fd;
  if (!to_fd(s, &fd)) return EBADF;
  return ::shutdown(fd, how) == 0 ? 0 : errno;
}

// unread: FIONREAD. unsent: Linux SIOCOUTQ (sent or not, not yet acknowledged);
// macOS SO_NWRITE (bytes still in the send buffer).
int pending_bytes(SocketHandle s, Pending* out, int* failed_step) {
  int fd;
  *failed_step = kPendingUnread;
  if (!to_fd(s, &fd)) return EBADF;
  int unread = 0;
  if (ioctl(fd, FIONREAD, &unread) != 0) return errno;
  *failed_step = kPendingUnsent;
  int unsent = 0;
#if defined(__linux__)
  if (ioctl(fd, SIOCOUTQ, &unsent) != 0) return errno;
#elif defined(__APPLE__)
  socklen_t size = sizeof unsent;
  if (getsockopt(fd, SOL_SOCKET, SO_NWRITE, &unsent, &size) != 0) return errno;
#else
  unsent = -1;
#endif
  out->unread = unread;
  out->unsent = unsent;
  return 0;
}

// Node exposes a socket's descriptor on POSIX (`_handle.fd`), so there is nothing to look up.
int find_socket(void*, const SocketQuery&, SocketHandle*, int* matches) {
  *matches = 0;
  return kFindUnsupported;
}

// A second reference with RTLD_NODELETE: dlclose() of Node's own reference then never unmaps us.
void keep_loaded() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&keep_loaded), &info) != 0 && info.dli_fname != nullptr) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
  }
}

}  // namespace net_linger
