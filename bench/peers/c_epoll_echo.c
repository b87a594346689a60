/* c_epoll_echo: the readiness floor. A hand-written, single-threaded, level-triggered
 * epoll echo server: per readable event exactly one recv() and one send(); a short
 * send parks the rest and waits for EPOLLOUT (reading stops meanwhile: backpressure).
 * Nothing allocates per message. SIGINT/SIGTERM arrive through a signalfd in the
 * same epoll set, so the loop never races a signal handler.
 *
 *   c_epoll_echo [--host H] [--port N]
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "peer_common.h"

enum { kBufferSize = 64 * 1024, kMaxEvents = 256 };

struct conn {
  int fd;
  size_t pending_off; /* bytes of buf still to send: [pending_off, pending_end) */
  size_t pending_end;
  char buf[kBufferSize];
};

/* Tags for the two non-connection fds; connections carry their struct conn*. */
static char listener_tag, signal_tag;

static void set_interest(int ep, struct conn* c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void close_conn(struct conn* c) {
  close(c->fd); /* close() removes it from the epoll set */
  free(c);
}

static void on_accept(int ep, int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or EMFILE and friends: try again next event */
    peer_nodelay(fd);
    struct conn* c = malloc(sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->pending_off = c->pending_end = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) close_conn(c);
  }
}

/* Sends what is pending; returns 0 when all is sent, 1 to wait for EPOLLOUT, -1 on error. */
static int flush_pending(struct conn* c) {
  while (c->pending_off < c->pending_end) {
    ssize_t n = send(c->fd, c->buf + c->pending_off, c->pending_end - c->pending_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
      if (errno == EINTR) continue;
      return -1;
    }
    c->pending_off += (size_t)n;
  }
  return 0;
}

static void on_readable(int ep, struct conn* c) {
  ssize_t n = recv(c->fd, c->buf, kBufferSize, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    close_conn(c);
    return;
  }
  if (n < 0) return;
  /* The common case: the whole echo leaves in this one send. */
  ssize_t s = send(c->fd, c->buf, (size_t)n, MSG_NOSIGNAL);
  if (s == n) return;
  if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    close_conn(c);
    return;
  }
  c->pending_off = s < 0 ? 0 : (size_t)s;
  c->pending_end = (size_t)n;
  set_interest(ep, c, EPOLLOUT);
}

static void on_writable(int ep, struct conn* c) {
  int rc = flush_pending(c);
  if (rc < 0) {
    close_conn(c);
  } else if (rc == 0) {
    c->pending_off = c->pending_end = 0;
    set_interest(ep, c, EPOLLIN);
  }
}

int main(int argc, char** argv) {
  struct peer_options opt = peer_parse(argc, argv);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) peer_die("sigprocmask");
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) peer_die("signalfd");

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) peer_die("epoll_create1");
  int lfd = peer_listen(opt, 1);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener_tag};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) peer_die("epoll_ctl listener");
  ev.data.ptr = &signal_tag;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) peer_die("epoll_ctl signalfd");

  struct epoll_event events[kMaxEvents];
  for (;;) {
    int n = epoll_wait(ep, events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      peer_die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      void* p = events[i].data.ptr;
      if (p == &listener_tag) {
        on_accept(ep, lfd);
      } else if (p == &signal_tag) {
        return 0; /* SIGINT or SIGTERM: a clean exit is all the harness needs */
      } else if (((struct conn*)p)->pending_end) {
        on_writable(ep, p); /* EPOLLOUT, or EPOLLERR/EPOLLHUP that send() reports */
      } else {
        on_readable(ep, p); /* EPOLLIN, or EPOLLERR/EPOLLHUP that recv() reports */
      }
    }
  }
}
