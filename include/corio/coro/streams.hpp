// Streams: buffered reading and writing over one connection (asyncio's StreamReader,
// StreamWriter and open_connection), over any transport: a socket, a pipe, TLS.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "corio/coro/coro.hpp"
#include "corio/coro/socket.hpp"
#include "corio/coro/tls.hpp"
#include "corio/coro/transport.hpp"
#include "corio/os/net.hpp"
#include "corio/reactor/clock.hpp"

namespace corio {

/// The default reader limit and high-water mark (asyncio's _DEFAULT_LIMIT, 64 KiB).
inline constexpr std::size_t default_stream_limit = 64 * 1024;

/// Like asyncio.IncompleteReadError: the stream ended before the read was satisfied.
/// The bytes that did arrive are in partial() and no longer in the reader's buffer.
class IncompleteReadError : public std::runtime_error {
 public:
  IncompleteReadError(std::string partial, std::optional<std::size_t> expected);
  /// What arrived before the end of the stream.
  [[nodiscard]] const std::string& partial() const noexcept { return partial_; }
  /// The size readexactly() asked for; nullopt for readuntil() (asyncio's None).
  [[nodiscard]] std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

/// Like asyncio.LimitOverrunError: readuntil() found no separator within the reader's
/// limit. The data stays in the buffer; consumed() says how much of it to drop (with
/// read(consumed())) to go past what was searched.
class LimitOverrunError : public std::runtime_error {
 public:
  LimitOverrunError(const char* message, std::size_t consumed)
      : std::runtime_error(message), consumed_(consumed) {}
  [[nodiscard]] std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

/// Settings for open_connection() and open_unix_connection().
struct StreamOptions {
  /// The reader's limit: how far readuntil()/readline() look for a separator.
  std::size_t limit = default_stream_limit;
  /// Bounds the whole connection attempt, resolution included (TimeoutError).
  std::optional<Duration> timeout;
  /// Speak TLS with this client context (asyncio's ssl=). Only read during the call:
  /// the connection keeps its own share of the context.
  const TlsContext* tls = nullptr;
  /// The name the server's certificate must carry, sent as SNI; defaults to the host
  /// connected to (asyncio's server_hostname). Copied during the call.
  std::string_view server_hostname;
  /// Bounds the TLS handshake (asyncio's ssl_handshake_timeout, 60 s there too).
  Duration tls_handshake_timeout = std::chrono::seconds(60);
  /// Bounds the wait for the server's close_notify when the stream closes (asyncio's
  /// ssl_shutdown_timeout, 30 s there too): wait_closed() returns by then.
  Duration tls_shutdown_timeout = std::chrono::seconds(30);
};
// Trivially destructible on purpose: GCC 12 mishandles an aggregate temporary with a
// non-trivial destructor inside a co_await expression (it frees it twice), and
// `co_await open_connection(host, port, {.tls = &ctx})` is how this is used.
static_assert(std::is_trivially_destructible_v<StreamOptions>);

namespace detail {
class StreamConn;
}  // namespace detail

/// Like asyncio.StreamReader: buffered reads from a connection it shares with a
/// StreamWriter. Reads are cancel-safe: a cancelled read consumes nothing, and every
/// byte already received stays in the buffer for the next read. One task reads at a
/// time (a second concurrent read is a RuntimeError, as in asyncio). A socket error
/// (ECONNRESET, ...) is a std::system_error, raised again by every later read.
/// Movable handle; the connection closes when its reader and writer are both gone.
class StreamReader {
 public:
  StreamReader() noexcept = default;
  explicit StreamReader(std::shared_ptr<detail::StreamConn> conn) noexcept
      : conn_(std::move(conn)) {}

