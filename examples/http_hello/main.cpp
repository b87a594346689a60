// http_hello: a minimal HTTP/1.1 server that answers every request with
// "Hello, world!" (the "hello world" of HTTP benchmarks, as served by wrk's examples).
//
//   http_hello [--host H] [--port N] [--grace S] [--idle-timeout S] [--backend NAME]
//              [--threads N] [--tls-cert FILE --tls-key FILE]
//
// Keep-alive by default in HTTP/1.1 (closes on `Connection: close`); HTTP/1.0 closes
// unless the client asked for keep-alive. Pipelined requests are answered in order,
// with one send for all the answers a single read made possible. Malformed requests get
// 400, heads over 8 KiB get 431, then the connection closes. A connection that makes no
// progress (nothing received, nothing sent) for --idle-timeout seconds is closed, so
// idle or stalled clients (slowloris) and clients that never read cannot hold a
// connection forever. Same start-up lines, signals and summary as echo_server. With
// --tls-cert and --tls-key it serves HTTPS.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "corio/corio.hpp"
#include "http_parser.hpp"
#include "options.hpp"
#include "server.hpp"

namespace {

using namespace std::chrono_literals;
using corio::Coro;

// --idle-timeout, seconds (0: never). Set once in main, before the loop runs.
double g_idle_timeout = 60;

// The moment a connection last made progress; the watchdog shuts down one that stalled.
struct Progress {
  corio::TimePoint last;
};

// Shuts a connection's socket down once it has been idle for `idle`: the pending recv
// sees EOF, a pending send fails, and the handler ends. A timer that fires every quarter
// of the timeout (one per connection, nothing per request), cancelled when the handler
// leaves. Not a task sleeping in a loop: cancelling that raises a CancelledError in it,
// 14,000 instructions (callgrind), 3 % of a whole resumed HTTPS handshake's.
template <class Conn>
class IdleWatchdog {
 public:
  IdleWatchdog(Conn& conn, const Progress& progress, corio::Duration idle)
      : conn_(conn), progress_(progress), idle_(idle) {
    arm();
  }
  IdleWatchdog(const IdleWatchdog&) = delete;
  IdleWatchdog& operator=(const IdleWatchdog&) = delete;
  ~IdleWatchdog() { timer_.cancel(); }

 private:
  void arm() {
    timer_ = corio::get_running_loop().call_later(idle_ / 4, [this] { check(); });
  }
  void check() noexcept {
    if (corio::get_running_loop().now() - progress_.last < idle_) {
      arm();
    } else {
      conn_.stop();
    }
  }

  Conn& conn_;
  const Progress& progress_;
  corio::Duration idle_;
  corio::TimerHandle timer_;
};

std::string response(std::string_view status, std::string_view body, bool keep_alive,
                     bool with_body = true) {
  std::string r = "HTTP/1.1 " + std::string(status) +
                  "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                  (keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close") +
                  "\r\n\r\n";
  if (with_body) r += body;
  return r;
}

// Built once: answering a request is an append of one of these.
const std::string kHello = response("200 OK", "Hello, world!", true);
const std::string kHelloClose = response("200 OK", "Hello, world!", false);
const std::string kHelloHead = response("200 OK", "Hello, world!", true, false);
const std::string kHelloHeadClose = response("200 OK", "Hello, world!", false, false);
const std::string kBadRequest = response("400 Bad Request", "Bad Request\n", false);
const std::string kTooLarge =
    response("431 Request Header Fields Too Large", "Request Header Fields Too Large\n", false);
const std::string kBadVersion =
    response("505 HTTP Version Not Supported", "HTTP Version Not Supported\n", false);
const std::string kNotImplemented =
    response("501 Not Implemented", "Transfer-Encoding is not supported\n", false);

// Room for the largest head plus what follows it in the same read.
constexpr std::size_t kInputSize = 2 * http::kMaxHeadSize;
// Answers are sent once this much is waiting, even if more requests are buffered.
constexpr std::size_t kOutputFlush = 64 * 1024;

