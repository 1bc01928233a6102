// A native stress loop over the portable contract (native/socket_ops.h, as built from
// native/posix.cc) for valgrind memcheck: every operation on every kind of descriptor,
// connected pairs opened and torn down again and again, including reset and half-closed ones.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "../../native/socket_ops.h"

namespace {

int Listener(int family, sockaddr_storage* addr, socklen_t* len) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(addr);
    *in = {};
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *len = sizeof *in;
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(addr);
    *in6 = {};
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    *len = sizeof *in6;
  }
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(addr), *len) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(addr), len) != 0) {
    perror("listener");
    exit(1);
  }
  return fd;
}

long calls = 0;
long failures = 0;

void Exercise(net_linger::SocketHandle s, int round) {
  net_linger::Linger linger;
  net_linger::Pending pending;
  int step = -1;
  int results[] = {
      net_linger::set_linger(s, round & 1, round % 5),
      net_linger::get_linger(s, &linger),
      net_linger::pending_bytes(s, &pending, &step),
      net_linger::set_linger(s, 1, 0),
      net_linger::get_linger(s, &linger),
  };
  for (int r : results) failures += r != 0;
  calls += 5;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 2000;
  sockaddr_storage addr4, addr6;
  socklen_t len4, len6;
  int listen4 = Listener(AF_INET, &addr4, &len4);
  int listen6 = Listener(AF_INET6, &addr6, &len6);
  int file = open("/dev/null", O_RDONLY);
  int pipes[2];
  if (pipe(pipes) != 0) return 1;
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  int closed = dup(file);
  close(closed);  // single-threaded: nothing can reuse it before the next open below

  for (int round = 0; round < rounds; round++) {
    bool v6 = round % 2;
    int listener = v6 ? listen6 : listen4;
    int client = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(v6 ? &addr6 : &addr4), v6 ? len6 : len4) != 0) {
      perror("connect");
      return 1;
    }
    int server = accept(listener, nullptr, nullptr);
    char data[512] = {0};
    if (write(client, data, sizeof data) < 0) perror("write");
    Exercise(client, round);
    Exercise(server, round);
    Exercise(file, round);
    Exercise(pipes[0], round);
    Exercise(udp, round);
    Exercise(closed, round);
    Exercise(static_cast<net_linger::SocketHandle>(INT_MAX) + 1, round);
    Exercise(~0ULL, round);
    for (int how = 0; how <= 3; how++) {
      failures += net_linger::shutdown_socket(round % 3 == 0 ? server : client, how) != 0;
      calls++;
    }
    failures += net_linger::shutdown_socket(udp, 1) != 0;
    failures += net_linger::shutdown_socket(closed, 2) != 0;
    calls += 2;
    Exercise(client, round);  // after shutdown, and after the peer reset when SO_LINGER {1,0} closed it
    close(round % 2 ? client : server);
    Exercise(round % 2 ? server : client, round);
    close(round % 2 ? server : client);
  }
  close(listen4);
  close(listen6);
  close(file);
  close(pipes[0]);
  close(pipes[1]);
  close(udp);
  printf("stress: %d rounds, %ld calls, %ld returned an error number\n", rounds, calls, failures);
  return 0;
}
