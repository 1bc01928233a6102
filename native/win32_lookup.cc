// Windows: finding the SOCKET behind a Node handle (socket_ops.h find_socket). Apart from the
// socket calls (win32.cc) because it is most of the Windows code and none of the socket semantics:
// it walks libuv's handles, which Node does not expose to JavaScript on Windows.
#include "socket_ops.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace net_linger {

// Node reports _handle.fd === -1 for sockets on Windows. libuv's public API still knows every
// handle of a loop: uv_walk visits them and uv_fileno gives a handle's SOCKET. node.exe exports
// these functions; they are looked up at run time so that a host without them is detected and
// reported instead of failing to load. The declarations below are libuv's stable 1.x ABI.
namespace {

struct uv_handle_opaque;
using uv_walk_cb = void (*)(uv_handle_opaque*, void*);
using uv_walk_fn = void (*)(void*, uv_walk_cb, void*);
using uv_fileno_fn = int (*)(const uv_handle_opaque*, HANDLE*);
using uv_handle_get_type_fn = int (*)(const uv_handle_opaque*);
using uv_is_closing_fn = int (*)(const uv_handle_opaque*);
constexpr int kUvTcp = 12;  // UV_TCP in uv_handle_type
constexpr int kUvUdp = 15;  // UV_UDP

struct Libuv {
  uv_walk_fn walk;
  uv_fileno_fn fileno;
  uv_handle_get_type_fn get_type;
  uv_is_closing_fn is_closing;
};

bool load_libuv(Libuv* uv) {
  HMODULE host = GetModuleHandleW(nullptr);
  if (host == nullptr) return false;
  uv->walk = reinterpret_cast<uv_walk_fn>(reinterpret_cast<void*>(GetProcAddress(host, "uv_walk")));
  uv->fileno = reinterpret_cast<uv_fileno_fn>(reinterpret_cast<void*>(GetProcAddress(host, "uv_fileno")));
  uv->get_type = reinterpret_cast<uv_handle_get_type_fn>(
      reinterpret_cast<void*>(GetProcAddress(host, "uv_handle_get_type")));
  uv->is_closing = reinterpret_cast<uv_is_closing_fn>(
      reinterpret_cast<void*>(GetProcAddress(host, "uv_is_closing")));
  return uv->walk && uv->fileno && uv->get_type && uv->is_closing;
}

struct Address {
  int family;  // AF_INET or AF_INET6; 0 when the text was not a numeric address
  unsigned char bytes[16];
  int port;
};

bool parse_address(const char* text, int port, Address* out) {
  std::memset(out, 0, sizeof *out);
  out->port = port;
  if (InetPtonA(AF_INET, text, out->bytes) == 1) {
    out->family = AF_INET;
    return true;
  }
  // Strip an IPv6 zone ("fe80::1%4"): Node reports it, inet_pton does not accept it.
  char plain[INET6_ADDRSTRLEN];
  size_t n = 0;
  while (text[n] != '\0' && text[n] != '%' && n + 1 < sizeof plain) {
    plain[n] = text[n];
    n++;
  }
  plain[n] = '\0';
  if (InetPtonA(AF_INET6, plain, out->bytes) == 1) {
    out->family = AF_INET6;
    return true;
  }
  return false;
}

bool same_address(const sockaddr_storage& sa, const Address& want) {
  if (sa.ss_family != want.family) return false;
  if (sa.ss_family == AF_INET) {
    const sockaddr_in& in = reinterpret_cast<const sockaddr_in&>(sa);
    return ntohs(in.sin_port) == want.port && std::memcmp(&in.sin_addr, want.bytes, 4) == 0;
  }
  const sockaddr_in6& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
  return ntohs(in6.sin6_port) == want.port && std::memcmp(&in6.sin6_addr, want.bytes, 16) == 0;
}

struct Search {
  const Libuv* uv;
  int uv_type;
  int sock_type;
  Address local;
  bool has_remote;
  Address remote;
  SOCKET found;
  int matches;
};

void visit(uv_handle_opaque* handle, void* arg) {
  Search* search = static_cast<Search*>(arg);
  if (search->uv->get_type(handle) != search->uv_type || search->uv->is_closing(handle)) return;
  HANDLE os_handle = INVALID_HANDLE_VALUE;
  if (search->uv->fileno(handle, &os_handle) != 0) return;  // not open yet, or closed
  SOCKET s = reinterpret_cast<SOCKET>(os_handle);
  int type = 0;
  int size = static_cast<int>(sizeof type);
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &size) != 0 ||
      type != search->sock_type) {
    return;
  }
  sockaddr_storage name;
  int name_size = static_cast<int>(sizeof name);
  if (getsockname(s, reinterpret_cast<sockaddr*>(&name), &name_size) != 0 ||
      !same_address(name, search->local)) {
    return;
  }
  if (search->has_remote) {
    sockaddr_storage peer;
    int peer_size = static_cast<int>(sizeof peer);
    // A listening socket shares the local address of the sockets it accepted but has no peer.
    if (getpeername(s, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0 ||
        !same_address(peer, search->remote)) {
      return;
    }
  }
  search->found = s;
  search->matches++;
}

