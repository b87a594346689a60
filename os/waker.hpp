// The cross-thread wake-up every poller needs: another thread calls wake(), and a loop
// blocked in its poller returns. Pollers that wait on descriptors (epoll, poll, io_uring's
// multishot poll) watch Waker::fd(); kqueue and IOCP have a native user event instead
// (EVFILT_USER, PostQueuedCompletionStatus) and share only WakeFlag.
#pragma once

#include <atomic>
#include <system_error>

namespace corio::sys {

/// Coalesces wake-ups: however many threads call wake() before the loop drains, one
/// signal reaches the kernel. The protocol, for every waker:
///   wake():  if (flag.raise()) signal();
///   drain(): consume the signal; then flag.lower();
/// The order in drain() is what keeps wake-ups from being lost. Lowering first would let
/// a wake() landing between the two see the flag down, signal, and have its signal
/// consumed by this drain, leaving the flag up with nothing pending: every later wake()
/// would then skip its signal for good. Consuming first, a wake() landing before the
/// lower() skips its signal harmlessly: lower() is an acquire exchange that reads that
/// wake()'s raise() (a release), so the waiting thread sees the caller's state change,
/// made before it called wake(), once drain() returns. A wake() after lower() signals.
class WakeFlag {
 public:
  /// Raises the flag; true when this caller must send the signal (it was down).
  [[nodiscard]] bool raise() noexcept { return !up_.exchange(true, std::memory_order_acq_rel); }
  /// Lowers the flag, after the signal has been consumed (see above).
  void lower() noexcept { (void)up_.exchange(false, std::memory_order_acq_rel); }

 private:
  std::atomic<bool> up_{false};
};

/// A descriptor another thread can make readable: an eventfd where the system has one
/// (one descriptor, one 8-byte read to drain), otherwise a non-blocking pipe. The
/// descriptor stays readable (level) until drain().
class Waker {
 public:
  Waker() noexcept = default;
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  /// Creates the descriptor(s); sets `ec` if the OS refuses.
  void open(std::error_code& ec) noexcept;
  /// What to poll for readability; -1 before open().
  [[nodiscard]] int fd() const noexcept { return read_fd_; }
  /// Makes fd() readable, unless a wake-up is already pending. Thread-safe.
  void wake() noexcept;
  /// Consumes the pending wake-up, if any; only the polling thread calls this.
  void drain() noexcept;

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;  // == read_fd_ for an eventfd
  WakeFlag flag_;
};

}  // namespace corio::sys
