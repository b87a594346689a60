// echo_server: a TCP echo server, one task per connection (asyncio's echo server
// with loop.sock_recv / loop.sock_sendall).
//
//   echo_server [--host H] [--port N] [--grace S] [--backend NAME] [--threads N]
//               [--tls-cert FILE --tls-key FILE]
//
// Prints `backend: NAME` and `listening on HOST:PORT`; stops on SIGINT/SIGTERM after
// a grace period for open connections, printing a summary. The per-message path is one
// recv and (unless the socket buffer is full) one send into a buffer owned by the
// connection, so it allocates nothing: the benchmarks compare it with a raw epoll loop.
// With --tls-cert and --tls-key it echoes inside TLS sessions instead.
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>

#include "corio/corio.hpp"
#include "options.hpp"
#include "server.hpp"

namespace {

// 64 KiB: a loopback read rarely returns more, and fewer, bigger reads are what make
// large messages cheap.
constexpr std::size_t kBufferSize = 64 * 1024;

template <class Conn>
corio::Coro<void> echo(Conn conn, examples::ServerStats& stats) {
  conn.set_no_delay();
  std::unique_ptr<char[]> buffer(new char[kBufferSize]);
  for (;;) {
    std::error_code failed;
    const std::size_t n = co_await conn.recv(buffer.get(), kBufferSize, failed);
    if (failed) {
      examples::count_receive_failure(failed, stats);
      break;
    }
    if (n == 0) break;  // the peer closed its side: we are done too
    stats.bytes_in += n;
    // Not send_all(): that is a coroutine of its own, a frame per message.
    for (std::size_t sent = 0; sent < n;)
      sent += co_await conn.send(buffer.get() + sent, n - sent);
    stats.bytes_out += n;
    ++stats.requests;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a pipe: whoever started us reads the port as soon as it
  // is printed.
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  examples::ServerOptions options;
  examples::CommandLine cli("echo_server",
                            "TCP echo server: sends every byte back. SIGINT/SIGTERM stop it.");
  examples::add_server_flags(cli, options);
  examples::add_threads_flag(cli, options);
  examples::add_tls_flags(cli, options);
  if (std::optional<int> exit_code = cli.parse(argc, argv)) return *exit_code;
  return examples::run_server("echo_server", options, &echo<examples::PlainConnection>,
                              &echo<examples::TlsConnection>);
}
