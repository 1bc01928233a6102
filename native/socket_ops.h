// The portable contract: one function per socket operation, implemented once per OS
// (posix.cc for Linux and macOS, win32.cc for Winsock) under the same names.
// Every function returns 0 on success or the OS's own error number (errno or
// WSAGetLastError()); none of them throws, allocates or aborts.
#ifndef NET_LINGER_SOCKET_OPS_H_
#define NET_LINGER_SOCKET_OPS_H_

#include <cstdint>

namespace net_linger {

// A POSIX file descriptor or a Winsock SOCKET (pointer-sized), wide enough for both.
using SocketHandle = std::uint64_t;

struct Linger {
  int onoff;
  int seconds;
};

struct Pending {
  double unread;  // bytes received and not yet read by the application
  double unsent;  // bytes not yet acknowledged by the peer; negative when the OS cannot say
};

// Which step of pending_bytes failed, so the error can name its syscall.
enum PendingStep { kPendingUnread = 0, kPendingUnsent = 1 };

// Syscall names as the errors should report them, for this OS.
struct SyscallNames {
  const char* set_linger;
  const char* get_linger;
  const char* shutdown;
  const char* pending_unread;
  const char* pending_unsent;
};

extern const SyscallNames kSyscallNames;

// The largest linger time the kernel stores without wrapping, in seconds.
extern const int kMaxLingerSeconds;

// SO_LINGER {onoff, seconds}. The caller has checked 0 <= seconds <= kMaxLingerSeconds.
int set_linger(SocketHandle s, int onoff, int seconds);

// Reads SO_LINGER back, normalised: onoff is 0 or 1, seconds in whole seconds.
int get_linger(SocketHandle s, Linger* out);

// shutdown(2) / Winsock shutdown; how is 0, 1 or 2 (SHUT_RD/WR/RDWR == SD_RECEIVE/SEND/BOTH).
int shutdown_socket(SocketHandle s, int how);

// Unread and unacknowledged byte counts. On failure *failed_step says which query failed.
int pending_bytes(SocketHandle s, Pending* out, int* failed_step);

// Which Node handle to look for when Node does not expose the OS handle (Windows).
struct SocketQuery {
  int datagram;                // 0: TCP (SOCK_STREAM), 1: UDP (SOCK_DGRAM)
  const char* local_address;   // numeric IPv4 or IPv6, as Node reports it
  int local_port;
  const char* remote_address;  // nullptr: match whatever the peer is (or none)
  int remote_port;
};

enum FindStatus {
  kFindFound = 0,
  kFindNoMatch = 1,
  kFindSeveral = 2,
  kFindNoLibuv = 3,       // the host process does not export the libuv functions needed
  kFindUnsupported = 4,   // this OS needs no lookup: Node exposes the descriptor
  kFindBadAddress = 5,
};

// Finds the one socket on this thread's libuv loop (`uv_loop`, from napi_get_uv_event_loop) whose
// type, local and remote address match the query. *matches receives the number of matching
// sockets. A connected TCP query may be answered from the previous walk's pairs, after checking
// that the SOCKET has the queried pair now; every other answer comes from a fresh walk.
int find_socket(void* uv_loop, const SocketQuery& query, SocketHandle* out, int* matches);

// Keeps this library loaded until the process exits, so its process-wide state (the once-per-process
// flags) survives a worker thread that loaded it first and exited: Node unloads an addon when the
// last environment that loaded it goes away, and a reload would start with fresh statics.
void keep_loaded();

}  // namespace net_linger

#endif  // NET_LINGER_SOCKET_OPS_H_
