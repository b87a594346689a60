// Descriptors the way corio needs them on any POSIX system: non-blocking, close-on-exec,
// and (where the OS has the option) never raising SIGPIPE. Linux and FreeBSD do each in
// the creating call (SOCK_NONBLOCK, accept4, pipe2); macOS needs fcntl/setsockopt after
// it. Which way is decided by CMake's feature tests (CORIO_HAVE_ACCEPT4 and friends, in
// cmake/Backends.cmake), so callers hold no platform #if.
#pragma once

#include <sys/socket.h>

namespace corio::posix {

/// socket(2) made non-blocking, close-on-exec and SIGPIPE-free. Returns the fd, or -1
/// with errno set (nothing is left open).
int open_socket(int domain, int type, int protocol) noexcept;

/// socketpair(2) with both ends as open_socket makes them. Returns 0, or -1 with errno.
int socket_pair(int domain, int type, int fds[2]) noexcept;

/// accept(2) giving a descriptor as open_socket makes them. Returns the fd, or -1 with
/// errno (EINTR is returned, not retried).
int accept_socket(int listener, sockaddr* address, socklen_t* length) noexcept;

/// pipe(2) with both ends non-blocking and close-on-exec. Returns 0, or -1 with errno.
int open_pipe(int fds[2]) noexcept;

/// pipe(2) with both ends close-on-exec but blocking. Returns 0, or -1 with errno.
int open_blocking_pipe(int fds[2]) noexcept;

}  // namespace corio::posix
