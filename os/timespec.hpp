// Nanoseconds as the timespec a poller's wait takes (timespec for epoll_pwait2 and
// kevent, __kernel_timespec for io_uring), written once for all of them.
#pragma once

#include <chrono>

namespace corio::sys {

/// `d` (>= 0) as a timespec-like struct with tv_sec and tv_nsec.
template <class Timespec>
[[nodiscard]] Timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  Timespec ts{};
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(d);
  ts.tv_sec = static_cast<decltype(ts.tv_sec)>(secs.count());
  ts.tv_nsec = static_cast<decltype(ts.tv_nsec)>((d - secs).count());
  return ts;
}

}  // namespace corio::sys