  /// Up to `n` bytes, waiting only if none are buffered; "" at EOF. `n == SIZE_MAX`
  /// (asyncio's -1) reads until EOF.
  [[nodiscard]] Coro<std::string> read(std::size_t n = SIZE_MAX);
  /// Exactly `n` bytes; IncompleteReadError (with the partial bytes) at EOF.
  [[nodiscard]] Coro<std::string> readexactly(std::size_t n);
  /// One line including its '\n'; at EOF the partial last line (maybe ""). A line
  /// longer than the limit is discarded and raises LimitOverrunError (asyncio: a
  /// ValueError).
  [[nodiscard]] Coro<std::string> readline();
  /// Data up to and including `separator` (not empty: std::invalid_argument).
  /// LimitOverrunError if the separator does not start within limit() bytes, leaving the
  /// data buffered; IncompleteReadError at EOF, taking what was buffered.
  [[nodiscard]] Coro<std::string> readuntil(std::string_view separator = "\n");
  /// True once EOF was received and the buffer is empty.
  [[nodiscard]] bool at_eof() const noexcept;
  /// How far readuntil() searches (StreamOptions::limit).
  [[nodiscard]] std::size_t limit() const noexcept;
  /// Bytes received but not read yet.
  [[nodiscard]] std::size_t buffered() const noexcept;

  /// Like asyncio.StreamReader.feed_data: appends `data` for the reads to return and
  /// wakes a waiting read. Only for a reader from make_stream_reader() (RuntimeError on
  /// a socket's reader, or after feed_eof()).
  void feed_data(std::string_view data);
  /// Like asyncio.StreamReader.feed_eof: no more data; reads see EOF once the buffer is
  /// drained. Only for a reader from make_stream_reader(); idempotent.
  void feed_eof();

  [[nodiscard]] bool valid() const noexcept { return conn_ != nullptr; }

 private:
  std::shared_ptr<detail::StreamConn> conn_;
};

/// Like asyncio.StreamWriter: write() buffers without waiting (sending at once if
/// nothing is queued), a background flusher sends the rest as the socket drains, and
/// drain() is the flow control: it waits while more than the high-water mark is
/// buffered, until the buffer is at or below the low-water mark. A send error (EPIPE,
/// ECONNRESET) is kept and raised by the next write() or drain().
/// `get_extra_info("peername")` is peer_address(), `"sockname"` is local_address(),
/// `"socket"` is socket(). Movable handle, like StreamReader.
class StreamWriter {
 public:
  StreamWriter() noexcept = default;
  explicit StreamWriter(std::shared_ptr<detail::StreamConn> conn) noexcept
      : conn_(std::move(conn)) {}

  /// Queues `data` (copied). RuntimeError after close() or write_eof().
  void write(std::string_view data);
  /// Writes each element of `lines` (anything convertible to std::string_view), as
  /// one write.
  template <std::ranges::input_range R>
  void writelines(const R& lines) {
    std::string joined;
    for (const auto& line : lines)
      joined += std::string_view(line);
    write(joined);
  }
  /// Waits until the buffer is at or below the low-water mark if it went above the
  /// high-water mark; raises the connection's send error, if any.
  [[nodiscard]] Coro<void> drain();
  /// Whether write_eof() can end the write direction alone: a stream socket and a
  /// pipe can; one handle for both directions (a TTY) cannot.
  [[nodiscard]] bool can_write_eof() const noexcept;
  /// Half-close once everything buffered is out (a socket sends FIN, a pipe's write
  /// end is closed); reading goes on. RuntimeError if !can_write_eof().
  void write_eof();
  /// Closes the connection: what is buffered is still sent, then the transport closes.
  /// Reads see EOF (one waiting now is woken). Idempotent.
  void close() noexcept;
  /// Closes at once, dropping unsent data (asyncio's transport.abort()).
  void abort() noexcept;
  /// True once close() or abort() was called.
  [[nodiscard]] bool is_closing() const noexcept;
  /// Waits until the transport is closed (after close() or abort()).
  [[nodiscard]] Coro<void> wait_closed();

  /// Bytes queued but not sent yet (transport.get_write_buffer_size()).
  [[nodiscard]] std::size_t write_buffer_size() const noexcept;
  /// Sets the flow-control marks (transport.set_write_buffer_limits): `low` defaults to
  /// high / 4; std::invalid_argument if low > high.
  void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt);
  /// The {low, high} marks (transport.get_write_buffer_limits()).
  [[nodiscard]] std::pair<std::size_t, std::size_t> write_buffer_limits() const noexcept;

