#include "connection.hpp"

#include <cerrno>
#include <system_error>

namespace examples {
namespace {

using corio::Coro;

template <class Conn>
Coro<void> discard_until_eof(const Conn& conn, char* scratch, std::size_t len) {
  // Not `while (co_await conn.recv(...) != 0)`: g++ 12 miscompiles a co_await compared
  // inside a condition when the operation finishes without suspending (the task never
  // resumes; clang is fine). Binding the result to a variable first works.
  for (;;) {
    const std::size_t n = co_await conn.recv(scratch, len);
    if (n == 0) break;
  }
}

template <class Conn>
Coro<void> linger(const Conn& conn, char* scratch, std::size_t len) {
  try {
    co_await corio::timeout(kLinger).run(discard_until_eof(conn, scratch, len));
  } catch (const corio::TimeoutError&) {
  } catch (const std::system_error&) {
    // a reset or a truncated session: the peer is gone, which is all we waited for
  }
}

void shutdown_both(corio::native_handle h) noexcept {
  try {
    corio::net::shutdown(h, corio::ShutdownHow::both);
  } catch (const std::system_error&) {
    // ENOTCONN: the peer is gone already; the handler is about to see it
  }
}

}  // namespace

void PlainConnection::stop() noexcept {
  shutdown_both(sock_.handle());
}

Coro<void> PlainConnection::close_gracefully(char* scratch, std::size_t len) {
  shutdown_send();
  co_await linger(*this, scratch, len);
}

TlsConnection::~TlsConnection() {
  if (session_) session_->close();
}

Coro<std::size_t> TlsConnection::recv(char* buf, std::size_t len) const {
  return session_->read_some({buf, len});
}

Coro<std::size_t> TlsConnection::recv(char* buf, std::size_t len, std::error_code& ec) const {
  return session_->read_some({buf, len}, ec);
}

Coro<std::size_t> TlsConnection::send(const char* data, std::size_t len) const {
  // Encrypted and handed to the socket at once when it has room, as it mostly has:
  // then no frame below this one runs.
  const std::intptr_t took = session_->try_write({data, len});
  std::size_t sent = took > 0 ? static_cast<std::size_t>(took) : 0;
  if (took < 0 && took != -EAGAIN) {
    throw std::system_error(static_cast<int>(-took), std::generic_category(), "TLS send");
  }
  while (sent < len)
    sent += co_await session_->write_some({data + sent, len - sent});
  if (session_->buffered_output() > 0) co_await session_->flush();
  co_return len;
}

void TlsConnection::stop() noexcept {
  shutdown_both(session_->socket()->handle());
}

void TlsConnection::set_no_delay() {
  corio::net::set_option(session_->socket()->handle(), corio::SocketOption::no_delay, 1);
}

Coro<void> TlsConnection::close_gracefully(char* /*scratch*/, std::size_t /*len*/) {
  // close_notify first, then the peer's (or its EOF): waiting for the peer's EOF before
  // sending ours kept a client that waits for the server's close_notify (curl on
  // "Connection: close") waiting for the whole linger.
  co_await session_->close_gracefully();
}

}  // namespace examples
