// socketpair ping-pong: one task sends 64 bytes, the echo task sends them back; one
// iteration is one round trip. Run once per backend that opens here (PingPong/<name>),
// beside two hand-written baselines measured in the same run:
//   PingPongBaseline/raw_direct  send/recv/send/recv, no poller: the syscall floor (4)
//   PingPongBaseline/raw_epoll   the same with an edge-triggered epoll_wait before each
//                                recv, i.e. what two event-driven peers on one thread must
//                                do at least (6 syscalls): the design's "C epoll floor"
// Counters (from an untimed probe of 10,000 round trips after the timed loop):
//   allocs_per_rt    operator new calls per round trip (goal 0)
//   syscalls_per_rt  system calls per round trip (when the tracepoint counter works)
//   vs_raw_epoll     CPU time per round trip over raw_epoll's (the baseline runs first)
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

namespace bench {
namespace {

// This thread's CPU time. The ratio to the baseline uses it rather than wall time: on a
// shared (virtual) machine wall time also counts time the thread was not running, which
// made single runs differ by 50 %. Neither side of a one-thread ping-pong ever has to
// block (the peer's data is always there), so CPU time is the whole cost.
double thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

constexpr std::size_t kMessage = 64;
// Receives ask for more than a message, as a server reading a request does: a stream
// read shorter than asked tells a readiness backend the socket is drained, so its next
// receive waits for the edge instead of trying a recv that would say EAGAIN.
constexpr std::size_t kReadBuffer = 4096;
constexpr std::size_t kWarmTrips = 1000;
constexpr std::size_t kProbeTrips = 10000;

// ns per round trip of raw_epoll from this run; 0 until that baseline has run.
double g_raw_epoll_ns = 0;

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0)
      throw std::system_error(errno, std::system_category(), "socketpair");
  }
  ~SocketPair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

struct Probe {
  AllocCounts allocs;
  std::uint64_t syscalls = 0;
  std::size_t trips = 0;
};

void report(benchmark::State& state, const Probe& p, double ns_per_rt, bool is_baseline) {
  const auto n = static_cast<double>(p.trips);
  state.counters["allocs_per_rt"] = per(static_cast<double>(p.allocs.news), n);
  report_syscalls(state, "syscalls_per_rt", p.syscalls, p.trips);
  if (!is_baseline && g_raw_epoll_ns > 0)
    state.counters["vs_raw_epoll"] = ns_per_rt / g_raw_epoll_ns;
}

// --- corio ------------------------------------------------------------------------

corio::Coro<void> echo(corio::native_handle fd) {
  std::array<char, kReadBuffer> buf{};
  for (;;) {
    std::size_t got = 0;
    while (got < kMessage) {
      const std::size_t n = co_await corio::io::recv(fd, buf.data(), buf.size());
      if (n == 0) co_return;  // the client shut its side down: the benchmark is over
      got += n;
    }
    for (std::size_t sent = 0; sent < kMessage;)
      sent += co_await corio::io::send(fd, buf.data() + sent, kMessage - sent);
  }
}

// Runs round trips while `state` says so, or `count` of them when `state` is null. One
// coroutine runs many trips: a Coro per trip would allocate a frame each time and hide
// the library's own (lack of) allocations.
corio::Coro<void> client(corio::native_handle fd, benchmark::State* state, std::size_t count) {
  std::array<char, kMessage> msg{};
  std::array<char, kReadBuffer> buf{};
  while (state != nullptr ? state->KeepRunning() : count-- > 0) {
    for (std::size_t sent = 0; sent < kMessage;)
      sent += co_await corio::io::send(fd, msg.data() + sent, kMessage - sent);
    for (std::size_t got = 0; got < kMessage;) {
      const std::size_t n = co_await corio::io::recv(fd, buf.data(), buf.size());
      if (n == 0) throw std::runtime_error("echo closed early");
      got += n;
    }
  }
}

corio::Coro<void> ping_pong(benchmark::State& state, Probe& probe, double& ns_per_rt) {
  SocketPair sp;
  corio::Task<void> server = corio::create_task(echo(sp.fd[1]));

  // Warm: the backend's fd table and registrations, the ready queue.
  co_await client(sp.fd[0], nullptr, kWarmTrips);

  const double t0 = thread_cpu_ns();
  co_await client(sp.fd[0], &state, 0);
  ns_per_rt = (thread_cpu_ns() - t0) / static_cast<double>(state.iterations());

  // Calling client() allocates its frame (a Coro is lazy, the call only builds it):
  // do that before counting, so only the round trips are counted.
  corio::Coro<void> trips = client(sp.fd[0], nullptr, kProbeTrips);
  const SyscallCounter sc;
  const AllocCounts before = alloc_counts();
  const std::uint64_t mark = sc.start();
  co_await std::move(trips);
  probe.syscalls = sc.since(mark);
  probe.allocs = alloc_counts() - before;
  probe.trips = kProbeTrips;

  ::shutdown(sp.fd[0], SHUT_WR);
  co_await server;
  // The loop must forget an fd before it is closed (a reused number must start fresh).
  corio::io::release(sp.fd[0]);
  corio::io::release(sp.fd[1]);
}

