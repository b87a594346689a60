// Workloads over TCP: echo ping-pong and accept rate against a server on its own thread
// (its own loop and backend instance, so client and server each get a core), and http
// against http_hello.
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "bench.hpp"
#include "corio/corio.hpp"
#include "syscall_counter.hpp"

namespace corio_bench {
namespace {

using Clock = std::chrono::steady_clock;

enum class ServerKind { echo, close_at_once };

// A corio server on its own thread. Its CPU time is read through the thread's CPU
// clock; its syscalls are counted in the thread itself when asked.
class ServerThread {
 public:
  ServerThread(const std::string& backend, ServerKind kind, bool count_syscalls) {
    std::promise<std::uint16_t> port;
    auto ready = port.get_future();
    thread_ = std::thread([this, backend, kind, count_syscalls, p = std::move(port)]() mutable {
      bench::SyscallCounter* counter = nullptr;
      std::unique_ptr<bench::SyscallCounter> owned;
      if (count_syscalls) {
        owned = std::make_unique<bench::SyscallCounter>();
        if (owned->available()) counter = owned.get();
      }
      const std::uint64_t mark = counter != nullptr ? counter->start() : 0;
      try {
        corio::run(serve(kind, p), corio::RunOptions{.backend = backend});
      } catch (...) {
        try {
          p.set_exception(std::current_exception());
        } catch (const std::future_error&) {
        }
      }
      if (counter != nullptr) syscalls_ = static_cast<std::int64_t>(counter->since(mark));
    });
    try {
      port_ = ready.get();
    } catch (...) {
      thread_.join();  // the thread failed before serving (e.g. the backend did not open)
      throw;
    }
    ::pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
  }
  ~ServerThread() { stop(); }

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// CPU seconds the server thread has used so far.
  [[nodiscard]] double cpu_seconds() const noexcept {
    timespec ts{};
    ::clock_gettime(cpu_clock_, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
  /// Heap allocations the server thread has made so far, read on its own loop (the
  /// counters are per thread); -1 if the loop is gone.
  [[nodiscard]] std::int64_t allocations() const {
    corio::EventLoop* loop = loop_.load();
    if (loop == nullptr) return -1;
    std::promise<std::int64_t> done;
    auto got = done.get_future();
    try {
      loop->call_soon_threadsafe(
          [&done] { done.set_value(static_cast<std::int64_t>(bench::alloc_counts().news)); });
    } catch (const std::exception&) {
      return -1;  // closed
    }
    return got.get();
  }
  /// Stops and joins; returns the syscalls the thread made (-1 if not counted).
  std::int64_t stop() {
    if (thread_.joinable()) {
      if (corio::EventLoop* loop = loop_.load()) {
        loop->call_soon_threadsafe([this] { stop_.set(); });
      }
      thread_.join();
    }
    return syscalls_;
  }

 private:
  corio::Coro<void> serve(ServerKind kind, std::promise<std::uint16_t>& port) {
    corio::Socket listener =
        corio::listen_on(corio::Address::loopback(corio::AddressFamily::ipv4, 0));
    auto accept_loop = [](corio::Socket& l, ServerKind kind) -> corio::Coro<void> {
      for (;;) {
        corio::Socket s = co_await l.accept();
        if (kind == ServerKind::close_at_once) continue;  // closed here: FIN at once
        s.set_option(corio::SocketOption::no_delay, 1);
        corio::spawn(echo(std::move(s)));
      }
    };
    corio::Task<void> acceptor = corio::create_task(accept_loop(listener, kind));
    loop_ = &corio::EventLoop::running();
    port.set_value(listener.local_address().port());
    co_await stop_.wait();
    acceptor.cancel();
  }

  static corio::Coro<void> echo(corio::Socket s) {
    std::vector<char> buf(64 * 1024);
    try {
      for (;;) {
        const std::size_t n = co_await s.recv(buf.data(), buf.size());
        if (n == 0) break;
        co_await s.send_all(std::string_view(buf.data(), n));
      }
    } catch (const std::system_error&) {
      // a client that resets is not the server's failure
    }
  }

  std::thread thread_;
  std::atomic<corio::EventLoop*> loop_{nullptr};
  corio::Event stop_;
  std::uint16_t port_ = 0;
  clockid_t cpu_clock_{};
  std::int64_t syscalls_ = -1;
};

// One closed-loop echo connection: send a message, read it back, verify every byte.
corio::Coro<void> echo_client(const Config& c, corio::Address to, int id, const Window& w,
                              Result& r, Progress& p) {
  corio::Socket s = co_await corio::connect(to);
  s.set_option(corio::SocketOption::no_delay, 1);
  std::string msg(c.size, '\0');
  std::string back(c.size, '\0');
  for (std::uint64_t seq = 0;; ++seq) {
    const auto t0 = Clock::now();
    if (t0 >= w.end) break;
    for (std::size_t i = 0; i < msg.size(); ++i)
      msg[i] = static_cast<char>(id * 131 + seq * 7 + i);
    co_await s.send_all(msg);
    std::size_t got = 0;
    while (got < back.size()) {
      const std::size_t n = co_await s.recv(back.data() + got, back.size() - got);
      if (n == 0) throw std::runtime_error("echo: the server closed the connection");
      got += n;
    }
    if (back != msg) ++r.errors;
    w.sample(r, t0, ns_between(t0, Clock::now()));
    p.update(r.ops);
  }
}

// Connect, wait for the server's close, abort (RST: no TIME_WAIT piles up).
corio::Coro<void> accept_client(corio::Address to, const Window& w, Result& r, Progress& p) {
  for (;;) {
    const auto t0 = Clock::now();
    if (t0 >= w.end) break;
    corio::Socket s = co_await corio::connect(to);
    char c;
    (void)co_await s.recv(&c, 1);
    linger lg{1, 0};
    ::setsockopt(static_cast<int>(s.handle()), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    w.sample(r, t0, ns_between(t0, Clock::now()));
    p.update(r.ops);
  }
}

// Clients on `backend` against the in-process server (its thread's CPU counts) or the
// external one at --host/--port (this process's CPU counts). With `server_syscalls`
// the server thread counts its own syscalls into it.
template <class MakeClient>
Result drive(const Config& c, const std::string& backend, ServerKind kind, MakeClient make,
             std::int64_t* server_syscalls = nullptr) {
  Result r;
  Progress p(c, backend);
  std::unique_ptr<ServerThread> server;
  corio::Address to;
  if (c.port != 0) {
    to = corio::Address::ip(c.host, static_cast<std::uint16_t>(c.port));
    r.cpu_scope = "client process (external server)";
  } else {
    server = std::make_unique<ServerThread>(backend, kind, server_syscalls != nullptr);
    to = corio::Address::loopback(corio::AddressFamily::ipv4, server->port());
    r.cpu_scope = "server thread";
  }
  auto cpu = [](const void* s) {
    return s != nullptr ? static_cast<const ServerThread*>(s)->cpu_seconds()
                        : process_cpu_seconds();
  };
  auto allocs = [](const void* s) -> std::int64_t {
    return s != nullptr ? static_cast<const ServerThread*>(s)->allocations() : -1;
  };
  run_clients(
      c, backend, r, p, cpu, server.get(),
      [&](int id, const Window& w) { return make(to, id, w, r, p); }, allocs);
  if (server) {
    const std::int64_t calls = server->stop();
    if (server_syscalls != nullptr) *server_syscalls = calls;
  }
  return r;
}

}  // namespace

Result run_echo(const Config& c, const std::string& backend) {
  auto make = [&](corio::Address to, int id, const Window& w, Result& res, Progress& p) {
    return echo_client(c, to, id, w, res, p);
  };
  Result r = drive(c, backend, ServerKind::echo, make);
  if (c.count_syscalls && c.port == 0 && bench::SyscallCounter().available()) {
    // A short run with the server thread counting its own syscalls (counting slows
    // syscalls, so it never overlaps the timed run).
    Config q = c;
    q.duration = 0.3;
    q.warmup = 0;
    q.quiet = true;
    std::int64_t calls = -1;
    const Result probe = drive(q, backend, ServerKind::echo, make, &calls);
    if (calls >= 0 && probe.ops > 0) {
      r.syscalls_per_op = static_cast<double>(calls) / static_cast<double>(probe.ops);
    }
  }
  return r;
}

Result run_accept(const Config& c, const std::string& backend) {
  return drive(c, backend, ServerKind::close_at_once,
               [](corio::Address to, int, const Window& w, Result& res, Progress& p) {
                 return accept_client(to, w, res, p);
               });
}

}  // namespace corio_bench
