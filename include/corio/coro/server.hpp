// Servers: accept connections and run a handler on each one's streams (asyncio's
// start_server and Server).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "corio/coro/coro.hpp"
#include "corio/coro/socket.hpp"
#include "corio/coro/streams.hpp"
#include "corio/coro/tls.hpp"
#include "corio/os/net.hpp"
#include "corio/reactor/clock.hpp"

namespace corio {

/// What a server runs for each connection, in a task of its own (asyncio's
/// client_connected_cb). An exception it lets out is logged to stderr and closes that
/// connection; the server keeps serving.
using StreamHandler = std::function<Coro<void>(StreamReader, StreamWriter)>;

/// Settings for start_server() and start_unix_server().
struct ServerOptions {
  /// listen() backlog (asyncio's default is 100).
  int backlog = 100;
  /// SO_REUSEPORT: several servers (processes) share the port.
  bool reuse_port = false;
  /// Each connection's reader limit (StreamOptions::limit).
  std::size_t limit = default_stream_limit;
  /// If set, a connection whose handler has been waiting in a read this long with no
  /// data arriving is treated as hung up: the read sees EOF (checked every quarter of
  /// the timeout). asyncio has no such option; there a handler wraps its reads in
  /// asyncio.timeout(), which works here too (corio::timeout(d).run(reader.read())).
  std::optional<Duration> idle_timeout;
  /// How long the accept loop waits after running out of descriptors or memory
  /// (EMFILE, ENFILE, ENOBUFS, ENOMEM) before it tries again (asyncio's
  /// accept_retry_delay, 1 s there). Retrying at once would spin: the connection stays
  /// in the backlog and the next accept fails the same way.
  Duration accept_retry_delay = std::chrono::milliseconds(100);
  /// Serve TLS with this server context (asyncio's ssl=): each connection's handshake
  /// runs before its handler, which gets the same streams as over plaintext. A failed
  /// handshake is logged to stderr and closes that connection only.
  /// Only read when the server starts: it keeps its own share of the context.
  const TlsContext* tls = nullptr;
  /// Bounds each TLS handshake (asyncio's ssl_handshake_timeout): a client that never
  /// finishes it is disconnected.
  Duration tls_handshake_timeout = std::chrono::seconds(60);
  /// Bounds the wait for a client's close_notify when a connection closes (asyncio's
  /// ssl_shutdown_timeout).
  Duration tls_shutdown_timeout = std::chrono::seconds(30);
};
// Trivially destructible on purpose, like StreamOptions (GCC 12 and aggregate
// temporaries in co_await expressions).
static_assert(std::is_trivially_destructible_v<ServerOptions>);

namespace detail {
class ServerState;
}  // namespace detail

/// Like asyncio.Server: one or more listening sockets, an accept loop per socket, and a
/// task per connection running the handler. Move-only; destroying it closes it (it stops
/// accepting; running handlers go on). Belongs to the loop that started it.
class Server {
 public:
  Server() noexcept = default;
  explicit Server(std::shared_ptr<detail::ServerState> state) noexcept;
  Server(Server&&) noexcept = default;
  Server& operator=(Server&& o) noexcept;
  ~Server();

  /// The listening sockets (asyncio's sockets); empty once closed.
  [[nodiscard]] std::span<const Socket> sockets() const noexcept;
  /// Where the server listens, with the real port when port 0 was asked for; empty
  /// once closed.
  [[nodiscard]] std::vector<Address> addresses() const;
  /// True until close().
  [[nodiscard]] bool is_serving() const noexcept;
  /// Connections whose handler is still running.
  [[nodiscard]] std::size_t active_connections() const noexcept;

  /// Stops accepting and closes the listening sockets (in the background: see
  /// wait_closed). Handlers still running are left alone. Idempotent.
  void close() noexcept;
  /// Waits until the server is closed and every handler has finished (asyncio 3.12).
  [[nodiscard]] Coro<void> wait_closed();
  /// Serves until close() (then waits for the handlers and returns) or until the task
  /// is cancelled (then closes, waits for the handlers and raises CancelledError).
  /// RuntimeError if the server is closed or another task is already in it.
  [[nodiscard]] Coro<void> serve_forever();
  /// Graceful stop: close(), let the handlers finish within `grace`, then cancel the
  /// rest (their connections are aborted) and wait for them.
  [[nodiscard]] Coro<void> shutdown(Duration grace);
  /// close() on every connection's writer (asyncio 3.13 close_clients): their reads see
  /// EOF, queued data is still sent.
  void close_clients() noexcept;
  /// abort() on every connection (asyncio 3.13 abort_clients).
  void abort_clients() noexcept;

 private:
  std::shared_ptr<detail::ServerState> s_;
};

/// Listens on every address `host` resolves to (one socket each; "" means all
/// interfaces) and serves each connection with `handler` (asyncio.start_server).
/// Port 0 picks a free port: see Server::addresses(). IPv6 sockets are v6-only, so an
/// IPv4 and an IPv6 wildcard can share a port, as in asyncio.
[[nodiscard]] Coro<Server> start_server(StreamHandler handler, std::string host, std::uint16_t port,
                                        ServerOptions options = {});

/// Listens on `addr` (IP or Unix) and serves each connection with `handler`.
[[nodiscard]] Coro<Server> start_server(StreamHandler handler, Address addr,
                                        ServerOptions options = {});

/// Listens on the Unix stream socket `path` (asyncio.start_unix_server). A stale socket
/// file at `path` is removed first, and the file is removed again once the server is
/// closed (asyncio 3.13's cleanup_socket). A leading '@' names an abstract socket.
[[nodiscard]] Coro<Server> start_unix_server(StreamHandler handler, std::string path,
                                             ServerOptions options = {});

}  // namespace corio
