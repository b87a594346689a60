// echo_client: loads an echo server and checks every byte it sends back.
//
//   echo_client [--host H] [--port N] [--conns N] [--messages M] [--size B]
//               [--random-size] [--backend NAME] [--tls [--ca FILE]]
//
// Opens N connections, then each sends M messages of B bytes (random content; with
// --random-size, random lengths from 1 to B), one at a time, waiting for the whole echo
// before the next. Prints the request rate and the p50/p99 round-trip latency; exits 1
// if any byte differs, a connection fails, or the server closes early. With --tls every
// connection is a TLS session, the server's certificate checked against the system's
// CAs (or --ca FILE) and --host; the handshakes are done before the timing starts.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "connection.hpp"
#include "corio/corio.hpp"
#include "options.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corio::Coro;
using corio::Socket;

struct Options {
  std::string backend;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8888;
  std::int64_t conns = 10;
  std::int64_t messages = 1000;
  std::int64_t size = 64;
  bool random_size = false;
  bool tls = false;
  std::string ca;  // empty: the system's trust store
};

/// What the connections report back.
struct Results {
  std::vector<std::uint32_t> latency_ns;  // one per message, every connection
  std::vector<std::string> errors;
};

// Messages up to this size are sent before reading the echo: it fits in the socket
// buffers on both sides (Linux starts them at 16 KiB to send and 128 KiB to receive).
// A bigger message could fill them while nobody reads, so its send runs as a task of
// its own, concurrently with the reads.
constexpr std::size_t kInlineLimit = 16 * 1024;

template <class Conn>
Coro<void> send_every_byte(const Conn& s, const char* data, std::size_t len) {
  for (std::size_t sent = 0; sent < len;)
    sent += co_await s.send(data + sent, len - sent);
}

template <class Conn>
Coro<void> recv_exactly(const Conn& s, char* data, std::size_t len) {
  for (std::size_t got = 0; got < len;) {
    std::size_t n = co_await s.recv(data + got, len - got);
    if (n == 0) {
      throw std::runtime_error("the server closed the connection after " + std::to_string(got) +
                               " of " + std::to_string(len) + " bytes");
    }
    got += n;
  }
}

template <class Conn>
Coro<void> exchange(const Options& o, std::size_t index, Conn s, Results& results) {
  const auto max = static_cast<std::size_t>(o.size);
  std::mt19937_64 rng(std::random_device{}() ^ (index * 0x9E3779B97F4A7C15ULL));
  // Each message is a random window of a random pool twice its maximum size, so the
  // content changes from one message to the next without generating it each time.
  std::vector<char> pool(2 * max);
  for (char& c : pool)
    c = static_cast<char>(rng());
  std::vector<char> echo(max);
  std::uniform_int_distribution<std::size_t> length_of(1, max);
  std::uniform_int_distribution<std::size_t> offset_of(0, max);
  for (std::int64_t m = 0; m < o.messages; ++m) {
    const std::size_t len = o.random_size ? length_of(rng) : max;
    const char* message = pool.data() + offset_of(rng);
    const Clock::time_point start = Clock::now();
    if (len <= kInlineLimit) {
      co_await send_every_byte(s, message, len);
      co_await recv_exactly(s, echo.data(), len);
    } else {
      corio::Task<> sending = corio::create_task(send_every_byte(s, message, len));
      co_await recv_exactly(s, echo.data(), len);
      co_await sending;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
    results.latency_ns.push_back(
        static_cast<std::uint32_t>(std::min<std::int64_t>(ns.count(), UINT32_MAX)));
    if (std::memcmp(message, echo.data(), len) != 0) {
      const auto at = std::mismatch(message, message + len, echo.data()).first - message;
      throw std::runtime_error("message " + std::to_string(m) + " (" + std::to_string(len) +
                               " bytes) differs from its echo at byte " + std::to_string(at));
    }
  }
  // Nothing may follow the last echo: half-close and expect a clean end of stream. A
  // TLS session cannot half-close: its close_notify goes when `s` is destroyed.
  if constexpr (Conn::kCanHalfClose) {
    s.shutdown_send();
    char extra = 0;
    // Bound to a variable: g++ 12 hangs on a co_await compared inside an `if`
    // condition when the operation completes without suspending.
    const std::size_t after = co_await s.recv(&extra, 1);
    if (after != 0) throw std::runtime_error("bytes after the last echo");
  }
}

/// Runs one connection, turning its failure into a line of the report.
template <class Conn, class Connected>
Coro<void> run_connection(const Options& o, std::size_t index, Connected c, Results& results) {
  try {
    Conn conn(std::move(c));
    conn.set_no_delay();
    co_await exchange(o, index, std::move(conn), results);
  } catch (const std::exception& e) {
    results.errors.push_back("connection " + std::to_string(index) + ": " + e.what());
  }
}

Coro<Socket> connect_one(corio::Address to) {
  co_return co_await corio::wait_for(corio::connect(to), 10s);
}

Coro<std::unique_ptr<corio::Transport>> connect_tls(corio::Address to, const corio::TlsContext& ctx,
                                                    const std::string& host) {
  Socket s = co_await connect_one(to);
  std::unique_ptr<corio::Transport> plain = corio::socket_transport(std::move(s));
  corio::TlsOptions how;
  how.server_hostname = host;
  how.handshake_timeout = 10s;
  co_return co_await corio::start_tls(std::move(plain), ctx, how);
}

/// Connects everyone first, so the timing measures echoes, not handshakes; then runs
/// every connection. Returns the seconds the exchanges took.
template <class Conn, class Connected>
Coro<double> run_all(const Options& o, std::vector<Coro<Connected>> connecting,
                     const corio::Address& to, Results& results) {
  std::vector<Connected> connected = co_await corio::gather(std::move(connecting));
  std::printf("connected %zu to %s%s\n", connected.size(), to.to_string().c_str(),
              Conn::kCanHalfClose ? "" : " over TLS");
  std::vector<Coro<void>> running;
  for (std::size_t i = 0; i < connected.size(); ++i)
    running.push_back(run_connection<Conn>(o, i, std::move(connected[i]), results));
  const Clock::time_point start = Clock::now();
  co_await corio::gather(std::move(running));
  co_return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile_us(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  auto nth = v.begin() + static_cast<std::ptrdiff_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), nth, v.end());
  return *nth / 1000.0;
}

