#include "server.hpp"

#include <csignal>
#include <cstdio>
#include <exception>
#include <list>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace examples {
namespace {

using namespace std::chrono_literals;
using corio::Coro;
using corio::Socket;
using corio::Task;

/// The open connections, so shutdown can wait for them and then cancel the stragglers.
class Connections {
 public:
  Connections(Handler handler, TlsHandler tls_handler, const corio::TlsContext* tls,
              ServerStats& stats) noexcept
      : handler_(handler), tls_handler_(tls_handler), tls_(tls), stats_(stats) {}
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  void start(Socket conn) {
    idle_.clear();
    auto self = live_.emplace(live_.end());
    // The task only starts at our next suspension, by which time `self` holds it.
    *self = corio::create_task(run(std::move(conn), self));
  }

  /// Waits up to `grace` for every connection to end, then cancels the rest and waits
  /// until they have unwound.
  Coro<void> drain(corio::Duration grace) {
    if (!live_.empty()) {
      try {
        co_await corio::wait_for(idle_.wait(), grace);
      } catch (const corio::TimeoutError&) {
      }
    }
    std::vector<Task<>> rest(live_.begin(), live_.end());
    for (Task<>& t : rest)
      if (t.cancel()) ++stats_.cancelled;
    for (Task<>& t : rest) {
      try {
        co_await t;
      } catch (...) {  // CancelledError; other failures were counted by run()
      }
    }
    live_.clear();
  }

  [[nodiscard]] std::size_t size() const noexcept { return live_.size(); }

 private:
  using Entry = std::list<Task<>>::iterator;

  Coro<void> run(Socket conn, Entry self) {
    try {
      if (tls_ == nullptr) {
        PlainConnection c(std::move(conn));
        co_await handler_(std::move(c), stats_);
      } else {
        co_await run_tls(std::move(conn));
      }
    } catch (const std::exception&) {
      ++stats_.errors;  // this peer's problem, not the server's
    }
    // A cancelled connection skips this: drain() forgets it instead.
    live_.erase(self);
    if (live_.empty()) idle_.set();
  }

  Coro<void> run_tls(Socket conn) {
    std::unique_ptr<corio::Transport> plain = corio::socket_transport(std::move(conn));
    std::unique_ptr<corio::Transport> session;
    try {
      // The goodbye waits as long as a plaintext connection's linger (connection.cpp).
      corio::TlsOptions how;
      how.shutdown_timeout = kLinger;
      session = co_await corio::start_tls(std::move(plain), *tls_, how);
    } catch (const std::exception&) {
      ++stats_.handshake_errors;  // counted apart: a scanner is not a failed request
      co_return;
    }
    TlsConnection c(std::move(session));
    co_await tls_handler_(std::move(c), stats_);
  }

