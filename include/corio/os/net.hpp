// Socket addresses and the synchronous socket calls (create, bind, listen, options,
// name resolution), with no OS type in sight. Each platform implements them in one file
// that the build picks (os/net_posix.cpp); the awaitable I/O lives in the backends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "corio/os/handle.hpp"

namespace corio {

/// Which address family a socket or address belongs to.
enum class AddressFamily : std::uint8_t {
  unspecified,  ///< any (for name resolution)
  ipv4,
  ipv6,
  local,  ///< Unix domain (AF_UNIX)
};

/// Stream (TCP, Unix stream) or datagram (UDP, Unix datagram).
enum class SocketType : std::uint8_t { stream, datagram };

/// A socket address as a value: IPv4, IPv6 (with scope) or a Unix path.
class Address {
 public:
  Address() noexcept = default;
  /// A numeric IPv4 or IPv6 host ("127.0.0.1", "::1", "fe80::1%eth0") and a port;
  /// std::invalid_argument if `host` is not a numeric address.
  static Address ip(std::string_view host, std::uint16_t port);
  /// The wildcard address of `family` (0.0.0.0 or ::) for binding servers.
  static Address any(AddressFamily family, std::uint16_t port);
  /// The loopback address of `family` (127.0.0.1 or ::1).
  static Address loopback(AddressFamily family, std::uint16_t port);
  /// A Unix domain socket path; a leading '@' names an abstract socket (Linux).
  /// std::invalid_argument if the path is too long, or abstract where the OS has none.
  static Address local(std::string_view path);

  [[nodiscard]] AddressFamily family() const noexcept;
  /// The port (0 for Unix addresses).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// The host part: "127.0.0.1", "::1", or the Unix path.
  [[nodiscard]] std::string host() const;
  /// "127.0.0.1:80", "[::1]:80", or the Unix path.
  [[nodiscard]] std::string to_string() const;

  /// The raw storage the backends read and fill.
  [[nodiscard]] SocketAddress& raw() noexcept { return raw_; }
  [[nodiscard]] const SocketAddress& raw() const noexcept { return raw_; }

  friend bool operator==(const Address& a, const Address& b) noexcept;

 private:
  SocketAddress raw_{};
};

/// Socket options that servers and clients commonly set.
enum class SocketOption : std::uint8_t {
  reuse_address,  ///< SO_REUSEADDR
  reuse_port,     ///< SO_REUSEPORT (the kernel spreads connections over listeners)
  no_delay,       ///< TCP_NODELAY
  keep_alive,     ///< SO_KEEPALIVE
  broadcast,      ///< SO_BROADCAST
  v6_only,        ///< IPV6_V6ONLY
  recv_buffer,    ///< SO_RCVBUF (bytes)
  send_buffer,    ///< SO_SNDBUF (bytes)
};

/// Which direction shutdown() closes.
enum class ShutdownHow : std::uint8_t { read, write, both };

/// The synchronous socket calls. All throw std::system_error with the OS error code.
namespace net {

/// A new non-blocking, close-on-exec socket that never raises SIGPIPE.
native_handle open_socket(AddressFamily family, SocketType type);
/// Two connected Unix sockets (socketpair), non-blocking and close-on-exec.
std::pair<native_handle, native_handle> socket_pair(SocketType type);
/// Closes `h`; errors are ignored (the handle is gone either way).
void close_socket(native_handle h) noexcept;
void bind(native_handle h, const Address& addr);
void listen(native_handle h, int backlog);
void set_option(native_handle h, SocketOption option, int value);
[[nodiscard]] int get_option(native_handle h, SocketOption option);
void shutdown(native_handle h, ShutdownHow how);
/// One non-blocking send attempt that never raises SIGPIPE: the number of bytes the
/// socket took, or -errno (-EAGAIN when its buffer is full). Unlike the calls above it
/// does not throw: a stream writer's fast path tries it before queueing data, where a
/// full buffer is the expected case. Only while no send of `h` is in flight.
[[nodiscard]] std::intptr_t try_send(native_handle h, const void* buf, std::size_t len) noexcept;
[[nodiscard]] Address local_address(native_handle h);
[[nodiscard]] Address peer_address(native_handle h);
/// Whether `h` is a stream socket (false for a datagram socket or a failing query).
[[nodiscard]] bool is_stream(native_handle h) noexcept;
/// The largest backlog the OS accepts (SOMAXCONN).
[[nodiscard]] int max_backlog() noexcept;

/// Blocking name resolution (getaddrinfo): every address of `host` for `port`, in the
/// resolver's order. An empty host means the local wildcard (for servers). Throws
/// std::system_error in resolver_category() when the name does not resolve.
std::vector<Address> resolve(const std::string& host, std::uint16_t port, AddressFamily family,
                             SocketType type);

/// The error category of resolve() failures (getaddrinfo's EAI_* codes).
[[nodiscard]] const std::error_category& resolver_category() noexcept;

}  // namespace net
}  // namespace corio
