// Event: a flag tasks can wait for (asyncio.Event).
#pragma once

#include <coroutine>
#include <cstddef>

#include "corio/coro/promise.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

/// Like asyncio.Event: set() wakes every waiting task, oldest first, and later waits
/// return at once until clear(). Not thread-safe (one loop, like asyncio).
class Event {
 public:
  class WaitAwaiter;

  Event() noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Whether the flag is set (asyncio's is_set()).
  [[nodiscard]] bool is_set() const noexcept { return set_; }
  /// Sets the flag and wakes every waiter. A task woken here returns from wait() even
  /// if clear() runs before it resumes: it was granted the event, as in asyncio.
  void set() noexcept {
    if (set_) return;
    set_ = true;
    waiters_.wake_all();
  }
  /// Clears the flag; later wait() calls suspend again.
  void clear() noexcept { set_ = false; }
  /// `co_await ev.wait()` returns at once if the flag is set, else suspends until set().
  /// Cancellable: a cancelled waiter leaves the queue and gets CancelledError.
  [[nodiscard]] WaitAwaiter wait() noexcept;

  /// How many tasks are waiting (for tests and diagnostics).
  [[nodiscard]] std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  bool set_ = false;
  detail::WaiterList waiters_;
};

/// The awaiter behind Event::wait(); lives in the waiting frame, so waiting allocates
/// nothing.
class [[nodiscard]] Event::WaitAwaiter : detail::ListWaiter {
 public:
  explicit WaitAwaiter(Event& ev) noexcept : ev_(ev) {}

  // Like asyncio, a set event returns without yielding (and without raising a pending
  // cancellation: there is no await).
  bool await_ready() const noexcept { return ev_.set_; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(ev_.waiters_, caller.promise(), caller);
  }
  void await_resume() const { throw_if_cancelled(); }

 private:
  Event& ev_;
};

inline Event::WaitAwaiter Event::wait() noexcept {
  return WaitAwaiter(*this);
}

}  // namespace corio
