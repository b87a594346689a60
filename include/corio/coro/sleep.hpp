// sleep(): suspend the current task for a while (asyncio.sleep).
#pragma once

#include <chrono>
#include <coroutine>

#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

/// The awaiter behind sleep() and sleep_until(); lives in the caller's frame, so a
/// sleeping task costs one heap entry and no allocation.
class [[nodiscard]] SleepAwaiter : detail::WaitPoint, Timer {
 public:
  /// `relative`: the deadline is `delay` after the moment of the await.
  SleepAwaiter(Duration delay, bool relative, TimePoint when) noexcept
      : WaitPoint(&on_cancel), delay_(delay), relative_(relative) {
    deadline = when;
    on_fire = &fired;
  }

  bool await_ready() const noexcept { return false; }  // even sleep(0) yields

  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) return false;
    caller_ = caller;
    EventLoop& loop = *task_->loop_;
    if (relative_) deadline = loop.now() + delay_;
    if (relative_ && delay_ <= Duration::zero()) {
      loop.schedule(caller);  // a plain yield: run again after what is ready now
    } else {
      loop.reactor().add_timer(*this);
    }
    return true;
  }

  void await_resume() const { throw_if_cancelled(); }

 private:
  static void fired(Timer& t) noexcept {
    auto& self = static_cast<SleepAwaiter&>(t);
    self.end();
    self.task_->loop_->resume(self.caller_);
  }
  static void on_cancel(detail::WaitPoint& wp) noexcept {
    auto& self = static_cast<SleepAwaiter&>(wp);
    self.cancelled_ = true;
    self.end();
    // A yield is already queued to resume us; a timer must be disarmed and replaced
    // by a queued resumption.
    if (self.task_->loop_->reactor().cancel_timer(self)) self.task_->loop_->schedule(self.caller_);
  }

  Duration delay_;
  bool relative_;
  std::coroutine_handle<> caller_{};
};

/// Suspends the current task for `delay` (asyncio.sleep). `sleep(0)` only yields to
/// the other ready tasks. Cancellable: throws CancelledError if the task is cancelled.
template <class Rep, class Period>
SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
  return SleepAwaiter(std::chrono::ceil<Duration>(delay), true, TimePoint{});
}

/// Suspends the current task until the loop's clock reaches `when`.
inline SleepAwaiter sleep_until(TimePoint when) noexcept {
  return SleepAwaiter(Duration::zero(), false, when);
}

}  // namespace corio
