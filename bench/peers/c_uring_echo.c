/* c_uring_echo: the io_uring floor. A hand-written, single-threaded liburing echo
 * server in the style of liburing's examples: one multishot accept, one multishot recv
 * per connection reading into a provided-buffer ring, and the echo sent straight out of
 * the buffer the kernel picked (no copy); the buffer goes back to the ring when its
 * send completes. One io_uring_submit_and_wait() per loop turn, all CQEs walked, the CQ
 * advanced once.
 *
 *   c_uring_echo [--host H] [--port N]
 *
 * Kernel needs: provided-buffer rings 5.19, multishot recv 6.0; SINGLE_ISSUER and
 * DEFER_TASKRUN 6.1 (optional: without them we fall back to COOP_TASKRUN, then to no
 * flags). liburing 2.3 (Debian 12) has no io_uring_setup_buf_ring(), so the ring memory
 * is mmap()ed here and registered with io_uring_register_buf_ring().
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>

#include "peer_common.h"

enum {
  kEntries = 2048,
  kBufCount = 4096, /* a power of two: the ring's index mask */
  kBufSize = 2048,
  kGroup = 0,
  kNoBuf = 0xffff,
};

enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_SIGNAL };

/* user_data: op in the top byte, buffer id in the next 16 bits, fd in the low 32. */
static inline uint64_t pack(enum op op, int fd, unsigned bid) {
  return (uint64_t)op << 56 | (uint64_t)bid << 32 | (uint32_t)fd;
}

/* A connection lives while its recv is armed or a send is in flight; the fd is closed
 * when both are over. Buffers received while a send is in flight wait in a FIFO (sends
 * on one socket must not overlap, or bytes could leave out of order). */
struct conn {
  uint16_t head, tail; /* FIFO of buffer ids; head is the one being sent */
  uint8_t recv_armed;
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* buffers;
static struct conn* conns; /* indexed by fd */
static uint16_t next_buf[kBufCount];
static uint32_t buf_off[kBufCount], buf_len[kBufCount];
static int returned; /* buffers given back this turn, published once per turn */

static struct io_uring_sqe* get_sqe(void) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (!sqe) { /* SQ full: push what we have and take a fresh slot */
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
  }
  return sqe;
}

static void arm_accept(int lfd) {
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, pack(OP_ACCEPT, lfd, 0));
}

static void arm_recv(int fd) {
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kGroup;
  io_uring_sqe_set_data64(sqe, pack(OP_RECV, fd, 0));
  conns[fd].recv_armed = 1;
}

static void submit_send(int fd, unsigned bid) {
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, fd, buffers + (size_t)bid * kBufSize + buf_off[bid],
                     buf_len[bid] - buf_off[bid], MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, pack(OP_SEND, fd, bid));
}

static void return_buf(unsigned bid) {
  io_uring_buf_ring_add(br, buffers + (size_t)bid * kBufSize, kBufSize, (unsigned short)bid,
                        io_uring_buf_ring_mask(kBufCount), returned++);
}

static void maybe_close(int fd) {
  if (!conns[fd].recv_armed && conns[fd].head == kNoBuf) close(fd);
}

static void on_recv(int fd, struct io_uring_cqe* cqe) {
  struct conn* c = &conns[fd];
  if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    buf_off[bid] = 0;
    buf_len[bid] = (uint32_t)cqe->res;
    next_buf[bid] = kNoBuf;
    if (c->head == kNoBuf) {
      c->head = c->tail = (uint16_t)bid;
      submit_send(fd, bid);
    } else {
      next_buf[c->tail] = (uint16_t)bid;
      c->tail = (uint16_t)bid;
    }
  }
  if (cqe->flags & IORING_CQE_F_MORE) return;
  /* The multishot recv ended. -ENOBUFS (ring empty) or a full CQ end it too: re-arm.
   * (-ENOBUFS re-armed at once could spin while every buffer waits on a slow peer; the
   * closed-loop benchmark never gets there with 4096 buffers.) EOF or an error: done. */
  c->recv_armed = 0;
  if (cqe->res > 0 || cqe->res == -ENOBUFS) {
    arm_recv(fd);
  } else if (cqe->res == -EINVAL) {
    fprintf(stderr, "c_uring_echo: multishot recv needs Linux 6.0\n");
    exit(1);
  } else {
    maybe_close(fd);
  }
}

