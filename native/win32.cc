// Windows (Winsock 2). Node's libuv has already called WSAStartup.
#include "socket_ops.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>

namespace net_linger {

const SyscallNames kSyscallNames = {"setsockopt", "getsockopt", "shutdown", "ioctlsocket", "WSAIoctl"};
// LINGER's fields are u_short.
const int kMaxLingerSeconds = 65535;

namespace {
SOCKET to_socket(SocketHandle s) { return static_cast<SOCKET>(s); }
int last_error() { return WSAGetLastError(); }
}  // namespace

// {1,0}: closesocket() resets the connection. {1,N>0} on a non-blocking socket (every
// libuv socket) makes closesocket() fail WSAEWOULDBLOCK, which libuv ignores.
int set_linger(SocketHandle s, int onoff, int seconds) {
  if (seconds < 0 || seconds > kMaxLingerSeconds) return WSAEINVAL;  // never wrap a u_short
  LINGER value;
  value.l_onoff = static_cast<u_short>(onoff ? 1 : 0);
  value.l_linger = static_cast<u_short>(seconds);
  int rc = setsockopt(to_socket(s), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&value),
                      static_cast<int>(sizeof value));
  return rc == 0 ? 0 : last_error();
}

int get_linger(SocketHandle s, Linger* out) {
  LINGER value = {0, 0};
  int size = static_cast<int>(sizeof value);
  if (getsockopt(to_socket(s), SOL_SOCKET, SO_LINGER, reinterpret_cast<char*>(&value), &size) != 0) {
    return last_error();
  }
  out->onoff = value.l_onoff ? 1 : 0;
  out->seconds = value.l_linger;
  return 0;
}

// SD_SEND sends FIN; SD_RECEIVE with data queued or arriving later resets the connection.
int shutdown_socket(SocketHandle s, int how) {
  return ::shutdown(to_socket(s), how) == 0 ? 0 : last_error();
}

// unread: FIONREAD. unsent: SIO_TCP_INFO's BytesInFlight where the system has it;
// negative (unknown) where it does not.
int pending_bytes(SocketHandle s, Pending* out, int* failed_step) {
  *failed_step = kPendingUnread;
  u_long unread = 0;
  if (ioctlsocket(to_socket(s), FIONREAD, &unread) != 0) return last_error();
  out->unread = static_cast<double>(unread);
  out->unsent = -1;
#if defined(SIO_TCP_INFO)
  *failed_step = kPendingUnsent;
  DWORD version = 0;
  TCP_INFO_v0 info;
  DWORD returned = 0;
  if (WSAIoctl(to_socket(s), SIO_TCP_INFO, &version, sizeof version, &info, sizeof info, &returned,
               nullptr, nullptr) == 0) {
    out->unsent = static_cast<double>(info.BytesInFlight);
  } else {
    int err = last_error();
    if (err != WSAEOPNOTSUPP && err != WSAEINVAL) return err;
  }
#endif
  return 0;
}

}  // namespace net_linger
