// Which CPUs the process may run on, and pinning a thread to one of them. Each platform
// implements this in one file that CMake picks (coro/affinity_*.cpp).
#pragma once

#include <cstddef>

namespace corio::detail {

/// How many CPUs this process may run on (at least 1).
[[nodiscard]] std::size_t usable_cpu_count() noexcept;

/// Pins the calling thread to the `index`-th CPU the process may run on, modulo their
/// count, so thread i of a Runtime lands on CPU i even inside a restricted cpuset.
/// Throws std::system_error if the OS refuses, with ENOTSUP where the platform has no
/// way to pin.
void pin_current_thread(std::size_t index);

}  // namespace corio::detail