Coro<int> client_main(Options o) {
  std::printf("backend: %s\n", std::string(corio::current_backend()).c_str());
  std::vector<corio::Address> to = co_await corio::resolve(o.host, o.port);
  Results results;
  results.latency_ns.reserve(
      static_cast<std::size_t>(std::min<std::int64_t>(o.conns * o.messages, 1 << 24)));
  double seconds = 0;
  if (o.tls) {
    corio::TlsContext ctx = corio::TlsContext::client();
    if (!o.ca.empty()) ctx.load_verify_locations(o.ca);
    std::vector<Coro<std::unique_ptr<corio::Transport>>> connecting;
    for (std::int64_t i = 0; i < o.conns; ++i)
      connecting.push_back(connect_tls(to.front(), ctx, o.host));
    seconds =
        co_await run_all<examples::TlsConnection>(o, std::move(connecting), to.front(), results);
  } else {
    std::vector<Coro<Socket>> connecting;
    for (std::int64_t i = 0; i < o.conns; ++i)
      connecting.push_back(connect_one(to.front()));
    seconds =
        co_await run_all<examples::PlainConnection>(o, std::move(connecting), to.front(), results);
  }

  const std::size_t done = results.latency_ns.size();
  std::printf("%zu requests in %.3f s: %.0f req/s\n", done, seconds,
              seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
  const double p50 = percentile_us(results.latency_ns, 0.50);
  const double p99 = percentile_us(results.latency_ns, 0.99);
  std::printf("latency p50: %.1f µs, p99: %.1f µs\n", p50, p99);
  if (results.errors.empty()) co_return 0;
  for (std::size_t i = 0; i < results.errors.size() && i < 10; ++i)
    std::fprintf(stderr, "echo_client: %s\n", results.errors[i].c_str());
  std::fprintf(stderr, "echo_client: %zu of %lld connections failed\n", results.errors.size(),
               static_cast<long long>(o.conns));
  co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  Options o;
  std::int64_t port = o.port;
  examples::CommandLine cli(
      "echo_client",
      "Loads an echo server with N connections of M messages each, checks every echoed\n"
      "byte, and prints req/s and p50/p99 latency. Exits 1 on any mismatch or error.");
  cli.backend(o.backend)
      .text("--host", "H", "server address or name (default 127.0.0.1)", o.host)
      .integer("--port", "N", "server port (default 8888)", port, 1, 65535)
      .integer("--conns", "N", "concurrent connections (default 10)", o.conns, 1, 100000)
      .integer("--messages", "M", "messages per connection (default 1000)", o.messages, 1,
               1'000'000'000)
      .integer("--size", "B", "message size in bytes (default 64)", o.size, 1, 64 << 20)
      .toggle("--random-size", "random message sizes from 1 to B", o.random_size)
      .toggle("--tls", "connect over TLS, checking the certificate against --host", o.tls)
      .text("--ca", "FILE", "with --tls: trust the CAs in this PEM file (default: the system's)",
            o.ca);
  if (std::optional<int> exit_code = cli.parse(argc, argv)) return *exit_code;
  o.port = static_cast<std::uint16_t>(port);

  corio::RunOptions run_options;
  run_options.backend = o.backend;
  try {
    return corio::run(client_main(o), run_options);
  } catch (const corio::BackendError& e) {
    std::fprintf(stderr, "%s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_client: %s\n", e.what());  // connection refused, timeout...
  }
  return 1;
}
