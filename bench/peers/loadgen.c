/* loadgen: closed-loop echo load generator and checker. One thread, one epoll.
 *
 *   loadgen --port N [--host H] [--conns N] [--size B] [--duration S] [--warmup S]
 *           [--pid PID]
 *
 * Each of N connections sends a message of B bytes, waits for the whole echo, checks
 * every byte, records the round trip, and sends the next: one message in flight per
 * connection. Every message's bytes are unique to its connection and sequence number,
 * so a byte from another connection, a stale message or a reordering is caught.
 * Round trips completed during the warmup are not counted. With --pid, the CPU time
 * (utime + stime, all threads) that process spent during the measured window is read
 * from /proc/PID/stat at the window's start and end.
 *
 * Prints one key=value line:
 *   conns= size= seconds= requests= rps= p50_us= p99_us= p999_us= max_us= errors=
 *   loadgen_cpu_pct= [server_cpu_s= server_cpu_us_per_req= server_cpu_pct=]
 * loadgen_cpu_pct near 100 means loadgen, not the server, set the pace.
 * and exits 1 if any byte was wrong or any connection failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  uint32_t id;
  uint32_t seq;
  size_t sent, received;
  uint64_t started_ns;
  uint8_t* tx;
  uint8_t* rx;
};

static size_t g_size = 64;
static long g_errors;

/* Latencies in ns, one per measured round trip; sorted at the end. */
static uint32_t* g_lat;
static size_t g_lat_n, g_lat_cap;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

/* Bytes 0..7 carry the connection id and sequence number; the rest come from a
 * xorshift seeded by both, so no two messages of a run share their bytes. */
static void fill(uint8_t* p, size_t n, uint32_t id, uint32_t seq) {
  uint64_t x = ((uint64_t)id << 32 | seq) * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    if (i < 4) {
      p[i] = (uint8_t)(id >> (8 * i));
    } else if (i < 8) {
      p[i] = (uint8_t)(seq >> (8 * (i - 4)));
    } else {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p[i] = (uint8_t)x;
    }
  }
}

static void fail(struct conn* c, const char* why) {
  if (g_errors++ < 5) {
    fprintf(stderr, "loadgen: connection %u, message %u: %s\n", c->id, c->seq, why);
  }
  close(c->fd);
  c->fd = -1;
}

