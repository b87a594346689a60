// Lock: mutual exclusion between tasks (asyncio.Lock), plus the RAII guard that
// Lock::scoped() and Semaphore::scoped() return.
#pragma once

#include <coroutine>
#include <cstddef>
#include <utility>

#include "corio/coro/promise.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

class Condition;

/// Owns one acquisition of a Lock or a Semaphore and releases it when destroyed (the
/// `async with lock:` of asyncio). Move-only. Releasing the lock by hand while a guard
/// owns it is a bug: the guard would then release it a second time.
template <class M>
class [[nodiscard]] ReleaseGuard {
 public:
  ReleaseGuard() noexcept = default;
  explicit ReleaseGuard(M& m) noexcept : m_(&m) {}
  ReleaseGuard(ReleaseGuard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  ReleaseGuard& operator=(ReleaseGuard&& o) noexcept {
    if (this != &o) {
      release();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~ReleaseGuard() { release(); }

  /// Whether this guard still holds an acquisition.
  [[nodiscard]] bool owns() const noexcept { return m_ != nullptr; }
  /// Releases early; the destructor then does nothing.
  void release() {
    if (m_ != nullptr) std::exchange(m_, nullptr)->release();
  }

 private:
  M* m_ = nullptr;
};

/// Like asyncio.Lock: `co_await lock.acquire()` ... `lock.release()`, or
/// `auto guard = co_await lock.scoped();`. Strictly FIFO: release() hands the lock to the
/// oldest waiter directly, so a task that calls acquire() while others wait queues
/// behind them. Not reentrant, not thread-safe.
class Lock {
 public:
  class AcquireAwaiter;
  class ScopedAwaiter;

  Lock() noexcept = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// Whether some task holds the lock (asyncio's locked()).
  [[nodiscard]] bool locked() const noexcept { return locked_; }
  /// Waits until the lock is free and takes it. Cancellable while queued: the waiter
  /// leaves no trace. A waiter already handed the lock keeps it even if cancelled
  /// before it resumes; the CancelledError comes at its next await.
  [[nodiscard]] AcquireAwaiter acquire() noexcept;
  /// Like acquire(), returning a guard that releases in its destructor.
  [[nodiscard]] ScopedAwaiter scoped() noexcept;
  /// Releases the lock, handing it to the oldest waiter if there is one. Any task may
  /// release (as in asyncio); RuntimeError if the lock is not held.
  void release();

  /// How many tasks are queued (for tests and diagnostics).
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  friend class Condition;

  bool locked_ = false;
  // The task holding the lock: Condition::wait() checks it. Any task may release(), so
  // this is bookkeeping, not enforcement.
  const detail::PromiseBase* owner_ = nullptr;
  detail::WaiterList waiters_;  // only AcquireAwaiters (and subclasses) queue here
};

/// The awaiter behind Lock::acquire(); lives in the waiting frame.
class [[nodiscard]] Lock::AcquireAwaiter : detail::ListWaiter {
 public:
  explicit AcquireAwaiter(Lock& lock) noexcept : lock_(lock) {}

  bool await_ready() const noexcept { return false; }
  // The free-lock case is decided here rather than in await_ready because it needs the
  // caller's task (the owner); returning false resumes at once without suspending, and
  // like asyncio's uncontended acquire it does not raise a pending cancellation.
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    if (!lock_.locked_) {
      lock_.locked_ = true;
      lock_.owner_ = caller.promise().task();
      return false;
    }
    return enqueue(lock_.waiters_, caller.promise(), caller);
  }
  // If the lock was handed over, release() already made this task the owner.
  void await_resume() const { throw_if_cancelled(); }

 protected:
  Lock& lock_;

 private:
  friend class Lock;
  [[nodiscard]] const detail::PromiseBase* waiting_task() const noexcept { return task_; }
};

/// The awaiter behind Lock::scoped().
class [[nodiscard]] Lock::ScopedAwaiter : public Lock::AcquireAwaiter {
 public:
  using AcquireAwaiter::AcquireAwaiter;
  ReleaseGuard<Lock> await_resume() const {
    AcquireAwaiter::await_resume();
    return ReleaseGuard<Lock>(lock_);
  }
};

inline Lock::AcquireAwaiter Lock::acquire() noexcept {
  return AcquireAwaiter(*this);
}

inline Lock::ScopedAwaiter Lock::scoped() noexcept {
  return ScopedAwaiter(*this);
}

inline void Lock::release() {
  if (!locked_) throw RuntimeError("corio::Lock: release() of an unlocked lock");
  // Direct hand-off: the lock never looks free while someone waits, so nobody barges
  // in between this release and the waiter's resumption.
  if (detail::ListWaiter* w = waiters_.wake_one()) {
    owner_ = static_cast<AcquireAwaiter*>(w)->waiting_task();
  } else {
    locked_ = false;
    owner_ = nullptr;
  }
}

}  // namespace corio
