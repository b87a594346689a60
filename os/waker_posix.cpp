// os/waker.hpp on POSIX. CORIO_HAVE_EVENTFD is a capability CMake found
// (cmake/Backends.cmake): Linux and FreeBSD 13+ have eventfd, macOS does not.
#include "os/waker.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "os/posix_fd.hpp"

#if CORIO_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

namespace corio::sys {

Waker::~Waker() {
  if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
}

void Waker::open(std::error_code& ec) noexcept {
#if CORIO_HAVE_EVENTFD
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    ec.assign(errno, std::system_category());
    return;
  }
  read_fd_ = write_fd_ = fd;
#else
  int fds[2];
  if (posix::open_pipe(fds) < 0) {
    ec.assign(errno, std::system_category());
    return;
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
#endif
  ec.clear();
}

void Waker::wake() noexcept {
  if (!flag_.raise()) return;
  // Eight bytes holding 1: what an eventfd requires, and as good as one byte in a pipe.
  // EAGAIN would mean the counter or the pipe is full, i.e. a wake-up is already pending.
  const std::uint64_t one = 1;
  while (::write(write_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Waker::drain() noexcept {
  // One read empties an eventfd; a pipe holds one write per raise() (WakeFlag), rarely
  // two, so a read shorter than the buffer proves it empty and costs no extra EAGAIN.
  std::uint64_t buf[8];
  for (;;) {
    const ssize_t r = ::read(read_fd_, buf, sizeof buf);
    if (r == static_cast<ssize_t>(sizeof buf) || (r < 0 && errno == EINTR)) continue;
    break;
  }
  flag_.lower();
}

}  // namespace corio::sys
