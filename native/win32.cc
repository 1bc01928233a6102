// Windows (Winsock 2): the socket calls. Node's libuv has already called WSAStartup. Finding
// the SOCKET behind a Node handle is in win32_lookup.cc.
#include "socket_ops.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
#include <windows.h>


namespace net_linger {

const SyscallNames kSyscallNames = {"setsockopt", "getsockopt", "shutdown", "ioctlsocket", "WSAIoctl"};
// LINGER's fields are u_short.
const int kMaxLingerSeconds = 65535;

namespace {

// SOCKET is pointer-sized (UINT_PTR): on x64 every 64-bit handle converts without loss.
static_assert(sizeof(SOCKET) <= sizeof(SocketHandle), "SOCKET must fit a SocketHandle");
SOCKET to_socket(SocketHandle s) { return static_cast<SOCKET>(s); }
int last_error() { return WSAGetLastError(); }

}  // namespace

// {1,0}: closesocket() resets the connection and discards unsent data. {1,N>0} on a
// non-blocking socket (every libuv socket) makes closesocket() fail WSAEWOULDBLOCK, which
// libuv ignores. LINGER holds u_short fields: the caller checked 0..65535, and so do we.
int set_linger(SocketHandle s, int onoff, int seconds) {
  if (seconds < 0 || seconds > kMaxLingerSeconds) return WSAEINVAL;
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

// SD_SEND sends FIN after queued data; the socket still receives. SD_RECEIVE with data
// queued or arriving later resets the connection (Microsoft's shutdown() documentation).
int shutdown_socket(SocketHandle s, int how) {
  return ::shutdown(to_socket(s), how) == 0 ? 0 : last_error();
}

// unread: ioctlsocket(FIONREAD). unsent: SIO_TCP_INFO's BytesInFlight (sent, not yet
// acknowledged) where the system supports it (Windows 10 1703+); negative (unknown) elsewhere.
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
    // Not a TCP socket, or a system without TCP_INFO: the count is unknown, not an error.
    if (err != WSAEOPNOTSUPP && err != WSAEINVAL && err != WSAENOPROTOOPT) return err;
  }
#endif
  return 0;
}

// Pins the DLL: FreeLibrary() of Node's own reference then never unloads it.
void keep_loaded() {
  HMODULE self = nullptr;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                     reinterpret_cast<LPCWSTR>(reinterpret_cast<void*>(&keep_loaded)), &self);
}

}  // namespace net_linger
