/* What the C echo peers share: the command line (--host, --port) and the listening
 * socket. Each peer prints `listening on <port>` once the socket listens, so that
 * run.sh can start it with --port 0 and read the port the kernel chose. */
#ifndef CORIO_BENCH_PEER_COMMON_H
#define CORIO_BENCH_PEER_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer_options {
  const char* host;
  const char* port;
};

static inline void peer_usage(const char* prog) {
  fprintf(stderr, "usage: %s [--host H] [--port N]  (port 0 = any free port)\n", prog);
  exit(2);
}

static inline struct peer_options peer_parse(int argc, char** argv) {
  struct peer_options o = {"127.0.0.1", "0"};
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      o.host = argv[++i];
    } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      o.port = argv[++i];
    } else {
      peer_usage(argv[0]);
    }
  }
  return o;
}

static inline void peer_die(const char* what) {
  perror(what);
  exit(1);
}

/* Binds and listens (non-blocking if asked), prints the port, returns the fd. */
static inline int peer_listen(struct peer_options o, int nonblocking) {
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(o.host, o.port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "getaddrinfo %s:%s: %s\n", o.host, o.port, gai_strerror(rc));
    exit(1);
  }
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  int fd = socket(res->ai_family, type, 0);
  if (fd < 0) peer_die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) peer_die("bind");
  freeaddrinfo(res);
  if (listen(fd, SOMAXCONN) < 0) peer_die("listen");

  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr*)&ss, &len) < 0) peer_die("getsockname");
  int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6*)&ss)->sin6_port)
                                      : ntohs(((struct sockaddr_in*)&ss)->sin_port);
  printf("listening on %d\n", port);
  fflush(stdout);
  return fd;
}

/* A small echo is answered at once; Nagle would hold it back waiting for an ACK. */
static inline void peer_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

#endif
