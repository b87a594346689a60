// Transports: the byte streams a StreamReader and StreamWriter run over (asyncio's
// transports). A connected socket and a pipe pair are transports here; a TLS session
// over either is the next one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include "corio/backends/operation.hpp"
#include "corio/coro/coro.hpp"
#include "corio/coro/socket.hpp"
#include "corio/os/handle.hpp"

namespace corio {

/// A byte stream with a read direction and a write direction. There are two kinds:
/// - a *handle transport* (socket, pipe) is one OS handle per direction and says which
///   in handles(); streams then submit their reads and writes straight to the reactor,
///   so a receive costs no coroutine frame and no virtual call;
/// - a *filter transport* (TLS) transforms the bytes on their way and implements
///   read_some() and write_some(), usually on top of another transport's.
/// A transport is used by one loop, from one task per direction at a time.
class Transport {
 public:
  /// The OS handle and the operation of each direction; a direction the transport does
  /// not have is invalid_handle (the read end of a write-only pipe).
  struct Handles {
    native_handle in = invalid_handle;
    OpCode read = OpCode::read;
    native_handle out = invalid_handle;
    OpCode write = OpCode::write;
  };

  Transport() noexcept = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  virtual ~Transport() = default;

  /// A handle transport's handles; nullopt for a filter transport.
  [[nodiscard]] virtual std::optional<Handles> handles() const noexcept = 0;
  /// Reads up to `buf.size()` (> 0) bytes into `buf`, waiting until at least one
  /// arrives; 0 at the end of the stream. std::system_error on failure; ECANCELED once
  /// cancel_read() stopped it; CancelledError if the task is cancelled meanwhile.
  [[nodiscard]] virtual Coro<std::size_t> read_some(std::span<char> buf) = 0;
  /// As read_some(buf), but a failure of the stream (a reset peer, a TLS session closed
  /// without close_notify, ECANCELED after cancel_read()) comes back in `ec`, with 0,
  /// instead of as an exception: Asio's error_code overloads. A server that ends many
  /// connections on such a failure saves the exception that every coroutine frame on
  /// its way up would raise again. `ec` is cleared on success. CancelledError still
  /// throws: the task's cancellation is no failure of the stream. The default catches
  /// what read_some(buf) throws; the transports of corio throw nothing to begin with.
  [[nodiscard]] virtual Coro<std::size_t> read_some(std::span<char> buf, std::error_code& ec);
  /// Writes some of `data` (not empty), waiting until at least one byte is taken;
  /// returns how many. std::system_error on failure (EPIPE: nobody reads any more). A
  /// cancelled write_some() has taken nothing.
  [[nodiscard]] virtual Coro<std::size_t> write_some(std::span<const char> data) = 0;
  /// Writes what can be written now without waiting: the byte count, -EAGAIN if
  /// nothing can, else -errno. Lets a write skip the loop when the peer keeps up.
  [[nodiscard]] virtual std::intptr_t try_write(std::span<const char> data) noexcept = 0;
  /// Bytes try_write() or write_some() took but has not sent yet (a filter's encrypted
  /// records that the socket would not take at once); they count towards the streams'
  /// high-water mark. Whoever writes to a filter directly calls flush() at the end.
  [[nodiscard]] virtual std::size_t buffered_output() const noexcept { return 0; }
  /// Sends what buffered_output() counts, waiting as needed.
  [[nodiscard]] virtual Coro<void> flush();
  /// Stops the read_some() in progress, if any: it ends soon with ECANCELED (or with
  /// what it read first). A filter forwards this to what it reads from.
  virtual void cancel_read() noexcept = 0;
  /// Whether write_eof() can end the write direction alone.
  [[nodiscard]] virtual bool can_write_eof() const noexcept = 0;
  /// Ends the write direction once and for all (a socket's shutdown(SHUT_WR), closing
  /// a pipe's write end): the peer reads EOF; reading goes on.
  virtual void write_eof() = 0;
  /// Closes both directions; idempotent. No operation may be pending on it.
  virtual void close() noexcept = 0;
  /// Closes after saying goodbye where the transport has a way to (TLS: sends
  /// close_notify and waits for the peer's, within the session's shutdown timeout), so
  /// nothing the peer sent last is left unread to make the kernel reset the connection.
  /// Then as close(); failures of the goodbye are not errors. Default: close().
  [[nodiscard]] virtual Coro<void> close_gracefully();
  [[nodiscard]] virtual bool is_open() const noexcept = 0;
  /// The socket underneath, for options and addresses; nullptr if there is none (a
  /// pipe). Asyncio's get_extra_info("socket").
  [[nodiscard]] virtual const Socket* socket() const noexcept { return nullptr; }
};

/// A handle transport over a connected stream socket (TCP or Unix).
[[nodiscard]] std::unique_ptr<Transport> socket_transport(Socket sock);

/// A handle transport that reads `in` and writes `out`, and owns and closes both: pipe
/// ends (os::open_pipe), FIFOs, a child's standard streams, anything the backends read
/// and write with OpCode::read and OpCode::write. Either may be invalid_handle for a
/// one-way stream; one handle for both directions is closed once.
[[nodiscard]] std::unique_ptr<Transport> pipe_transport(native_handle in, native_handle out);

}  // namespace corio
