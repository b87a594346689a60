// Socket: an owned, non-blocking socket with awaitable I/O (asyncio's loop.sock_*
// calls on a socket object), plus name resolution and connecting by host name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corio/coro/coro.hpp"
#include "corio/coro/io.hpp"
#include "corio/os/net.hpp"
#include "corio/reactor/clock.hpp"

namespace corio {

class Socket;

namespace detail {

/// accept(): an IoAwaiter whose result becomes a Socket.
class [[nodiscard]] AcceptAwaiter : public IoAwaiter {
 public:
  AcceptAwaiter(native_handle listener, SocketAddress* peer) noexcept
      : IoAwaiter(OpCode::accept, listener, nullptr, 0, 0, peer, "accept") {}
  Socket await_resume() const;
};

/// An operation on an address (connect, sendto) that keeps its own copy of it for the
/// operation's lifetime; a move re-points the operation at the new copy.
class [[nodiscard]] AddressedIo : public IoAwaiter {
 protected:
  AddressedIo(OpCode op, native_handle h, const void* buf, std::size_t len, int flags,
              const Address& to, const char* what) noexcept
      : IoAwaiter(op, h, const_cast<void*>(buf), len, flags, nullptr, what), to_(to) {
    address = &to_.raw();
  }
  AddressedIo(AddressedIo&& o) noexcept : IoAwaiter(std::move(o)), to_(o.to_) {
    address = &to_.raw();
  }

 private:
  Address to_;
};

/// connect().
class [[nodiscard]] ConnectAwaiter : public AddressedIo {
 public:
  ConnectAwaiter(native_handle h, const Address& to) noexcept
      : AddressedIo(OpCode::connect, h, nullptr, 0, 0, to, "connect") {}
  void await_resume() const { (void)IoAwaiter::await_resume(); }
};

/// sendto().
class [[nodiscard]] SendToAwaiter : public AddressedIo {
 public:
  SendToAwaiter(native_handle h, const void* buf, std::size_t len, const Address& to,
                int flags) noexcept
      : AddressedIo(OpCode::sendto, h, buf, len, flags, to, "sendto") {}
};

}  // namespace detail

/// An open socket, closed when the object goes (RAII; move-only). Created
/// non-blocking and close-on-exec; sends never raise SIGPIPE (a vanished peer is an
/// EPIPE / ECONNRESET std::system_error). I/O calls are awaitable and cancellable; a
/// socket belongs to the loop of the thread that uses it.
class Socket {
 public:
  Socket() noexcept = default;
  /// Adopts an open handle (for example from accept or a socketpair).
  explicit Socket(native_handle h) noexcept : h_(h) {}
  /// Opens a new socket; std::system_error on failure (EMFILE, EAFNOSUPPORT, ...).
  Socket(AddressFamily family, SocketType type) : h_(net::open_socket(family, type)) {}
  Socket(Socket&& o) noexcept : h_(std::exchange(o.h_, invalid_handle)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      close();
      h_ = std::exchange(o.h_, invalid_handle);
    }
    return *this;
  }
  ~Socket() { close(); }

  /// A TCP socket of `family`.
  static Socket tcp(AddressFamily family = AddressFamily::ipv4) {
    return Socket(family, SocketType::stream);
  }
  /// A UDP socket of `family`.
  static Socket udp(AddressFamily family = AddressFamily::ipv4) {
    return Socket(family, SocketType::datagram);
  }
  /// A connected pair of Unix sockets (socketpair), for tests and in-process pipes.
  static std::pair<Socket, Socket> pair(SocketType type = SocketType::stream);

  [[nodiscard]] bool is_open() const noexcept { return h_ != invalid_handle; }
  [[nodiscard]] native_handle handle() const noexcept { return h_; }
  /// Gives up ownership without closing; the loop's backend forgets the handle first.
  /// A read-ahead backend (io_uring) may already hold bytes that no recv has taken
  /// yet: they stay with corio and are dropped, so detach at a protocol boundary.
  native_handle detach() noexcept;
  /// Closes now (also done by the destructor); the loop's backend forgets the handle
  /// first. Operations still pending on it must have finished.
  void close() noexcept;

