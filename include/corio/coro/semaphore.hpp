// Semaphore and BoundedSemaphore: a counter of permits tasks wait for
// (asyncio.Semaphore, asyncio.BoundedSemaphore).
#pragma once

#include <coroutine>
#include <cstddef>
#include <limits>
#include <stdexcept>

#include "corio/coro/lock.hpp"  // ReleaseGuard
#include "corio/coro/promise.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

/// Like asyncio.Semaphore(value): acquire() takes a permit, waiting FIFO when none is
/// left; release() gives one back, handing it straight to the oldest waiter if any, so a
/// late acquire() never overtakes a queued one. Not thread-safe.
class Semaphore {
 public:
  class AcquireAwaiter;
  class ScopedAwaiter;

  /// `value` permits to start with; std::invalid_argument (asyncio's ValueError) if
  /// negative.
  explicit Semaphore(std::ptrdiff_t value = 1) : Semaphore(value, kUnbounded) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Whether acquire() would wait (asyncio's locked()).
  [[nodiscard]] bool locked() const noexcept { return value_ == 0; }
  /// Permits available right now.
  [[nodiscard]] std::ptrdiff_t value() const noexcept { return value_; }
  /// Takes a permit, waiting if none is left. Cancellable while queued; a waiter already
  /// handed a permit keeps it even if cancelled before it resumes (the CancelledError
  /// comes at its next await), so no permit is lost.
  [[nodiscard]] AcquireAwaiter acquire() noexcept;
  /// Like acquire(), returning a guard that releases in its destructor.
  [[nodiscard]] ScopedAwaiter scoped() noexcept;
  /// Gives a permit back. On a BoundedSemaphore, std::invalid_argument if that would
  /// exceed the initial value.
  void release();

  /// How many tasks are queued (for tests and diagnostics).
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

 protected:
  static constexpr std::ptrdiff_t kUnbounded = std::numeric_limits<std::ptrdiff_t>::max();

  // The bound lives here, not in an override, so a BoundedSemaphore used through a
  // Semaphore& still checks it.
  Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound) : value_(value), bound_(bound) {
    if (value < 0) throw std::invalid_argument("corio::Semaphore: initial value must be >= 0");
  }

 private:
  // Invariant: waiters_ is non-empty only while value_ == 0 (release hands permits over).
  std::ptrdiff_t value_;
  std::ptrdiff_t bound_;
  detail::WaiterList waiters_;
};

/// Like asyncio.BoundedSemaphore: release() above the initial value is a bug and raises
/// std::invalid_argument (asyncio's ValueError).
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value, value) {}
};

/// The awaiter behind Semaphore::acquire(); lives in the waiting frame.
class [[nodiscard]] Semaphore::AcquireAwaiter : detail::ListWaiter {
 public:
  explicit AcquireAwaiter(Semaphore& sem) noexcept : sem_(sem) {}

  // Like asyncio, a free permit is taken without yielding or raising a pending cancel.
  bool await_ready() noexcept {
    if (sem_.value_ == 0) return false;
    --sem_.value_;
    return true;
  }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(sem_.waiters_, caller.promise(), caller);
  }
  void await_resume() const { throw_if_cancelled(); }

 protected:
  Semaphore& sem_;
};

/// The awaiter behind Semaphore::scoped().
class [[nodiscard]] Semaphore::ScopedAwaiter : public Semaphore::AcquireAwaiter {
 public:
  using AcquireAwaiter::AcquireAwaiter;
  ReleaseGuard<Semaphore> await_resume() const {
    AcquireAwaiter::await_resume();
    return ReleaseGuard<Semaphore>(sem_);
  }
};

inline Semaphore::AcquireAwaiter Semaphore::acquire() noexcept {
  return AcquireAwaiter(*this);
}

inline Semaphore::ScopedAwaiter Semaphore::scoped() noexcept {
  return ScopedAwaiter(*this);
}

inline void Semaphore::release() {
  if (value_ >= bound_) {
    throw std::invalid_argument("corio::BoundedSemaphore: released more times than acquired");
  }
  // Hand the permit to the oldest waiter if there is one; value_ stays 0.
  if (waiters_.wake_one() == nullptr) ++value_;
}

}  // namespace corio
