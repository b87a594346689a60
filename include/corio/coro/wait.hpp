// wait() and wait_for(): waiting on tasks with a condition or a time limit.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/children.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/task.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

/// When wait() returns (asyncio's return_when).
enum class ReturnWhen : std::uint8_t {
  first_completed,  ///< as soon as any task finishes or is cancelled
  first_exception,  ///< as soon as any task raises (else like all_completed)
  all_completed,    ///< when every task has finished
};
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::first_completed;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::first_exception;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::all_completed;

/// What wait() returns: `auto [done, pending] = co_await wait(...)`.
template <class T>
struct WaitResult {
  std::vector<Task<T>> done;
  std::vector<Task<T>> pending;
};

namespace detail {

/// The part of wait() that does not depend on the result type.
class WaitCore : WaitPoint, Timer {
 public:
  using Child = ChildWaiter<WaitCore>;

  WaitCore(ReturnWhen when, std::optional<Duration> timeout) noexcept
      : WaitPoint(&on_cancel), when_(when), timeout_(timeout) {
    on_fire = &fired;
  }

 protected:
  bool suspend(std::span<Child> children, PromiseBase& caller, std::coroutine_handle<> h);
  void check_cancelled() const { throw_if_cancelled(); }

 private:
  static void on_child_done(TaskWaiter& w) noexcept;
  static void fired(Timer& t) noexcept;
  static void on_cancel(WaitPoint& wp) noexcept;
  [[nodiscard]] bool satisfied_by(const PromiseBase& t) const noexcept;
  void settle() noexcept;

  std::span<Child> children_;
  std::size_t remaining_ = 0;
  std::coroutine_handle<> caller_{};
  ReturnWhen when_;
  std::optional<Duration> timeout_;
};

template <class T>
class [[nodiscard]] WaitAwaiter : WaitCore {
 public:
  WaitAwaiter(std::vector<Task<T>> tasks, ReturnWhen when, std::optional<Duration> timeout)
      : WaitCore(when, timeout), tasks_(std::move(tasks)), nodes_(tasks_.size()) {}

  bool await_ready() const noexcept { return false; }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    bind_children(nodes_, tasks_);
    return suspend(nodes_, caller.promise(), caller);
  }
  WaitResult<T> await_resume() {
    check_cancelled();
    WaitResult<T> r;
    for (Task<T>& t : tasks_)
      (t.done() ? r.done : r.pending).push_back(std::move(t));
    return r;
  }

 private:
  std::vector<Task<T>> tasks_;
  std::vector<Child> nodes_;
};

/// wait_for's awaiter: races one task against a deadline.
template <class T>
class [[nodiscard]] WaitForAwaiter : WaitPoint, Timer, TaskWaiter {
 public:
  /// `ready`: the work is done although its task has not run yet (the adapter of a
  /// Future already done), so a timeout <= 0 must not cancel it.
  WaitForAwaiter(Task<T> child, Duration timeout, bool owned, bool ready = false)
      : WaitPoint(&on_cancel),
        child_(std::move(child)),
        timeout_(timeout),
        owned_(owned),
        ready_(ready) {
    on_fire = &fired;
    on_done = &on_child_done;
  }

  bool await_ready() const noexcept { return child_.done(); }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) {
      child_.cancel();  // the caller will not wait for it
      return false;
    }
    caller_ = caller;
    EventLoop& loop = *EventLoop::current();
    if (timeout_ <= Duration::zero()) {
      // asyncio.wait_for(fut, 0) returns the result of a future already done.
      if (!ready_) {
        state_ = State::timed_out;
        child_.cancel();
      }
    } else {
      deadline = loop.now() + timeout_;
      loop.reactor().add_timer(*this);
    }
    child_.promise().add_waiter(*this);
    return true;
  }
  T await_resume() {
    throw_if_cancelled();
    PromiseBase& p = child_.promise();
    if (cancel_requested() || (state_ == State::timed_out && p.cancelled_)) {
      p.retrieved_ = true;
      if (cancel_requested()) throw_cancelled();
      throw TimeoutError();
    }
    // Finished in time, or it swallowed the cancellation and returned a value (which
    // asyncio 3.12 returns too), or it failed with its own exception.
    return child_.promise().get(owned_);
  }

 private:
  enum class State : std::uint8_t { waiting, timed_out };

  static void fired(Timer& t) noexcept {
    auto& self = static_cast<WaitForAwaiter&>(t);
    self.state_ = State::timed_out;
    self.child_.cancel();  // then keep waiting until it has really finished
  }
  static void on_cancel(WaitPoint& wp) noexcept {
    auto& self = static_cast<WaitForAwaiter&>(wp);
    self.child_.cancel();
  }
  static void on_child_done(TaskWaiter& w) noexcept {
    auto& self = static_cast<WaitForAwaiter&>(w);
    EventLoop& loop = *EventLoop::current();
    loop.reactor().cancel_timer(self);
    self.end();
    loop.schedule(self.caller_);
  }

  Task<T> child_;
  Duration timeout_;
  std::coroutine_handle<> caller_{};
  State state_ = State::waiting;
  bool owned_;
  bool ready_;
};

}  // namespace detail