  void bind(const Address& addr) { net::bind(h_, addr); }
  /// Starts listening; the default backlog is the OS maximum.
  void listen(int backlog = net::max_backlog()) { net::listen(h_, backlog); }
  void set_option(SocketOption option, int value) { net::set_option(h_, option, value); }
  [[nodiscard]] int get_option(SocketOption option) const { return net::get_option(h_, option); }
  /// Half-close: `write` sends FIN once queued data is out; reads still work.
  void shutdown(ShutdownHow how = ShutdownHow::write) { net::shutdown(h_, how); }
  [[nodiscard]] Address local_address() const { return net::local_address(h_); }
  [[nodiscard]] Address peer_address() const { return net::peer_address(h_); }

  /// Receives up to `len` bytes into `buf`; 0 means the peer closed its side.
  IoAwaiter recv(void* buf, std::size_t len, int flags = 0) const noexcept {
    return io::recv(h_, buf, len, flags);
  }
  IoAwaiter recv(std::span<std::byte> buf) const noexcept { return recv(buf.data(), buf.size()); }
  IoAwaiter recv(std::span<char> buf) const noexcept { return recv(buf.data(), buf.size()); }
  /// As recv(buf, len), but a failure (a reset peer) comes back in `ec`, with 0, instead
  /// of as an exception (Asio's error_code overloads); `ec` is cleared on success.
  IoAwaiter recv(void* buf, std::size_t len, std::error_code& ec) const noexcept {
    return IoAwaiter(OpCode::recv, h_, buf, len, 0, nullptr, "recv", &ec);
  }
  /// Sends up to `len` bytes; returns how many went (may be fewer: see send_all).
  IoAwaiter send(const void* buf, std::size_t len, int flags = 0) const noexcept {
    return io::send(h_, buf, len, flags);
  }
  IoAwaiter send(std::string_view data) const noexcept { return send(data.data(), data.size()); }
  /// Sends every byte (loop.sock_sendall); the caller keeps `data` alive meanwhile.
  Coro<void> send_all(std::string_view data) const;
  /// Accepts a connection; `peer`, if given, receives its address.
  detail::AcceptAwaiter accept(Address* peer = nullptr) const noexcept {
    return detail::AcceptAwaiter(h_, peer != nullptr ? &peer->raw() : nullptr);
  }
  /// Connects (non-blocking connect; ECONNREFUSED etc. as std::system_error). Bound it
  /// with wait_for or timeout().
  detail::ConnectAwaiter connect(const Address& to) const noexcept {
    return detail::ConnectAwaiter(h_, to);
  }
  /// Receives one datagram; `from` receives the sender.
  IoAwaiter recvfrom(void* buf, std::size_t len, Address& from, int flags = 0) const noexcept {
    return io::recvfrom(h_, buf, len, from.raw(), flags);
  }
  /// Sends one datagram to `to`.
  detail::SendToAwaiter sendto(const void* buf, std::size_t len, const Address& to,
                               int flags = 0) const noexcept {
    return detail::SendToAwaiter(h_, buf, len, to, flags);
  }
  IoAwaiter wait_readable() const noexcept { return io::wait_readable(h_); }
  IoAwaiter wait_writable() const noexcept { return io::wait_writable(h_); }

 private:
  native_handle h_ = invalid_handle;
};

/// Options for listen_on().
struct ListenOptions {
  int backlog = 0;          ///< 0 = the OS maximum
  bool reuse_port = false;  ///< SO_REUSEPORT: several listeners share the port
  /// For IPv6 wildcard listeners: false also accepts IPv4 (dual stack).
  bool v6_only = false;
};

/// A listening TCP (or Unix stream) socket bound to `addr`, with SO_REUSEADDR for IP
/// (a restarted server rebinds at once). Port 0 picks a free port: see local_address().
Socket listen_on(const Address& addr, const ListenOptions& options = {});

/// Resolves `host` off the loop, on the thread pool (loop.getaddrinfo); cancellable
/// (the lookup finishes in the background). A numeric host skips the resolver.
/// Throws std::system_error in net::resolver_category() if the name does not resolve.
Coro<std::vector<Address>> resolve(std::string host, std::uint16_t port,
                                   AddressFamily family = AddressFamily::unspecified,
                                   SocketType type = SocketType::stream);

/// A TCP connection to `addr`.
Coro<Socket> connect(Address addr);

/// A TCP connection to `host`:`port`: resolves it, then tries each address in order
/// until one connects (no happy eyeballs: attempts are sequential). `timeout` bounds
/// the whole attempt (TimeoutError). If every address fails, the first failure is
/// rethrown.
Coro<Socket> connect(std::string host, std::uint16_t port,
                     std::optional<Duration> timeout = std::nullopt);

}  // namespace corio