static void record(uint64_t ns) {
  if (g_lat_n == g_lat_cap) {
    g_lat_cap = g_lat_cap ? g_lat_cap * 2 : 1 << 16;
    g_lat = realloc(g_lat, g_lat_cap * sizeof *g_lat);
    if (!g_lat) die("realloc");
  }
  g_lat[g_lat_n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Sends what is left of the current message; a short send waits for EPOLLOUT. */
static void push(int ep, struct conn* c) {
  while (c->sent < g_size) {
    ssize_t n = send(c->fd, c->tx + c->sent, g_size - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      fail(c, strerror(errno));
      return;
    }
    c->sent += (size_t)n;
  }
}

static void start_message(int ep, struct conn* c) {
  ++c->seq;
  fill(c->tx, g_size, c->id, c->seq);
  c->sent = c->received = 0;
  c->started_ns = now_ns();
  push(ep, c);
}

static void on_readable(int ep, struct conn* c, int measuring) {
  ssize_t n = recv(c->fd, c->rx + c->received, g_size - c->received, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    fail(c, n == 0 ? "server closed the connection" : strerror(errno));
    return;
  }
  if ((size_t)n + c->received > c->sent) {
    fail(c, "echo ahead of what was sent");
    return;
  }
  if (memcmp(c->rx + c->received, c->tx + c->received, (size_t)n) != 0) {
    fail(c, "echoed bytes differ from the bytes sent");
    return;
  }
  c->received += (size_t)n;
  if (c->received < g_size) return;
  if (measuring) record(now_ns() - c->started_ns);
  start_message(ep, c);
}

static int connect_to(const char* host, const char* port) {
  struct addrinfo hints, *res;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "loadgen: %s:%s: %s\n", host, port, gai_strerror(rc));
    exit(1);
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) die("connect");
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
static long long cpu_ticks(int pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char* p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!p) return -1;
  unsigned long long ut, st;
  /* after ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
    return -1;
  }
  return (long long)(ut + st);
}

/* This process's CPU time (user + system), in seconds. */
static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_u32(const void* a, const void* b) {
  uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  return (x > y) - (x < y);
}

static double pct_us(double p) {
  if (g_lat_n == 0) return 0;
  size_t i = (size_t)(p * (double)(g_lat_n - 1) + 0.5);
  return g_lat[i] / 1000.0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port N [--host H] [--conns N] [--size B] [--duration S]"
          " [--warmup S] [--pid PID]\n");
  exit(2);
}

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  const char* port = NULL;
  long conns = 1;
  double duration = 5, warmup = 1;
  int pid = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "--host") == 0)
      host = v;
    else if (strcmp(a, "--port") == 0)
      port = v;
    else if (strcmp(a, "--conns") == 0)
      conns = atol(v);
    else if (strcmp(a, "--size") == 0)
      g_size = (size_t)atol(v);
    else if (strcmp(a, "--duration") == 0)
      duration = atof(v);
    else if (strcmp(a, "--warmup") == 0)
      warmup = atof(v);
    else if (strcmp(a, "--pid") == 0)
      pid = atoi(v);
    else
      usage();
    ++i;
  }
  if (!port || conns < 1 || g_size < 1 || duration <= 0 || warmup < 0) usage();

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct conn* cs = calloc((size_t)conns, sizeof *cs);
  if (!cs) die("calloc");
  for (long i = 0; i < conns; ++i) {
    struct conn* c = &cs[i];
    c->id = (uint32_t)i;
    c->fd = connect_to(host, port);
    c->tx = malloc(g_size);
    c->rx = malloc(g_size);
    if (!c->tx || !c->rx) die("malloc");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
  }
  for (long i = 0; i < conns; ++i)
    start_message(ep, &cs[i]);

  uint64_t t0 = now_ns();
  uint64_t measure_at = t0 + (uint64_t)(warmup * 1e9);
  uint64_t end_at = measure_at + (uint64_t)(duration * 1e9);
  int measuring = warmup == 0;
  long long cpu0 = measuring && pid ? cpu_ticks(pid) : 0;
  double self0 = self_cpu_s();
  uint64_t window_start = measuring ? t0 : 0;
  struct epoll_event events[512];
  long alive = conns;
  for (;;) {
    uint64_t now = now_ns();
    if (!measuring && now >= measure_at) {
      measuring = 1;
      window_start = now;
      if (pid) cpu0 = cpu_ticks(pid);
      self0 = self_cpu_s();
    }
    if (now >= end_at || alive == 0) break;
    uint64_t until = measuring ? end_at : measure_at;
    int timeout_ms = (int)((until - now) / 1000000u) + 1;
    int n = epoll_wait(ep, events, 512, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      struct conn* c = events[i].data.ptr;
      if (c->fd < 0) continue; /* failed earlier in this batch */
      if ((events[i].events & EPOLLOUT) && c->sent < g_size) {
        push(ep, c);
        if (c->fd >= 0 && c->sent == g_size) {
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        on_readable(ep, c, measuring);
      }
      if (c->fd < 0) --alive;
    }
  }
  uint64_t window_end = now_ns();
  long long cpu1 = pid && measuring ? cpu_ticks(pid) : 0;
  double self1 = self_cpu_s();
  for (long i = 0; i < conns; ++i) {
    if (cs[i].fd >= 0) close(cs[i].fd);
  }

  double seconds = measuring ? (window_end - window_start) / 1e9 : 0;
  qsort(g_lat, g_lat_n, sizeof *g_lat, cmp_u32);
  printf(
      "conns=%ld size=%zu seconds=%.3f requests=%zu rps=%.0f p50_us=%.1f p99_us=%.1f"
      " p999_us=%.1f max_us=%.1f errors=%ld",
      conns, g_size, seconds, g_lat_n, seconds > 0 ? g_lat_n / seconds : 0, pct_us(0.50),
      pct_us(0.99), pct_us(0.999), g_lat_n ? g_lat[g_lat_n - 1] / 1000.0 : 0, g_errors);
  printf(" loadgen_cpu_pct=%.0f", seconds > 0 ? (self1 - self0) * 100 / seconds : 0);
  if (pid) {
    if (cpu0 < 0 || cpu1 < 0) {
      fprintf(stderr, "loadgen: cannot read /proc/%d/stat\n", pid);
      ++g_errors;
    } else {
      double cpu_s = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK);
      printf(" server_cpu_s=%.3f server_cpu_us_per_req=%.3f server_cpu_pct=%.0f", cpu_s,
             g_lat_n ? cpu_s * 1e6 / (double)g_lat_n : 0, seconds > 0 ? cpu_s * 100 / seconds : 0);
    }
  }
  printf("\n");
  return g_errors || g_lat_n == 0 ? 1 : 0;
}
