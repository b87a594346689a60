// sleep(): suspend the current task for a while (asyncio.sleep).
#pragma once

#include <chrono>
#include <coroutine>

#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

/// The awaiter behind sleep() and sleep_until(); lives in the caller's frame, so a
/// sleeping task costs one heap entry and no allocation. Until it is awaited, a relative
/// sleep keeps its delay in `deadline` and has no `on_fire` yet: that keeps the awaiter
/// small (a million sleeping tasks are a benchmark goal) and sleep() free of clock reads.
class [[nodiscard]] SleepAwaiter : detail::WaitPoint, Timer {
 public:
  /// Sleeps for `delay` from the moment of the await.
  explicit SleepAwaiter(Duration delay) noexcept : WaitPoint(&on_cancel) {
    deadline = TimePoint(delay);
  }
  /// Sleeps until `when`.
  explicit SleepAwaiter(TimePoint when) noexcept : WaitPoint(&on_cancel) {
    deadline = when;
    on_fire = &fired;
  }

  bool await_ready() const noexcept { return false; }  // even sleep(0) yields

  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) return false;
    caller_ = caller;
    EventLoop& loop = *EventLoop::current();
    if (on_fire == nullptr) {  // relative
      const Duration delay = deadline.time_since_epoch();
      if (delay <= Duration::zero()) {
        loop.schedule(caller);  // a plain yield: run again after what is ready now
        return true;
      }
      deadline = loop.now() + delay;
      on_fire = &fired;
    } else if (deadline <= loop.now()) {
      // Already due: sleep(0), as asyncio's sleep with a delay <= 0. Through the heap it
      // would fire in this very turn's delivery, so a ticker that fell behind
      // (`next += 1ms; sleep_until(next)`) would run every catch-up tick before anything
      // else got a turn.
      loop.schedule(caller);
      return true;
    }
    loop.reactor().add_timer(*this);
    return true;
  }

  void await_resume() {
    // A yield is resumed straight from the ready queue, with nothing else to say the
    // wait is over: without this the task would keep pointing at this awaiter after it
    // is gone, and a later cancel() would reach into a dead frame (found by
    // fuzz/scheduler_fuzz: a task that yields and then cancels itself).
    end();
    throw_if_cancelled();
  }

 private:
  static void fired(Timer& t) noexcept {
    auto& self = static_cast<SleepAwaiter&>(t);
    self.end();
    EventLoop::current()->schedule(self.caller_);
  }
  static void on_cancel(detail::WaitPoint& wp) noexcept {
    auto& self = static_cast<SleepAwaiter&>(wp);
    self.mark_cancelled();
    self.end();
    // A yield is already queued to resume us; a timer must be disarmed and replaced
    // by a queued resumption.
    EventLoop& loop = *EventLoop::current();
    if (loop.reactor().cancel_timer(self)) loop.schedule(self.caller_);
  }

  std::coroutine_handle<> caller_{};
};

/// Suspends the current task for `delay` (asyncio.sleep). `sleep(0)` only yields to
/// the other ready tasks. Cancellable: throws CancelledError if the task is cancelled.
template <class Rep, class Period>
SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
  return SleepAwaiter(std::chrono::ceil<Duration>(delay));
}

/// Suspends the current task until the loop's clock reaches `when`.
inline SleepAwaiter sleep_until(TimePoint when) noexcept {
  return SleepAwaiter(when);
}

}  // namespace corio