// A connected TCP socket's (local, remote) pair as one byte string: a hash key.
std::string pair_key(const sockaddr_storage& local, const sockaddr_storage& remote) {
  auto bytes = [](const sockaddr_storage& sa, std::string* out) {
    if (sa.ss_family == AF_INET) {
      const sockaddr_in& in = reinterpret_cast<const sockaddr_in&>(sa);
      out->append(reinterpret_cast<const char*>(&in.sin_port), 2).append(reinterpret_cast<const char*>(&in.sin_addr), 4);
    } else {
      const sockaddr_in6& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
      out->append(reinterpret_cast<const char*>(&in6.sin6_port), 2).append(reinterpret_cast<const char*>(&in6.sin6_addr), 16);
    }
  };
  std::string key(1, static_cast<char>(local.ss_family));
  bytes(local, &key);
  bytes(remote, &key);
  return key;
}

std::string pair_key(const Address& local, const Address& remote) {
  sockaddr_storage a;
  sockaddr_storage b;
  auto fill = [](const Address& from, sockaddr_storage* to) {
    std::memset(to, 0, sizeof *to);
    to->ss_family = static_cast<ADDRESS_FAMILY>(from.family);
    if (from.family == AF_INET) {
      sockaddr_in& in = reinterpret_cast<sockaddr_in&>(*to);
      in.sin_port = htons(static_cast<u_short>(from.port));
      std::memcpy(&in.sin_addr, from.bytes, 4);
    } else {
      sockaddr_in6& in6 = reinterpret_cast<sockaddr_in6&>(*to);
      in6.sin6_port = htons(static_cast<u_short>(from.port));
      std::memcpy(&in6.sin6_addr, from.bytes, 16);
    }
  };
  fill(local, &a);
  fill(remote, &b);
  return pair_key(a, b);
}

// Pairs (local, remote) of the connected TCP sockets this thread has looked at, both ways. Only
// hints: an answer is given from them only after its SOCKET is checked to have the queried pair
// now (getsockname + getpeername). A connected TCP socket's pair never changes and no two open
// sockets share one, so a SOCKET that has the pair is that connection's socket even when a hint
// is stale (a closed handle's SOCKET value reused by a new connection). Per thread: one loop each.
struct Hints {
  void* loop = nullptr;
  std::unordered_map<std::string, SOCKET> by_pair;
  std::unordered_map<SOCKET, std::string> by_socket;

  void remember(SOCKET s, std::string key) {
    auto old = by_socket.find(s);
    if (old != by_socket.end()) {
      if (old->second == key) return;
      auto stale = by_pair.find(old->second);
      if (stale != by_pair.end() && stale->second == s) by_pair.erase(stale);
    }
    by_pair[key] = s;
    by_socket[s] = std::move(key);
  }

  // Drops what belongs to SOCKETs no longer open, once the hints outgrow the open handles.
  void prune(const std::vector<SOCKET>& open) {
    if (by_socket.size() <= 2 * open.size() + 64) return;
    std::unordered_set<SOCKET> live(open.begin(), open.end());
    for (auto it = by_socket.begin(); it != by_socket.end();) {
      if (live.count(it->first) != 0) {
        ++it;
        continue;
      }
      auto pair = by_pair.find(it->second);
      if (pair != by_pair.end() && pair->second == it->first) by_pair.erase(pair);
      it = by_socket.erase(it);
    }
  }
};
thread_local Hints hints;

struct OpenTcp {
  const Libuv* uv;
  std::vector<SOCKET>* sockets;
};

