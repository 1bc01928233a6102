// Linux packet capture for the lab (compiled on Linux only, binding.gyp): an AF_PACKET socket with a classic BPF filter, read without
// blocking. Nothing here knows TCP: the filter program, the choice of interface and every reading
// of the bytes are made in TypeScript (src/lab/capture.ts). Every function returns 0 (or a count)
// or a negative errno, and never aborts; on other systems there are no such functions.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "capture.h"
#include "napi_args.h"

namespace net_linger {
namespace packet {

// Where packet_open failed, so the caller can say which step lacked what.
enum OpenStep { kStepNetns = 1, kStepSocket = 2, kStepFilter = 3, kStepInterface = 4, kStepBind = 5, kStepOption = 6 };

struct Opened {
  int fd = -1;
  int rcvbuf = 0;      // the receive buffer the kernel granted (bytes, as getsockopt reports it)
  int loopback = 0;    // the interface is a loopback device: every packet is seen leaving and arriving
  int step = 0;        // the OpenStep that failed
};

// Opens a packet socket on interface `ifname` ("" = every interface) of the current network
// namespace, or of the one at `netns_path` (e.g. /run/netns/NAME; the calling thread enters it for
// the socket() call and returns to its own namespace before this returns). `filter` is a classic BPF
// program; it is attached before the socket is bound, so no packet it rejects is ever queued.
// SOCK_DGRAM: every packet starts at its network (IP) header, whatever the link layer.
inline int packet_open(const char* ifname, const sock_filter* filter, unsigned short filter_len,
                       int rcvbuf, const char* netns_path, Opened* out) {
  int own_ns = -1;
  if (netns_path != nullptr) {
    own_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(netns_path, O_RDONLY | O_CLOEXEC);
    if (own_ns < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
      int err = errno;
      if (target >= 0) close(target);
      if (own_ns >= 0) close(own_ns);
      out->step = kStepNetns;
      return -err;
    }
    close(target);
  }
  int err = 0;
  // Protocol 0: no packet is queued until bind() names one, after the filter is in place.
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    out->step = kStepSocket;
  }
  if (err == 0) {
    sock_fprog prog;
    prog.len = filter_len;
    prog.filter = const_cast<sock_filter*>(filter);
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) {
      err = errno;
      out->step = kStepFilter;
    }
  }
  int ifindex = 0;
  if (err == 0 && ifname[0] != '\0') {
    ifindex = static_cast<int>(if_nametoindex(ifname));
    if (ifindex == 0) {
      err = errno ? errno : ENODEV;
      out->step = kStepInterface;
    } else {
      ifreq req;
      std::memset(&req, 0, sizeof req);
      std::memcpy(req.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
      if (ioctl(fd, SIOCGIFFLAGS, &req) == 0) out->loopback = (req.ifr_flags & IFF_LOOPBACK) ? 1 : 0;
    }
  }
  if (err == 0) {
    // A larger buffer where the kernel allows it (FORCE needs CAP_NET_ADMIN in the first namespace).
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    socklen_t len = sizeof out->rcvbuf;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &out->rcvbuf, &len);
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
      err = errno;
      out->step = kStepOption;
    }
  }
  if (err == 0) {
    sockaddr_ll addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ifindex;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      err = errno;
      out->step = kStepBind;
    }
  }
  if (own_ns >= 0) {
    // Back to the thread's own namespace; a failure here would leave the thread elsewhere.
    if (setns(own_ns, CLONE_NEWNET) != 0 && err == 0) {
      err = errno;
      out->step = kStepNetns;
    }
    close(own_ns);
  }
  if (err != 0) {
    if (fd >= 0) close(fd);
    return -err;
  }
  out->fd = fd;
  return 0;
}

// Reads up to `max` queued packets without waiting. Packet i's first `slot` bytes go to
// data + i * slot; meta[5 i ..] = captured length, length on the wire, sll_pkttype (0 host,
// 4 outgoing, ...), kernel receive time seconds, nanoseconds. Returns the count, or -errno.
inline int packet_read(int fd, unsigned char* data, size_t slot, double* meta, int max) {
  int count = 0;
  while (count < max) {
    sockaddr_ll from;
    iovec iov;
    iov.iov_base = data + static_cast<size_t>(count) * slot;
    iov.iov_len = slot;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return count > 0 ? count : -errno;
    }
    timespec ts = {0, 0};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
    }
    double* m = meta + 5 * count;
    m[0] = static_cast<double>(static_cast<size_t>(n) < slot ? static_cast<size_t>(n) : slot);
    m[1] = static_cast<double>(n);
    m[2] = from.sll_pkttype;
    m[3] = static_cast<double>(ts.tv_sec);
    m[4] = static_cast<double>(ts.tv_nsec);
    count++;
  }
  return count;
}

// Packets the kernel queued and dropped since the last call (PACKET_STATISTICS resets them).
inline int packet_stats(int fd, double* packets, double* drops) {
  tpacket_stats stats;
  socklen_t len = sizeof stats;
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) != 0) return -errno;
  *packets = stats.tp_packets;
  *drops = stats.tp_drops;
  return 0;
}

inline int packet_close(int fd) {
  return close(fd) == 0 ? 0 : -errno;
}

}  // namespace packet
}  // namespace net_linger

namespace {

using namespace net_linger::js;

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

}  // namespace

namespace net_linger {

void define_capture(napi_env env, napi_value exports) {
  Define(env, exports, "packetOpen", PacketOpen);
  Define(env, exports, "packetRead", PacketRead);
  Define(env, exports, "packetStats", PacketStats);
  Define(env, exports, "packetClose", PacketClose);
}

}  // namespace net_linger