static void on_send(int fd, unsigned bid, int res) {
  struct conn* c = &conns[fd];
  if (res < 0) {
    /* Peer gone: drop what is queued, and shutdown() so the armed recv ends too. */
    for (unsigned b = c->head; b != kNoBuf; b = next_buf[b])
      return_buf(b);
    c->head = kNoBuf;
    shutdown(fd, SHUT_RDWR);
    maybe_close(fd);
    return;
  }
  buf_off[bid] += (uint32_t)res;
  if (buf_off[bid] < buf_len[bid]) { /* short send: the rest, from where it stopped */
    submit_send(fd, bid);
    return;
  }
  c->head = next_buf[bid];
  return_buf(bid);
  if (c->head != kNoBuf) {
    submit_send(fd, c->head);
  } else {
    maybe_close(fd);
  }
}

static void setup_ring(void) {
  /* SINGLE_ISSUER|DEFER_TASKRUN (6.1): completions run only when we enter the kernel
   * to wait, with no IPIs; COOP_TASKRUN (5.19) is the next best; then plain. */
  const unsigned flag_sets[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, 0};
  int rc = -EINVAL;
  for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0] && rc < 0; ++i) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = flag_sets[i];
    rc = io_uring_queue_init_params(kEntries, &ring, &p);
  }
  if (rc < 0) {
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
    exit(1);
  }
  io_uring_register_ring_fd(&ring); /* saves an fget per io_uring_enter (5.18) */

  size_t ring_bytes = kBufCount * sizeof(struct io_uring_buf);
  br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  buffers = malloc((size_t)kBufCount * kBufSize);
  if (br == MAP_FAILED || !buffers) peer_die("buffer ring memory");
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)br;
  reg.ring_entries = kBufCount;
  reg.bgid = kGroup;
  rc = io_uring_register_buf_ring(&ring, &reg, 0);
  if (rc < 0) {
    fprintf(stderr, "io_uring_register_buf_ring: %s (provided-buffer rings need Linux 5.19)\n",
            strerror(-rc));
    exit(1);
  }
  io_uring_buf_ring_init(br);
  for (unsigned bid = 0; bid < kBufCount; ++bid)
    return_buf(bid);
  io_uring_buf_ring_advance(br, returned);
  returned = 0;
}

int main(int argc, char** argv) {
  struct peer_options opt = peer_parse(argc, argv);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) peer_die("sigprocmask");
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) peer_die("signalfd");

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  size_t max_fds = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
  conns = malloc(max_fds * sizeof *conns);
  if (!conns) peer_die("malloc");

  setup_ring();
  int lfd = peer_listen(opt, 0);
  arm_accept(lfd);
  struct signalfd_siginfo si;
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, sfd, &si, sizeof si, 0);
  io_uring_sqe_set_data64(sqe, pack(OP_SIGNAL, sfd, 0));

  for (;;) {
    int rc = io_uring_submit_and_wait(&ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
      fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-rc));
      return 1;
    }
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      int fd = (int)(uint32_t)ud;
      unsigned bid = (unsigned)(ud >> 32) & 0xffff;
      switch ((enum op)(ud >> 56)) {
        case OP_ACCEPT:
          if (cqe->res >= 0 && (size_t)cqe->res < max_fds) {
            peer_nodelay(cqe->res);
            conns[cqe->res].head = conns[cqe->res].tail = kNoBuf;
            arm_recv(cqe->res);
          } else if (cqe->res >= 0) {
            close(cqe->res);
          }
          if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(fd);
          break;
        case OP_RECV:
          on_recv(fd, cqe);
          break;
        case OP_SEND:
          on_send(fd, bid, cqe->res);
          break;
        case OP_SIGNAL:
          return 0; /* SIGINT or SIGTERM */
      }
    }
    io_uring_cq_advance(&ring, seen);
    if (returned) { /* one release store for all buffers given back this turn */
      io_uring_buf_ring_advance(br, returned);
      returned = 0;
    }
  }
}