// The SOCKET of every open TCP handle, in the loop's order (oldest first): no syscalls.
void collect(uv_handle_opaque* handle, void* arg) {
  OpenTcp* open = static_cast<OpenTcp*>(arg);
  if (open->uv->get_type(handle) != kUvTcp || open->uv->is_closing(handle)) return;
  HANDLE os_handle = INVALID_HANDLE_VALUE;
  if (open->uv->fileno(handle, &os_handle) != 0) return;
  open->sockets->push_back(reinterpret_cast<SOCKET>(os_handle));
}

// A connected socket's pair as a key; false for a listener (no peer) or a failed call.
bool pair_of(SOCKET s, std::string* key) {
  sockaddr_storage local;
  sockaddr_storage remote;
  int local_size = static_cast<int>(sizeof local);
  int remote_size = static_cast<int>(sizeof remote);
  if (getsockname(s, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 ||
      (local.ss_family != AF_INET && local.ss_family != AF_INET6) ||
      getpeername(s, reinterpret_cast<sockaddr*>(&remote), &remote_size) != 0 || remote.ss_family != local.ss_family) {
    return false;
  }
  *key = pair_key(local, remote);
  return true;
}

// Does this SOCKET have exactly this pair now?
bool has_pair(SOCKET s, const Address& local, const Address& remote) {
  sockaddr_storage name;
  sockaddr_storage peer;
  int name_size = static_cast<int>(sizeof name);
  int peer_size = static_cast<int>(sizeof peer);
  return getsockname(s, reinterpret_cast<sockaddr*>(&name), &name_size) == 0 && same_address(name, local) &&
         getpeername(s, reinterpret_cast<sockaddr*>(&peer), &peer_size) == 0 && same_address(peer, remote);
}

}  // namespace

int find_socket(void* uv_loop, const SocketQuery& query, SocketHandle* out, int* matches) {
  *matches = 0;
  static Libuv uv;
  static const bool has_libuv = load_libuv(&uv);
  if (!has_libuv || uv_loop == nullptr) return kFindNoLibuv;
  Search search;
  search.uv = &uv;
  search.uv_type = query.datagram ? kUvUdp : kUvTcp;
  search.sock_type = query.datagram ? SOCK_DGRAM : SOCK_STREAM;
  search.has_remote = query.remote_address != nullptr;
  if (!parse_address(query.local_address, query.local_port, &search.local)) return kFindBadAddress;
  if (search.has_remote && !parse_address(query.remote_address, query.remote_port, &search.remote)) {
    return kFindBadAddress;
  }
  if (!query.datagram && search.has_remote) {
    // A connected TCP socket: its hint, checked (no walk); else the loop's open TCP handles from
    // the newest (libuv appends new handles, so a new connection is found first), first only
    // those with no hint yet, then all of them. Each handle costs getsockname + getpeername once,
    // not once per lookup: N lookups on N connections are not N walks with syscalls.
    if (hints.loop != uv_loop) {
      hints = Hints();
      hints.loop = uv_loop;
    }
    const std::string key = pair_key(search.local, search.remote);
    auto hit = hints.by_pair.find(key);
    if (hit != hints.by_pair.end() && has_pair(hit->second, search.local, search.remote)) {
      *matches = 1;
      *out = static_cast<SocketHandle>(hit->second);
      return kFindFound;
    }
    std::vector<SOCKET> open;
    OpenTcp collector = {&uv, &open};
    uv.walk(uv_loop, collect, &collector);
    int status = kFindNoMatch;
    for (int pass = 0; pass < 2 && status == kFindNoMatch; pass++) {
      for (size_t i = open.size(); i-- > 0;) {
        SOCKET s = open[i];
        if (pass == 0 && hints.by_socket.count(s) != 0) continue;
        std::string pair;
        if (!pair_of(s, &pair)) continue;
        const bool match = pair == key;
        hints.remember(s, std::move(pair));
        if (match) {
          *matches = 1;
          *out = static_cast<SocketHandle>(s);
          status = kFindFound;
          break;
        }
      }
    }
    hints.prune(open);
    return status;
  }
  search.found = INVALID_SOCKET;
  search.matches = 0;
  // uv_walk only reads the loop's handle queue and calls back synchronously on this thread.
  uv.walk(uv_loop, visit, &search);
  *matches = search.matches;
  if (search.matches == 0) return kFindNoMatch;
  if (search.matches > 1) return kFindSeveral;
  *out = static_cast<SocketHandle>(search.found);
  return kFindFound;
}

}  // namespace net_linger
