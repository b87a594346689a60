// POSIX pipes behind corio/os/pipe.hpp.
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "corio/os/pipe.hpp"
#include "os/nb_io.hpp"
#include "os/posix_fd.hpp"

namespace corio::os {

PipeEnds open_pipe() {
  int fds[2];
  if (posix::open_pipe(fds) < 0) {
    throw std::system_error(errno, std::generic_category(), "corio: pipe");
  }
  return PipeEnds{fds[0], fds[1]};
}

std::intptr_t try_write(native_handle h, const void* buf, std::size_t len) noexcept {
  return sys::write(h, buf, len);
}

void close_handle(native_handle h) noexcept {
  if (h != invalid_handle) (void)::close(static_cast<int>(h));
}

}  // namespace corio::os
