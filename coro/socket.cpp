#include "corio/coro/socket.hpp"

#include <exception>
#include <system_error>

#include "corio/coro/loop.hpp"
#include "corio/coro/threads.hpp"
#include "corio/coro/timeout.hpp"

namespace corio {

Socket detail::AcceptAwaiter::await_resume() const {
  return Socket(static_cast<native_handle>(IoAwaiter::await_resume()));
}

std::pair<Socket, Socket> Socket::pair(SocketType type) {
  auto [a, b] = net::socket_pair(type);
  return {Socket(a), Socket(b)};
}

native_handle Socket::detach() noexcept {
  if (h_ != invalid_handle) {
    if (EventLoop* loop = EventLoop::current()) loop->reactor().release(h_);
  }
  return std::exchange(h_, invalid_handle);
}

void Socket::close() noexcept {
  if (h_ == invalid_handle) return;
  // The backend may cache state for the handle (registration, readiness); it must
  // forget it before the number can be reused by the next socket.
  if (EventLoop* loop = EventLoop::current()) loop->reactor().release(h_);
  net::close_socket(std::exchange(h_, invalid_handle));
}

Coro<void> Socket::send_all(std::string_view data) const {
  while (!data.empty()) {
    std::size_t n = co_await send(data);
    data.remove_prefix(n);
  }
}

Socket listen_on(const Address& addr, const ListenOptions& options) {
  Socket s(addr.family(), SocketType::stream);
  if (addr.family() != AddressFamily::local) {
    s.set_option(SocketOption::reuse_address, 1);
  }
  if (options.reuse_port) s.set_option(SocketOption::reuse_port, 1);
  if (addr.family() == AddressFamily::ipv6) {
    s.set_option(SocketOption::v6_only, options.v6_only ? 1 : 0);
  }
  s.bind(addr);
  s.listen(options.backlog > 0 ? options.backlog : net::max_backlog());
  return s;
}

Coro<std::vector<Address>> resolve(std::string host, std::uint16_t port, AddressFamily family,
                                   SocketType type) {
  try {
    Address numeric = Address::ip(host, port);
    if (family == AddressFamily::unspecified || family == numeric.family()) {
      co_return std::vector<Address>{numeric};
    }
  } catch (const std::invalid_argument&) {
    // not numeric: ask the resolver
  }
  co_return co_await to_thread(&net::resolve, std::move(host), port, family, type);
}

Coro<Socket> connect(Address addr) {
  Socket s(addr.family(), SocketType::stream);
  co_await s.connect(addr);
  co_return s;
}

namespace {

Coro<Socket> connect_first(std::string host, std::uint16_t port) {
  std::vector<Address> addrs = co_await resolve(std::move(host), port);
  std::exception_ptr first_error;
  for (const Address& a : addrs) {
    try {
      co_return co_await connect(a);
    } catch (const std::system_error&) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  throw std::system_error(std::make_error_code(std::errc::host_unreachable),
                          "connect: no address to try");
}

}  // namespace

Coro<Socket> connect(std::string host, std::uint16_t port, std::optional<Duration> timeout) {
  if (!timeout) co_return co_await connect_first(std::move(host), port);
  co_return co_await corio::timeout(*timeout).run(connect_first(std::move(host), port));
}

}  // namespace corio
