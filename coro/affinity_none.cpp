// Platforms without a thread-affinity call corio knows: count the hardware threads and
// refuse to pin (RunOptions::pin_cpus then fails the run with ENOTSUP).
#include <cerrno>
#include <system_error>
#include <thread>

#include "coro/affinity.hpp"

namespace corio::detail {

std::size_t usable_cpu_count() noexcept {
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

void pin_current_thread(std::size_t /*index*/) {
  throw std::system_error(ENOTSUP, std::generic_category(),
                          "corio: pinning threads to CPUs is not supported on this platform");
}

}  // namespace corio::detail
