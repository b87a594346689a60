// The two kinds of connection the example handlers are written once for (as templates):
// a plaintext socket, whose receive and send go straight to the loop with no frame or
// allocation per message, and a TLS session over one (corio::start_tls), whose records
// are encrypted in between. Both offer the same few calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <system_error>

#include "corio/corio.hpp"

namespace examples {

/// A connected socket, used as it is.
class PlainConnection {
 public:
  /// A TLS session half-closes only by ending the session; a socket can end its send side.
  static constexpr bool kCanHalfClose = true;

  explicit PlainConnection(corio::Socket s) noexcept : sock_(std::move(s)) {}

  /// Receives up to `len` bytes (0: the peer is done).
  auto recv(char* buf, std::size_t len) const { return sock_.recv(buf, len); }
  /// As recv(buf, len), a failure (a reset) in `ec` instead of an exception.
  auto recv(char* buf, std::size_t len, std::error_code& ec) const {
    return sock_.recv(buf, len, ec);
  }
  /// Sends some of `len` bytes; returns how many.
  auto send(const char* data, std::size_t len) const { return sock_.send(data, len); }
  /// Ends the send direction: the peer reads EOF.
  void shutdown_send() { sock_.shutdown(corio::ShutdownHow::write); }
  /// Shuts both directions down from outside the handler (a watchdog): its pending
  /// receive sees EOF and its pending send fails.
  void stop() noexcept;
  /// After the last answer: half-closes, then reads and drops what the peer still sends
  /// for a second at most, so closing with unread input cannot reset the connection
  /// before the peer has read that answer (RFC 9112 section 9.6, nginx's
  /// lingering_close).
  corio::Coro<void> close_gracefully(char* scratch, std::size_t len);
  /// Sends each answer at once: Nagle would hold a small one back waiting for an ACK.
  void set_no_delay() { sock_.set_option(corio::SocketOption::no_delay, 1); }

 private:
  corio::Socket sock_;
};

/// How long a closing connection reads what its peer still sends (see close_gracefully()).
inline constexpr std::chrono::seconds kLinger{1};

/// A TLS session over a socket: close_notify is sent when it is destroyed.
class TlsConnection {
 public:
  static constexpr bool kCanHalfClose = false;

  explicit TlsConnection(std::unique_ptr<corio::Transport> session) noexcept
      : session_(std::move(session)) {}
  TlsConnection(TlsConnection&&) noexcept = default;
  TlsConnection& operator=(TlsConnection&&) = delete;
  ~TlsConnection();

  /// Receives up to `len` bytes of plaintext (0: the peer's close_notify). A TCP close
  /// without close_notify is a corio::TlsError (truncation), as it should be.
  corio::Coro<std::size_t> recv(char* buf, std::size_t len) const;
  /// As recv(buf, len), a failure (a reset, a truncation) in `ec` instead of an
  /// exception: most HTTPS clients end that way, and an exception costs more than the
  /// rest of the connection's teardown.
  corio::Coro<std::size_t> recv(char* buf, std::size_t len, std::error_code& ec) const;
  /// Encrypts and sends `len` bytes (all of them, or throws); returns `len`.
  corio::Coro<std::size_t> send(const char* data, std::size_t len) const;
  /// As PlainConnection::stop(), on the socket under the session.
  void stop() noexcept;
  /// After the last answer: sends close_notify once the answer is out, then reads and
  /// drops what the peer still sends until its close_notify or EOF, for the session's
  /// shutdown timeout (kLinger for sessions made by run_server()), and closes.
  corio::Coro<void> close_gracefully(char* scratch, std::size_t len);
  /// As PlainConnection::set_no_delay(), on the socket under the session.
  void set_no_delay();

 private:
  std::unique_ptr<corio::Transport> session_;
};

}  // namespace examples
