// Condition: wait for a notification while holding a lock (asyncio.Condition).
#pragma once

#include <coroutine>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "corio/coro/coro.hpp"
#include "corio/coro/lock.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

/// Like asyncio.Condition: tasks holding the lock wait() to be notified; wait() releases
/// the lock while waiting and re-acquires it before returning, even when cancelled.
/// Notification is FIFO. Not thread-safe.
class Condition {
 public:
  /// A condition with a lock of its own.
  Condition() noexcept : lock_(own_lock_) {}
  /// A condition over `lock`, which must outlive it (several conditions may share one).
  explicit Condition(Lock& lock) noexcept : lock_(lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// The underlying lock.
  [[nodiscard]] Lock& lock() const noexcept { return lock_; }
  // asyncio.Condition is also its lock (`async with cond:`).
  [[nodiscard]] bool locked() const noexcept { return lock_.locked(); }
  [[nodiscard]] Lock::AcquireAwaiter acquire() noexcept { return lock_.acquire(); }
  [[nodiscard]] Lock::ScopedAwaiter scoped() noexcept { return lock_.scoped(); }
  void release() { lock_.release(); }

  /// Releases the lock, waits for notify(), re-acquires the lock and returns. The
  /// calling task must hold the lock, else RuntimeError. If cancelled, it still
  /// re-acquires the lock before the CancelledError propagates (as asyncio does), and a
  /// notification it had already received is passed on to the next waiter.
  [[nodiscard]] Coro<void> wait();
  /// Waits until `pred()` is truthy and returns its value; `pred` is checked first and
  /// after every wake-up, with the lock held (asyncio's wait_for).
  template <class Pred>
  [[nodiscard]] Coro<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred);
  /// Wakes up to `n` waiters, oldest first. RuntimeError if the lock is not held (like
  /// asyncio, only locked() is checked: a plain function has no current task).
  void notify(std::size_t n = 1);
  /// Wakes every waiter.
  void notify_all() { notify(waiters_.size()); }

  /// How many tasks wait for a notification (for tests and diagnostics).
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  class NotifyAwaiter;

  Lock own_lock_;  // unused when the lock is shared (a few words)
  Lock& lock_;
  detail::WaiterList waiters_;
};

/// The wait for a notification inside wait(); lives in wait()'s frame.
class [[nodiscard]] Condition::NotifyAwaiter : detail::ListWaiter {
 public:
  explicit NotifyAwaiter(Condition& c) noexcept : cond_(c) {}
  bool await_ready() const noexcept { return false; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(cond_.waiters_, caller.promise(), caller);
  }
  void await_resume() const { throw_if_cancelled(); }

 private:
  Condition& cond_;
};

template <class Pred>
Coro<std::decay_t<std::invoke_result_t<Pred&>>> Condition::wait_for(Pred pred) {
  auto result = pred();
  while (!result) {
    co_await wait();
    result = pred();
  }
  co_return result;
}

}  // namespace corio
