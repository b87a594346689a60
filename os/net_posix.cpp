// The POSIX socket calls behind corio/os/net.hpp.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "corio/os/net.hpp"
#include "os/posix_fd.hpp"
#include "os/sockaddr.hpp"

namespace corio {
namespace {

using sockaddr_os::native_family;
using sockaddr_os::native_type;
using sockaddr_os::sa;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

struct OptionSpec {
  int level;
  int name;
};

OptionSpec spec(SocketOption o) noexcept {
  switch (o) {
    case SocketOption::reuse_address:
      return {SOL_SOCKET, SO_REUSEADDR};
    case SocketOption::reuse_port:
      return {SOL_SOCKET, SO_REUSEPORT};
    case SocketOption::no_delay:
      return {IPPROTO_TCP, TCP_NODELAY};
    case SocketOption::keep_alive:
      return {SOL_SOCKET, SO_KEEPALIVE};
    case SocketOption::broadcast:
      return {SOL_SOCKET, SO_BROADCAST};
    case SocketOption::v6_only:
      return {IPPROTO_IPV6, IPV6_V6ONLY};
    case SocketOption::recv_buffer:
      return {SOL_SOCKET, SO_RCVBUF};
    case SocketOption::send_buffer:
      return {SOL_SOCKET, SO_SNDBUF};
  }
  return {SOL_SOCKET, 0};
}

// The address getsockname or getpeername (`call`) gives for `h`.
template <class Call>
Address name_of(native_handle h, Call call, const char* what) {
  Address a;
  socklen_t len = sizeof a.raw().data;
  if (call(static_cast<int>(h), sa(a.raw()), &len) != 0) throw_errno(what);
  a.raw().size = len;
  return a;
}

}  // namespace

namespace net {

native_handle open_socket(AddressFamily family, SocketType type) {
  const int fd = posix::open_socket(native_family(family), native_type(type), 0);
  if (fd < 0) throw_errno("socket");
  return fd;
}

std::pair<native_handle, native_handle> socket_pair(SocketType type) {
  int fd[2];
  if (posix::socket_pair(AF_UNIX, native_type(type), fd) != 0) {
    throw_errno("socketpair");
  }
  return {fd[0], fd[1]};
}

void close_socket(native_handle h) noexcept {
  ::close(static_cast<int>(h));
}

void bind(native_handle h, const Address& addr) {
  if (::bind(static_cast<int>(h), sa(addr.raw()), addr.raw().size) != 0) throw_errno("bind");
}

void listen(native_handle h, int backlog) {
  if (::listen(static_cast<int>(h), backlog) != 0) throw_errno("listen");
}

void set_option(native_handle h, SocketOption option, int value) {
  const OptionSpec s = spec(option);
  if (::setsockopt(static_cast<int>(h), s.level, s.name, &value, sizeof value) != 0) {
    throw_errno("setsockopt");
  }
}

int get_option(native_handle h, SocketOption option) {
  const OptionSpec s = spec(option);
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(static_cast<int>(h), s.level, s.name, &value, &len) != 0) {
    throw_errno("getsockopt");
  }
  return value;
}

bool is_stream(native_handle h) noexcept {
  int type = 0;
  socklen_t len = sizeof type;
  return ::getsockopt(static_cast<int>(h), SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
         type == SOCK_STREAM;
}

void shutdown(native_handle h, ShutdownHow how) {
  const int native = how == ShutdownHow::read    ? SHUT_RD
                     : how == ShutdownHow::write ? SHUT_WR
                                                 : SHUT_RDWR;
  if (::shutdown(static_cast<int>(h), native) != 0) throw_errno("shutdown");
}

std::intptr_t try_send(native_handle h, const void* buf, std::size_t len) noexcept {
  for (;;) {
    // MSG_NOSIGNAL: a vanished peer must be EPIPE, not a signal that kills the process.
    const ssize_t n = ::send(static_cast<int>(h), buf, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

Address local_address(native_handle h) {
  return name_of(h, ::getsockname, "getsockname");
}

Address peer_address(native_handle h) {
  return name_of(h, ::getpeername, "getpeername");
}

int max_backlog() noexcept {
  return SOMAXCONN;
}

}  // namespace net
}  // namespace corio
