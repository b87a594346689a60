// The skeleton the example servers share: listen, one task per connection, and a
// graceful stop on SIGINT/SIGTERM (stop accepting, let open connections finish for a
// grace period, cancel the rest), as an asyncio server does with
// `server.close(); await asyncio.wait_for(..., grace)`. With --threads N it runs N loops
// (a corio::Runtime), each accepting on its own SO_REUSEPORT listener.
#pragma once

#include <cstdint>
#include <string>

#include "connection.hpp"
#include "corio/corio.hpp"
#include "options.hpp"

namespace examples {

/// What every example server takes on its command line.
struct ServerOptions {
  std::string backend;  ///< empty: $CORIO_BACKEND, else auto
  std::string host = "127.0.0.1";
  std::uint16_t port = 8888;  ///< 0: the OS picks a free port (printed at start)
  double grace = 1.0;         ///< seconds open connections get to finish at shutdown
  std::int64_t threads = 1;   ///< event loops, one thread each, sharing the port
  bool pin_cpus = false;      ///< loop thread i on the i-th usable CPU (Linux)
  std::string tls_cert;       ///< PEM certificate chain: serve TLS (with tls_key)
  std::string tls_key;        ///< PEM private key of tls_cert
};

/// Adds --backend, --host, --port and --grace, writing into `options`.
void add_server_flags(CommandLine& cli, ServerOptions& options);
/// Adds --threads and --pin-cpus (for servers that use run_server).
void add_threads_flag(CommandLine& cli, ServerOptions& options);
/// Adds --tls-cert and --tls-key (for servers that use run_server with a TlsHandler).
void add_tls_flags(CommandLine& cli, ServerOptions& options);

/// Counters the handlers add to; printed as the summary when the server stops.
struct ServerStats {
  std::uint64_t connections = 0;  ///< accepted
  std::uint64_t requests = 0;     ///< messages echoed or requests answered
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t errors = 0;            ///< connections that ended on an error (reset, ...)
  std::uint64_t handshake_errors = 0;  ///< TLS handshakes that failed or timed out
  /// TLS connections the peer ended without close_notify: a truncation, but what HTTPS
  /// clients routinely do (wrk, s_time, many browsers), so counted apart from errors.
  std::uint64_t truncated = 0;
  std::uint64_t cancelled = 0;  ///< still open when the grace period ran out
};

/// Counts a handler's failed receive: a TLS peer closing without close_notify in
/// `stats.truncated`, anything else (a reset) in `stats.errors`. The handlers receive
/// with an error_code and end on a failure, rather than let an exception climb out
/// through every coroutine frame above, raised again at each: these failures end most
/// HTTPS connections (s_time and many clients reset, wrk truncates).
void count_receive_failure(const std::error_code& ec, ServerStats& stats) noexcept;

/// Serves one connection until the peer is done. An exception (a reset peer's
/// std::system_error, ...) ends this connection only and is counted in `errors`.
using Handler = corio::Coro<void> (*)(PlainConnection conn, ServerStats& stats);
/// The same over TLS: called once the handshake is done.
using TlsHandler = corio::Coro<void> (*)(TlsConnection conn, ServerStats& stats);

/// Runs a server on `options.threads` loops until SIGINT or SIGTERM. Prints `backend:
/// NAME`, `threads: N` and `listening on HOST:PORT` (the real port) to stdout first, and
/// a summary last (summed over the loops, after a `loop I: ...` line per loop when there
/// are several). Returns the process exit code: 0 after a signal, 1 if the backend or
/// the listening socket cannot be set up, or the TLS certificate or key cannot be loaded.
/// With options.tls_cert every connection is a TLS session served by `tls` (also printed:
/// `tls: on`); its handshake has 60 s, as in asyncio.
int run_server(const std::string& program, const ServerOptions& options, Handler handler,
               TlsHandler tls = nullptr);

}  // namespace examples