  /// The peer's address (get_extra_info("peername")), read once and kept;
  /// InvalidStateError if the transport is not a socket (a pipe).
  [[nodiscard]] Address peer_address() const;
  /// Our own address (get_extra_info("sockname")), read once and kept; as
  /// peer_address() for a transport that is not a socket.
  [[nodiscard]] Address local_address() const;
  /// The socket, for options such as TCP_NODELAY; do not read or write it directly.
  /// InvalidStateError if the transport is not a socket (a pipe).
  [[nodiscard]] const Socket& socket() const;
  /// The transport the stream runs over (get_extra_info("transport")).
  [[nodiscard]] Transport& transport() const;
  /// What the TLS session negotiated; nullopt over plaintext (get_extra_info
  /// ("ssl_object")).
  [[nodiscard]] std::optional<TlsInfo> tls_info() const;
  /// Upgrades the connection to TLS on `ctx`'s side (STARTTLS; asyncio's
  /// writer.start_tls()): waits until everything written is sent, runs the handshake,
  /// and from then on the reader and this writer carry plaintext over the session.
  /// Bytes the reader had received but not read count as the start of the TLS stream
  /// (a ClientHello sent right behind the command), never as plaintext after the
  /// handshake, so nothing sent in the clear can pass for protected data. No read may
  /// be in progress, and reads and writes are refused until it returns. TlsError or
  /// TimeoutError if the handshake fails: the connection is aborted then.
  /// std::invalid_argument, before anything changes, if a verifying client names no
  /// server.
  [[nodiscard]] Coro<void> start_tls(const TlsContext& ctx, TlsOptions options = {});

  [[nodiscard]] bool valid() const noexcept { return conn_ != nullptr; }

 private:
  std::shared_ptr<detail::StreamConn> conn_;
};

/// Like asyncio.StreamReader(limit=...): a reader with no socket, fed by hand with
/// feed_data() and feed_eof(); for protocols that parse bytes they got elsewhere, and
/// for tests and fuzzers of the reads themselves.
[[nodiscard]] StreamReader make_stream_reader(std::size_t limit = default_stream_limit);

/// A reader and a writer sharing `sock`, a connected stream socket (asyncio's
/// open_connection(sock=...)).
[[nodiscard]] std::pair<StreamReader, StreamWriter> make_streams(
    Socket sock, std::size_t limit = default_stream_limit);

/// A reader and a writer sharing `transport` (socket_transport, pipe_transport, or a
/// transport of your own). std::invalid_argument if it is null.
[[nodiscard]] std::pair<StreamReader, StreamWriter> make_streams(
    std::unique_ptr<Transport> transport, std::size_t limit = default_stream_limit);

/// A reader over `read_end` (a pipe's read end, a FIFO, a child's stdout), which it
/// owns and closes (asyncio's loop.connect_read_pipe() with a StreamReaderProtocol).
/// The reads see EOF once every write end is closed.
[[nodiscard]] StreamReader connect_read_pipe(native_handle read_end,
                                             std::size_t limit = default_stream_limit);

/// A writer over `write_end` (a pipe's write end, a child's stdin), which it owns
/// (asyncio's loop.connect_write_pipe()). write_eof() and close() close it once what is
/// buffered is written, so the reader sees EOF; a reader that is gone makes writes fail
/// with EPIPE (std::system_error), never SIGPIPE.
[[nodiscard]] StreamWriter connect_write_pipe(native_handle write_end);

/// Connects to `host`:`port` (resolved off the loop; each address tried in turn) and
/// returns its streams (asyncio.open_connection). TCP_NODELAY is set, as asyncio does.
[[nodiscard]] Coro<std::pair<StreamReader, StreamWriter>> open_connection(
    std::string host, std::uint16_t port, StreamOptions options = {});

/// Connects to `addr` (IP or Unix) and returns its streams.
[[nodiscard]] Coro<std::pair<StreamReader, StreamWriter>> open_connection(
    Address addr, StreamOptions options = {});

/// Connects to the Unix stream socket at `path` (asyncio.open_unix_connection).
[[nodiscard]] Coro<std::pair<StreamReader, StreamWriter>> open_unix_connection(
    std::string path, StreamOptions options = {});

}  // namespace corio