  Handler handler_;
  TlsHandler tls_handler_;
  const corio::TlsContext* tls_;  // nullptr: plaintext
  ServerStats& stats_;
  std::list<Task<>> live_;
  corio::Event idle_;
};

/// Whether accept() failed for lack of a resource that frees up by itself (a descriptor,
/// buffer memory). The connection stays in the backlog meanwhile.
bool out_of_resources(const std::error_code& ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

Coro<void> accept_loop(const std::string& program, const Socket& listener, Connections& conns,
                       ServerStats& stats) {
  bool starved = false;
  for (;;) {
    Socket conn;
    std::error_code error;
    try {
      conn = co_await listener.accept();
    } catch (const std::system_error& e) {
      error = e.code();
    }
    if (error) {
      // accept(2): ECONNABORTED and friends mean this one connection died in the
      // backlog; the next one may be fine.
      if (!out_of_resources(error)) continue;
      // Out of descriptors (EMFILE): the pending connection stays queued and the
      // listener stays readable, so retrying at once would spin at 100% CPU. Wait for
      // connections to close instead (libuv and Tokio back off the same way).
      if (!starved) {
        std::fprintf(stderr, "%s: accept: %s; retrying every 100 ms\n", program.c_str(),
                     error.message().c_str());
      }
      starved = true;
      co_await corio::sleep(100ms);
      continue;
    }
    if (starved) std::fprintf(stderr, "%s: accepting again\n", program.c_str());
    starved = false;
    ++stats.connections;
    conns.start(std::move(conn));
  }
}

/// What the loops of one server share. Only the channels cross threads: loop 0 binds
/// first (so --port 0 picks one port for all) and tells the others where; the others
/// report back when listening, so `listening on` means every loop accepts; SIGINT/SIGTERM
/// on loop 0 closes `stop`, which wakes every loop.
struct Group {
  explicit Group(std::size_t n) : loops(n), address(n), ready(n), stop(1), open_at_stop(n) {}
  std::size_t loops;
  corio::Channel<corio::Address> address;    // loop 0 -> the others
  corio::Channel<int> ready;                 // the others -> loop 0
  corio::Channel<int> stop;                  // never carries an item: closing it is the news
  corio::Channel<std::size_t> open_at_stop;  // the others -> loop 0, for its stop line
};

/// Removes our signal handlers when serve() ends, restoring the default dispositions.
struct SignalHandlers {
  SignalHandlers(Group& group, int& which) {
    for (int sig : {SIGINT, SIGTERM}) {
      corio::add_signal_handler(sig, [&group, &which, sig] {
        if (which == 0) which = sig;
        group.stop.close();
      });
    }
  }
  SignalHandlers(const SignalHandlers&) = delete;
  SignalHandlers& operator=(const SignalHandlers&) = delete;
  ~SignalHandlers() {
    corio::remove_signal_handler(SIGINT);
    corio::remove_signal_handler(SIGTERM);
  }
};

// Loop 0: resolves, listens first and hands the address to the other loops.
Coro<Socket> listen_first(const ServerOptions& options, bool tls, Group& group) {
  std::printf("backend: %s\n", std::string(corio::current_backend()).c_str());
  std::printf("threads: %zu\n", group.loops);
  if (tls) std::printf("tls: on\n");
  corio::ListenOptions how;
  how.reuse_port = group.loops > 1;
  Socket listener;
  try {
    std::vector<corio::Address> addresses = co_await corio::resolve(options.host, options.port);
    listener = corio::listen_on(addresses.front(), how);
  } catch (...) {
    group.address.close();  // the others give up quietly; our error is the one reported
    throw;
  }
  const corio::Address where = listener.local_address();
  for (std::size_t i = 1; i < group.loops; ++i)
    co_await group.address.send(where);  // room for all: never waits
  for (std::size_t i = 1; i < group.loops; ++i)
    (void)co_await group.ready.recv();
  co_return listener;
}

// The other loops: a listener of their own on loop 0's address; none if loop 0 failed.
Coro<Socket> listen_next(Group& group) {
  corio::Address where;
  try {
    where = co_await group.address.recv();
  } catch (const corio::ChannelClosed&) {
    co_return Socket();
  }
  corio::ListenOptions how;
  how.reuse_port = true;
  Socket listener = corio::listen_on(where, how);
  co_await group.ready.send(1);
  co_return listener;
}

Coro<ServerStats> serve(std::size_t index, std::string program, ServerOptions options,
                        Handler handler, TlsHandler tls_handler, const corio::TlsContext* tls,
                        Group& group) {
  const bool first = index == 0;
  Socket listener;
  if (first) {
    listener = co_await listen_first(options, tls != nullptr, group);
  } else {
    listener = co_await listen_next(group);
  }
  if (!listener.is_open()) co_return ServerStats{};

  // Handlers first: a signal sent as soon as the port is printed must already find them.
  int which = 0;
  std::optional<SignalHandlers> handlers;
  if (first) {
    handlers.emplace(group, which);
    std::printf("listening on %s\n", listener.local_address().to_string().c_str());
    std::fflush(stdout);
  }

  ServerStats stats;
  Connections conns(handler, tls_handler, tls, stats);
  Task<> acceptor = corio::create_task(accept_loop(program, listener, conns, stats));
  try {
    (void)co_await group.stop.recv();
  } catch (const corio::ChannelClosed&) {
  }

  acceptor.cancel();
  try {
    co_await acceptor;
  } catch (const corio::CancelledError&) {
  }
  listener.close();  // new connections are refused from here on
  if (first) {
    std::size_t open = conns.size();
    for (std::size_t i = 1; i < group.loops; ++i)
      open += co_await group.open_at_stop.recv();
    std::printf("%s: stopping, %zu connection(s) open, %.3g s grace\n",
                which == SIGINT ? "SIGINT" : "SIGTERM", open, options.grace);
  } else {
    co_await group.open_at_stop.send(conns.size());
  }
  co_await conns.drain(
      std::chrono::duration_cast<corio::Duration>(std::chrono::duration<double>(options.grace)));
  co_return stats;
}

}  // namespace

void add_server_flags(CommandLine& cli, ServerOptions& options) {
  cli.backend(options.backend)
      .text("--host", "H", "address to listen on (default 127.0.0.1)", options.host)
      .port("--port", "port to listen on (default 8888; 0 picks a free one)", options.port)
      .seconds("--grace", "on SIGINT/SIGTERM, seconds open connections get (default 1)",
               options.grace);
}

void add_threads_flag(CommandLine& cli, ServerOptions& options) {
  cli.integer("--threads", "N",
              "event loops, one thread each, sharing the port with SO_REUSEPORT (default 1)",
              options.threads, 1, 1024)
      .toggle("--pin-cpus", "pin loop thread i to the i-th usable CPU (Linux)", options.pin_cpus);
}

void add_tls_flags(CommandLine& cli, ServerOptions& options) {
  cli.text("--tls-cert", "FILE", "serve TLS with this PEM certificate chain (needs --tls-key)",
           options.tls_cert)
      .text("--tls-key", "FILE", "the PEM private key of --tls-cert", options.tls_key);
}

int run_server(const std::string& program, const ServerOptions& options, Handler handler,
               TlsHandler tls_handler) {
  // One context for every loop: OpenSSL shares it between threads.
  std::optional<corio::TlsContext> tls;
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty() || tls_handler == nullptr) {
      std::fprintf(stderr, "%s: TLS needs both --tls-cert and --tls-key\n", program.c_str());
      return 2;
    }
    try {
      tls = corio::TlsContext::server(options.tls_cert, options.tls_key);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
      return 1;
    }
  }
  corio::RunOptions run_options;
  run_options.backend = options.backend;
  run_options.threads = static_cast<std::size_t>(options.threads);
  run_options.pin_cpus = options.pin_cpus;
  Group group(run_options.threads);
  std::vector<ServerStats> per_loop;
  try {
    per_loop = corio::run_threads(
        [&](std::size_t i) {
          return serve(i, program, options, handler, tls_handler, tls ? &*tls : nullptr, group);
        },
        run_options);
  } catch (const corio::BackendError& e) {
    std::fprintf(stderr, "%s\n", e.what());  // lists the valid names
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());  // EADDRINUSE, bad host...
    return 1;
  }
  ServerStats stats;
  for (std::size_t i = 0; i < per_loop.size(); ++i) {
    const ServerStats& s = per_loop[i];
    if (per_loop.size() > 1) {
      std::printf("loop %zu: %llu connections, %llu requests\n", i,
                  static_cast<unsigned long long>(s.connections),
                  static_cast<unsigned long long>(s.requests));
    }
    stats.connections += s.connections;
    stats.requests += s.requests;
    stats.bytes_in += s.bytes_in;
    stats.bytes_out += s.bytes_out;
    stats.errors += s.errors;
    stats.handshake_errors += s.handshake_errors;
    stats.truncated += s.truncated;
    stats.cancelled += s.cancelled;
  }
  std::printf(
      "summary: %llu connections, %llu requests, %llu bytes in, %llu bytes out, %llu errors, "
      "%llu cancelled after the grace period\n",
      static_cast<unsigned long long>(stats.connections),
      static_cast<unsigned long long>(stats.requests),
      static_cast<unsigned long long>(stats.bytes_in),
      static_cast<unsigned long long>(stats.bytes_out),
      static_cast<unsigned long long>(stats.errors),
      static_cast<unsigned long long>(stats.cancelled));
  if (tls) {
    std::printf(
        "tls: %llu handshakes failed or timed out, %llu connections closed without "
        "close_notify\n",
        static_cast<unsigned long long>(stats.handshake_errors),
        static_cast<unsigned long long>(stats.truncated));
  }
  return 0;
}

void count_receive_failure(const std::error_code& ec, ServerStats& stats) noexcept {
  if (ec == corio::TlsErrc::truncated) {
    ++stats.truncated;
  } else {
    ++stats.errors;
  }
}

}  // namespace examples
