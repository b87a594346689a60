// The CORIO_HAVE_* macros name capabilities CMake found (cmake/Backends.cmake), never a
// platform. Where the one-call form exists it is used: it is one syscall, and it leaves
// no window in which another thread's fork+exec could inherit the descriptor.
#include "os/posix_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace corio::posix {
namespace {

// Closes `fd` keeping errno, for the failure paths.
void close_keeping_errno(int fd) noexcept {
  const int saved = errno;
  ::close(fd);
  errno = saved;
}

[[maybe_unused]] int set_cloexec(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags < 0 ? -1 : ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

[[maybe_unused]] int set_nonblocking(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// SO_NOSIGPIPE (macOS, the BSDs): a write to a vanished peer gives EPIPE, not a signal,
// even for a send without MSG_NOSIGNAL (older macOS ignores that flag).
int set_no_sigpipe([[maybe_unused]] int fd) noexcept {
#if CORIO_HAVE_SO_NOSIGPIPE
  const int one = 1;
  return ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
  return 0;
#endif
}

// Everything a fresh socket needs after the call that made it; closes it on failure.
int finish_socket(int fd) noexcept {
  if (fd < 0) return -1;
#if !CORIO_HAVE_SOCK_NONBLOCK
  if (set_cloexec(fd) < 0 || set_nonblocking(fd) < 0) {
    close_keeping_errno(fd);
    return -1;
  }
#endif
  if (set_no_sigpipe(fd) < 0) {
    close_keeping_errno(fd);
    return -1;
  }
  return fd;
}

[[maybe_unused]] int fd_flags() noexcept {
#if CORIO_HAVE_SOCK_NONBLOCK
  return SOCK_NONBLOCK | SOCK_CLOEXEC;
#else
  return 0;
#endif
}

}  // namespace

int open_socket(int domain, int type, int protocol) noexcept {
  return finish_socket(::socket(domain, type | fd_flags(), protocol));
}

int socket_pair(int domain, int type, int fds[2]) noexcept {
  int made[2];
  if (::socketpair(domain, type | fd_flags(), 0, made) != 0) return -1;
  if (finish_socket(made[0]) < 0) {
    close_keeping_errno(made[1]);
    return -1;
  }
  if (finish_socket(made[1]) < 0) {
    close_keeping_errno(made[0]);
    return -1;
  }
  fds[0] = made[0];
  fds[1] = made[1];
  return 0;
}

int accept_socket(int listener, sockaddr* address, socklen_t* length) noexcept {
#if CORIO_HAVE_ACCEPT4
  const int fd = ::accept4(listener, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  if (set_no_sigpipe(fd) < 0) {
    close_keeping_errno(fd);
    return -1;
  }
  return fd;
#else
  const int fd = ::accept(listener, address, length);
  if (fd < 0) return -1;
  if (set_cloexec(fd) < 0 || set_nonblocking(fd) < 0 || set_no_sigpipe(fd) < 0) {
    close_keeping_errno(fd);
    return -1;
  }
  return fd;
#endif
}

namespace {

int make_pipe(int fds[2], bool nonblocking) noexcept {
#if CORIO_HAVE_PIPE2
  return ::pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
#else
  if (::pipe(fds) != 0) return -1;
  for (int i = 0; i < 2; ++i) {
    if (set_cloexec(fds[i]) < 0 || (nonblocking && set_nonblocking(fds[i]) < 0)) {
      close_keeping_errno(fds[0]);
      close_keeping_errno(fds[1]);
      return -1;
    }
  }
  return 0;
#endif
}

}  // namespace

int open_pipe(int fds[2]) noexcept {
  return make_pipe(fds, true);
}

int open_blocking_pipe(int fds[2]) noexcept {
  return make_pipe(fds, false);
}

}  // namespace corio::posix
