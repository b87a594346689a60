// POSIX side of raw_socket.hpp.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "os/posix_fd.hpp"
#include "support/raw_socket.hpp"

namespace corio::testing {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::intptr_t raw_recv(native_handle h, void* buf, std::size_t len) noexcept {
  const ssize_t n = ::recv(static_cast<int>(h), buf, len, MSG_DONTWAIT);
  return n >= 0 ? n : (errno == EWOULDBLOCK ? -EAGAIN : -errno);
}

bool wait_readable(native_handle h, int timeout_ms) {
  pollfd p{static_cast<int>(h), POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

int peek_flag() noexcept {
  return MSG_PEEK;
}

std::pair<native_handle, native_handle> seqpacket_pair() {
  int fds[2];
  if (posix::socket_pair(AF_UNIX, SOCK_SEQPACKET, fds) != 0) {
    // macOS has no Unix SOCK_SEQPACKET.
    if (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT || errno == EPROTOTYPE)
      return {invalid_handle, invalid_handle};
    fail("socketpair");
  }
  return {fds[0], fds[1]};
}

void set_abortive_close(native_handle h) {
  const linger abort_on_close{1, 0};
  if (::setsockopt(static_cast<int>(h), SOL_SOCKET, SO_LINGER, &abort_on_close,
                   sizeof abort_on_close) != 0) {
    fail("setsockopt(SO_LINGER)");
  }
}

native_handle connect_blocking(const Address& addr) {
  const native_handle h = net::open_socket(addr.family(), SocketType::stream);
  const int fd = static_cast<int>(h);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(addr.raw().data), addr.raw().size) != 0) {
    if (errno != EINPROGRESS) fail("connect");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 5000) != 1) fail("poll");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) throw std::system_error(err, std::generic_category(), "connect");
  }
  return h;
}

native_handle accept_blocking(native_handle listener) {
  pollfd p{static_cast<int>(listener), POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) fail("poll");
  const int fd = posix::accept_socket(static_cast<int>(listener), nullptr, nullptr);
  if (fd < 0) fail("accept");
  return fd;
}

bool inheritable(native_handle h) {
  return (::fcntl(static_cast<int>(h), F_GETFD) & FD_CLOEXEC) == 0;
}

native_handle renumber(native_handle h, native_handle wanted) {
  if (h == wanted) return h;
  if (::dup2(static_cast<int>(h), static_cast<int>(wanted)) < 0) fail("dup2");
  ::close(static_cast<int>(h));
  return wanted;
}

}  // namespace corio::testing