void BM_PingPong(benchmark::State& state, const std::string& backend) {
  Probe probe;
  double ns = 0;
  corio::run(ping_pong(state, probe, ns), corio::RunOptions{.backend = backend});
  report(state, probe, ns, false);
}

// --- baselines ----------------------------------------------------------------------

void send_all(int fd, const char* p, std::size_t len) {
  while (len > 0) {
    const ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) throw std::system_error(errno, std::system_category(), "send");
    p += n;
    len -= static_cast<std::size_t>(n);
  }
}

// On one thread every message is in the peer's buffer by the time it reads, so a plain
// recv never says EAGAIN here.
void recv_all(int fd, char* buf) {
  for (std::size_t got = 0; got < kMessage;) {
    const ssize_t n = ::recv(fd, buf, kReadBuffer, 0);
    if (n <= 0) throw std::system_error(n < 0 ? errno : EPIPE, std::system_category(), "recv");
    got += static_cast<std::size_t>(n);
  }
}

struct RawEpoll {
  int ep = -1;
  explicit RawEpoll(const SocketPair& sp) : ep(::epoll_create1(EPOLL_CLOEXEC)) {
    if (ep < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    for (int fd : sp.fd) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLET;
      ev.data.fd = fd;
      if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::system_error(errno, std::system_category(), "epoll_ctl");
    }
  }
  ~RawEpoll() { ::close(ep); }
  RawEpoll(const RawEpoll&) = delete;
  RawEpoll& operator=(const RawEpoll&) = delete;

  void wait_for(int fd) const {
    epoll_event ev{};
    for (;;) {
      const int n = ::epoll_wait(ep, &ev, 1, -1);
      if (n == 1 && ev.data.fd == fd) return;
      if (n < 0 && errno != EINTR) throw std::system_error(errno, std::system_category(), "wait");
    }
  }
};

template <bool UseEpoll>
void raw_trip(const SocketPair& sp, const RawEpoll* ep, char* msg, char* buf) {
  send_all(sp.fd[0], msg, kMessage);
  if constexpr (UseEpoll) ep->wait_for(sp.fd[1]);
  recv_all(sp.fd[1], buf);
  send_all(sp.fd[1], buf, kMessage);
  if constexpr (UseEpoll) ep->wait_for(sp.fd[0]);
  recv_all(sp.fd[0], buf);
}

template <bool UseEpoll>
void BM_RawPingPong(benchmark::State& state) {
  SocketPair sp;
  std::unique_ptr<RawEpoll> ep;
  if constexpr (UseEpoll) ep = std::make_unique<RawEpoll>(sp);
  std::array<char, kMessage> msg{};
  std::array<char, kReadBuffer> buf{};
  for (std::size_t i = 0; i < kWarmTrips; ++i)
    raw_trip<UseEpoll>(sp, ep.get(), msg.data(), buf.data());

  const double t0 = thread_cpu_ns();
  for (auto _ : state)
    raw_trip<UseEpoll>(sp, ep.get(), msg.data(), buf.data());
  const double ns = (thread_cpu_ns() - t0) / static_cast<double>(state.iterations());
  if (UseEpoll) g_raw_epoll_ns = ns;

  Probe probe;
  const SyscallCounter sc;
  const AllocCounts before = alloc_counts();
  const std::uint64_t mark = sc.start();
  for (std::size_t i = 0; i < kProbeTrips; ++i)
    raw_trip<UseEpoll>(sp, ep.get(), msg.data(), buf.data());
  probe.syscalls = sc.since(mark);
  probe.allocs = alloc_counts() - before;
  probe.trips = kProbeTrips;
  report(state, probe, ns, true);
}

}  // namespace

void register_io_benchmarks(const std::vector<std::string>& backends) {
  benchmark::RegisterBenchmark("PingPongBaseline/raw_direct", BM_RawPingPong<false>);
  benchmark::RegisterBenchmark("PingPongBaseline/raw_epoll", BM_RawPingPong<true>);
  for (const std::string& b : backends)
    benchmark::RegisterBenchmark(("PingPong/" + b).c_str(), BM_PingPong, b);
}

}  // namespace bench