/// Waits for the tasks until `when` is met or `timeout` passes (asyncio.wait). Never
/// raises TimeoutError and never cancels the tasks: on timeout the unfinished ones are
/// in `pending`. An empty list is an error (std::invalid_argument, asyncio's ValueError).
template <class T>
detail::WaitAwaiter<T> wait(std::vector<Task<T>> tasks, ReturnWhen when = ALL_COMPLETED,
                            std::optional<Duration> timeout = std::nullopt) {
  if (tasks.empty()) throw std::invalid_argument("corio::wait: the set of tasks is empty");
  return detail::WaitAwaiter<T>(std::move(tasks), when, timeout);
}

/// wait() over tasks given one by one, so no braced vector is needed (g++ 12 rejects
/// `std::vector<Task<T>>{a, b}` inside a co_await expression): `co_await wait(t1, t2)`,
/// `wait(t1, t2, FIRST_COMPLETED)`, `wait(t1, t2, FIRST_EXCEPTION, 5s)`,
/// `wait(t1, t2, 5s)`. The tasks share one result type, as in the vector form.
template <class T, class... Rest>
requires(detail::task_list_args_ok<T, ReturnWhen, Rest...>()) detail::WaitAwaiter<T> wait(
    const Task<T>& first, const Rest&... rest) {
  std::vector<Task<T>> tasks{first};
  tasks.reserve(1 + sizeof...(Rest));
  ReturnWhen when = ALL_COMPLETED;
  std::optional<Duration> timeout;
  auto take = [&]<class X>(const X& x) {
    if constexpr (std::is_same_v<X, Task<T>>) {
      tasks.push_back(x);
    } else if constexpr (std::is_same_v<X, ReturnWhen>) {
      when = x;
    } else {
      timeout = std::chrono::ceil<Duration>(x);
    }
  };
  (take(rest), ...);
  (void)take;  // unused when rest is empty
  return detail::WaitAwaiter<T>(std::move(tasks), when, timeout);
}

/// Awaits `aw` for at most `timeout` (asyncio.wait_for). Takes any corio::Awaitable, as
/// gather does: a Coro (becomes a task), a Task, a Future, a plain or user awaiter. On
/// expiry it cancels the work (a Future is cancelled, a Task is asked to cancel), waits
/// until it has really finished (its cleanup has run), then throws TimeoutError.
/// Cancelling the caller cancels the work too. A timeout <= 0 times out at once unless
/// the work is done (a Task or a Future already done gives its result).
template <detail::Gatherable A, class Rep, class Period>
auto wait_for(A&& aw, std::chrono::duration<Rep, Period> timeout) {
  using T = typename detail::task_for_t<A>::value_type;
  bool ready = false;
  if constexpr (detail::is_future_v<std::remove_cvref_t<A>>) {
    ready = aw.done();
    // asyncio.wait_for(fut, 0) cancels a pending future itself. Here the adapter task
    // would be cancelled before its first step, so it would never reach the future.
    if (!ready && timeout <= timeout.zero()) std::remove_cvref_t<A>(aw).cancel();
  }
  return detail::WaitForAwaiter<T>(detail::to_task(std::forward<A>(aw)),
                                   std::chrono::ceil<Duration>(timeout), detail::owns_result_v<A>,
                                   ready);
}
/// An argument wait_for cannot take: a static_assert naming the requirement.
template <class A, class Rep, class Period>
requires(!detail::Gatherable<A>) std::suspend_never
    wait_for(A&&, std::chrono::duration<Rep, Period>) {
  detail::refuse_argument<A>();
  return {};
}

}  // namespace corio
