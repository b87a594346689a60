// Linux (glibc): sched_getaffinity for the allowed set, pthread_setaffinity_np to pin.
#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <thread>

#include "coro/affinity.hpp"

namespace corio::detail {
namespace {

// The calling thread's allowed CPUs; a Runtime's threads inherit them from the thread
// that called run(), so this is the process's set as the user restricted it (taskset).
bool allowed_cpus(cpu_set_t& set) noexcept {
  CPU_ZERO(&set);
  return ::sched_getaffinity(0, sizeof set, &set) == 0;
}

}  // namespace

std::size_t usable_cpu_count() noexcept {
  cpu_set_t set;
  if (allowed_cpus(set)) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

void pin_current_thread(std::size_t index) {
  cpu_set_t allowed;
  if (!allowed_cpus(allowed)) {
    throw std::system_error(errno, std::system_category(), "corio: sched_getaffinity");
  }
  const int count = CPU_COUNT(&allowed);
  if (count <= 0) throw std::system_error(EINVAL, std::system_category(), "corio: no usable CPU");
  std::size_t wanted = index % static_cast<std::size_t>(count);
  int cpu = 0;
  for (; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed) && wanted-- == 0) break;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  // Returns the error number rather than setting errno.
  if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one); rc != 0) {
    std::string what = "corio: pthread_setaffinity_np (CPU ";
    what.append(std::to_string(cpu)).append(")");
    throw std::system_error(rc, std::system_category(), what);
  }
}

}  // namespace corio::detail