const std::string& answer(const http::Request& req) {
  const bool head = req.method == "HEAD";
  if (req.keep_alive()) return head ? kHelloHead : kHello;
  return head ? kHelloHeadClose : kHelloClose;
}

const std::string& error_answer(http::ParseStatus status) {
  switch (status) {
    case http::ParseStatus::too_large:
      return kTooLarge;
    case http::ParseStatus::bad_version:
      return kBadVersion;
    default:
      return kBadRequest;
  }
}

template <class Conn>
corio::Coro<void> serve_http(Conn conn, examples::ServerStats& stats) {
  conn.set_no_delay();
  Progress progress{corio::get_running_loop().now()};
  std::optional<IdleWatchdog<Conn>> watchdog;
  if (g_idle_timeout > 0) {
    watchdog.emplace(
        conn, progress,
        std::chrono::duration_cast<corio::Duration>(std::chrono::duration<double>(g_idle_timeout)));
  }
  std::unique_ptr<char[]> input(new char[kInputSize]);
  std::string output;
  output.reserve(kOutputFlush + http::kMaxHeadSize);
  std::size_t begin = 0;  // unparsed input is [begin, end)
  std::size_t end = 0;
  std::uint64_t body_left = 0;  // of the request just answered: skipped, not read
  http::Request req;
  for (;;) {
    bool closing = false;
    // Answer every complete request that is buffered, in order.
    while (!closing && output.size() < kOutputFlush) {
      const auto skip = static_cast<std::size_t>(std::min<std::uint64_t>(body_left, end - begin));
      begin += skip;
      body_left -= skip;
      if (body_left > 0) break;
      const http::ParseResult r =
          http::parse_request(std::string_view(input.get() + begin, end - begin), req);
      if (r.status == http::ParseStatus::need_more) break;
      if (r.status != http::ParseStatus::complete) {
        output += error_answer(r.status);
        closing = true;
      } else if (req.transfer_encoding) {
        output += kNotImplemented;  // a chunked body's length is unknown: we cannot skip it
        closing = true;
      } else {
        begin += r.consumed;
        body_left = req.content_length.value_or(0);
        output += answer(req);
        closing = !req.keep_alive();
        ++stats.requests;
      }
    }
    // One send (usually) for everything answered above.
    for (std::size_t sent = 0; sent < output.size();) {
      sent += co_await conn.send(output.data() + sent, output.size() - sent);
      progress.last = corio::get_running_loop().now();
    }
    stats.bytes_out += output.size();
    const bool flushed_early = output.size() >= kOutputFlush;
    output.clear();
    if (closing) {
      co_await conn.close_gracefully(input.get(), kInputSize);
      co_return;
    }
    if (flushed_early) continue;  // more requests may be complete already
    // Keep the unparsed tail at the front, so a head always fits after it.
    if (begin > 0) {
      std::memmove(input.get(), input.get() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    std::error_code failed;
    const std::size_t n = co_await conn.recv(input.get() + end, kInputSize - end, failed);
    if (failed) {
      examples::count_receive_failure(failed, stats);
      co_return;
    }
    if (n == 0) co_return;  // the client is done (a partial request is dropped)
    progress.last = corio::get_running_loop().now();
    end += n;
    stats.bytes_in += n;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  examples::ServerOptions options;
  examples::CommandLine cli(
      "http_hello",
      "Minimal HTTP/1.1 server: answers every request with \"Hello, world!\".\n"
      "Keep-alive and pipelining; SIGINT/SIGTERM stop it.");
  examples::add_server_flags(cli, options);
  examples::add_threads_flag(cli, options);
  examples::add_tls_flags(cli, options);
  cli.seconds("--idle-timeout",
              "close a connection that makes no progress for S seconds (default 60; 0: never)",
              g_idle_timeout);
  if (std::optional<int> exit_code = cli.parse(argc, argv)) return *exit_code;
  return examples::run_server("http_hello", options, &serve_http<examples::PlainConnection>,
                              &serve_http<examples::TlsConnection>);
}
