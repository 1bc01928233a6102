// The physical limit: the same syscalls the package makes, on the same kind of socket
// (a connected loopback TCP socket), in a plain C loop. Prints ns per call.
// usage: syscall_loop <setLinger|getLinger|pendingBytes> <iterations>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int connected_socket(int* peer, int* listener) {
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  *listener = socket(AF_INET, SOCK_STREAM, 0);
  if (*listener < 0 || bind(*listener, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(*listener, 1) != 0 ||
      getsockname(*listener, (struct sockaddr*)&addr, &len) != 0) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0 && errno != EINPROGRESS) return -1;
  *peer = accept(*listener, NULL, NULL);
  return *peer < 0 ? -1 : fd;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <setLinger|getLinger|pendingBytes> <iterations>\n", argv[0]);
    return 2;
  }
  const char* op = argv[1];
  long n = atol(argv[2]);
  int peer, listener;
  int fd = connected_socket(&peer, &listener);
  if (fd < 0) { perror("socket"); return 1; }
  volatile long sink = 0;
  double start = now_ns();
  if (strcmp(op, "setLinger") == 0) {
    for (long i = 0; i < n; i++) {
      struct linger value = {1, 0};
      sink += setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof value) == 0 ? 0 : errno;
    }
  } else if (strcmp(op, "getLinger") == 0) {
    for (long i = 0; i < n; i++) {
      struct linger value = {0, 0};
      socklen_t size = sizeof value;
      sink += getsockopt(fd, SOL_SOCKET, SO_LINGER, &value, &size) == 0 ? value.l_onoff : errno;
    }
  } else if (strcmp(op, "pendingBytes") == 0) {
    for (long i = 0; i < n; i++) {
      int unread = 0, unsent = 0;
      if (ioctl(fd, FIONREAD, &unread) != 0 || ioctl(fd, SIOCOUTQ, &unsent) != 0) sink += errno;
      sink += unread + unsent;
    }
  } else {
    fprintf(stderr, "unknown op %s\n", op);
    return 2;
  }
  double elapsed = now_ns() - start;
  printf("%.2f\n", elapsed / n);
  close(fd);
  close(peer);
  close(listener);
  return sink == -1;
}
