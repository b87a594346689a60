// What the TLS test files share: the throwaway certificates (made per test suite by
// tests/tls/make_certs.sh), contexts over them, a TLS echo server, and child processes
// for the peers nobody here wrote (openssl s_client/s_server, Python's ssl).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"

namespace corio::testing {

/// A backend-parameterised suite with the certificates made for it (TlsSuite::cert()).
class TlsSuite : public BackendTest {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
};

/// The path of `name` ("ca.pem", "server.key", ...) among the suite's certificates.
[[nodiscard]] std::string cert(const std::string& name);
/// A server context presenting the `name` certificate ("server", "expired", "other").
[[nodiscard]] TlsContext server_context(const std::string& name = "server");
/// A client context trusting the test CA (and verifying, as by default).
[[nodiscard]] TlsContext client_context();
/// Client stream options with TLS `ctx` (kept alive until the process ends) and SNI
/// `name`.
[[nodiscard]] StreamOptions tls_options(TlsContext ctx, std::string_view name = {});

/// Echoes lines until "quit\n" or EOF, then closes (sending close_notify).
Coro<void> echo_lines(StreamReader r, StreamWriter w);
/// Echoes bytes as they come (reads of up to 64 KiB) until EOF, then closes.
Coro<void> echo_bytes(StreamReader r, StreamWriter w);
/// A TLS server on 127.0.0.1 (a free port) running `handler`, handshake timeout 2 s.
Coro<Server> tls_echo_server(TlsContext ctx, StreamHandler handler = echo_lines);

/// A loopback port nobody listens on now (bound, read, released), for a child server.
[[nodiscard]] std::uint16_t free_port();
/// Streams to a child server on `host`:`port` once it listens: a refused connect is
/// retried every 25 ms, for 10 s at most (then nullopt).
Coro<std::optional<std::pair<StreamReader, StreamWriter>>> connect_when_listening(
    std::string host, std::uint16_t port, StreamOptions options = {});

/// A child process with stdin from the file `in` (none if empty) and stdout to the file
/// `out`; wait() reaps it on the thread pool, so the loop serves meanwhile. Killed when
/// destroyed unless waited for.
class Child {
 public:
  Child(std::vector<std::string> args, const std::string& in, const std::string& out);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  /// The exit status (127: could not start; 128 + N: killed by signal N).
  Coro<int> wait();

 private:
  pid_t pid_ = -1;
};

/// A file's whole content.
[[nodiscard]] std::string slurp(const std::string& path);

}  // namespace corio::testing
