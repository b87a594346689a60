#include "server.hpp"

#include <csignal>
#include <cstdio>
#include <exception>
#include <list>
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
  Connections(Handler handler, ServerStats& stats) noexcept : handler_(handler), stats_(stats) {}
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
      co_await handler_(std::move(conn), stats_);
    } catch (const std::exception&) {
      ++stats_.errors;  // this peer's problem, not the server's
    }
    // A cancelled connection skips this: drain() forgets it instead.
    live_.erase(self);
    if (live_.empty()) idle_.set();
  }

  Handler handler_;
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

/// Removes our signal handlers when serve() ends, restoring the default dispositions.
struct SignalHandlers {
  SignalHandlers(corio::Event& stop, int& which) {
    for (int sig : {SIGINT, SIGTERM}) {
      corio::add_signal_handler(sig, [&stop, &which, sig] {
        if (which == 0) which = sig;
        stop.set();
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

Coro<ServerStats> serve(std::string program, ServerOptions options, Handler handler) {
  std::printf("backend: %s\n", std::string(corio::current_backend()).c_str());
  std::vector<corio::Address> addresses = co_await corio::resolve(options.host, options.port);
  Socket listener = corio::listen_on(addresses.front());

  // Handlers first: a signal sent as soon as the port is printed must already find them.
  corio::Event stop;
  int which = 0;
  SignalHandlers handlers(stop, which);
  std::printf("listening on %s\n", listener.local_address().to_string().c_str());
  std::fflush(stdout);

  ServerStats stats;
  Connections conns(handler, stats);
  Task<> acceptor = corio::create_task(accept_loop(program, listener, conns, stats));
  co_await stop.wait();

  acceptor.cancel();
  try {
    co_await acceptor;
  } catch (const corio::CancelledError&) {
  }
  listener.close();  // new connections are refused from here on
  std::printf("%s: stopping, %zu connection(s) open, %.3g s grace\n",
              which == SIGINT ? "SIGINT" : "SIGTERM", conns.size(), options.grace);
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

int run_server(const std::string& program, const ServerOptions& options, Handler handler) {
  corio::RunOptions run_options;
  run_options.backend = options.backend;
  ServerStats stats;
  try {
    stats = corio::run(serve(program, options, handler), run_options);
  } catch (const corio::BackendError& e) {
    std::fprintf(stderr, "%s\n", e.what());  // lists the valid names
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());  // EADDRINUSE, bad host...
    return 1;
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
  return 0;
}

}  // namespace examples
