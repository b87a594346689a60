// timeout() / timeout_at(): a deadline over a block of awaits in the current task
// (asyncio.timeout), with a deadline that can move while the block runs.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "corio/coro/children.hpp"
#include "corio/coro/coro.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/reactor/clock.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

/// A deadline scope (asyncio.Timeout). `co_await t.run(body)` runs `body` in the
/// current task; if the deadline passes first, the task is cancelled and, once `body`
/// has unwound, the CancelledError that this deadline caused comes out as TimeoutError.
/// A cancellation from anywhere else (an outer timeout, Task::cancel) stays a
/// CancelledError, so nested scopes each report only their own expiry. The object must
/// outlive the run() it started; it can be entered once.
///
///     corio::Timeout t = corio::timeout(2s);
///     co_await t.run(fetch());            // TimeoutError after 2 s
///     // inside fetch(): t.reschedule(t.when().value() + 1s) extends the deadline
class Timeout : Timer {
 public:
  /// A scope ending at `when`; nullopt means no deadline (until rescheduled).
  explicit Timeout(std::optional<TimePoint> when) noexcept : when_(when) { on_fire = &fired; }
  ~Timeout();
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;

  /// The deadline, or nullopt for none.
  [[nodiscard]] std::optional<TimePoint> when() const noexcept { return when_; }
  /// Moves the deadline (nullopt removes it); one already in the past expires at the
  /// next turn of the loop. Only while the scope is running: RuntimeError before it was
  /// entered or once it has expired or exited, as in asyncio.
  void reschedule(std::optional<TimePoint> when);
  /// True once the deadline has passed and cancelled the scope.
  [[nodiscard]] bool expired() const noexcept {
    return state_ == State::expiring || state_ == State::expired;
  }

  /// Runs `body` under this deadline (asyncio's `async with timeout:` block). Returns
  /// its value or rethrows its exception; throws TimeoutError if this deadline
  /// cancelled it.
  ///
  /// `body` may also be any other corio::Awaitable, awaited in the current task: a Task,
  /// a Future (cancelled on expiry, as asyncio does), a plain or user awaiter:
  /// `co_await timeout(1s).run(io::recv(...))`. Task and Future may be passed by name,
  /// a Coro and other awaitables as rvalues.
  template <class A>
  auto run(A&& body) {
    if constexpr (detail::is_coro_v<std::remove_cvref_t<A>> && !std::is_lvalue_reference_v<A>) {
      return run_body(std::move(body));  // no adapter frame for a Coro
    } else if constexpr (detail::Adoptable<A>) {
      using R = detail::adopted_result_t<A>;
      return run_body(detail::await_in_task<R>(std::remove_cvref_t<A>(std::forward<A>(body))));
    } else {
      detail::refuse_argument<A>();
      return std::suspend_never{};  // awaitable, so the static_assert is the only error
    }
  }

 private:
  enum class State : std::uint8_t { created, entered, expiring, expired, exited };

  template <class T>
  Coro<T> run_body(Coro<T> body);
  void enter(detail::PromiseBase& task);
  /// Leaves the scope; true means the CancelledError that `body` ended with was ours
  /// and becomes TimeoutError.
  bool exit(bool body_cancelled) noexcept;
  void arm();
  void disarm() noexcept;
  static void fired(Timer& t) noexcept;

  std::optional<TimePoint> when_;
  detail::PromiseBase* task_ = nullptr;
  unsigned cancelling_ = 0;  // the task's cancelling() on entry
  State state_ = State::created;
};

template <class T>
Coro<T> Timeout::run_body(Coro<T> body) {
  enter(co_await detail::CurrentTask{});
  std::exception_ptr error;
  bool cancelled = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
      value.emplace(true);
    } else {
      value.emplace(co_await std::move(body));
    }
  } catch (const CancelledError&) {
    cancelled = true;
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  if (exit(cancelled)) throw TimeoutError();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

/// A scope that expires `delay` from now on the running loop's clock
/// (asyncio.timeout(delay)). Use it as `co_await corio::timeout(2s).run(work())`, or keep
/// the object to reschedule it.
template <class Rep, class Period>
[[nodiscard]] Timeout timeout(std::chrono::duration<Rep, Period> delay) {
  return Timeout(EventLoop::running().now() + std::chrono::ceil<Duration>(delay));
}

/// A scope with no deadline until reschedule() sets one (asyncio.timeout(None)).
[[nodiscard]] inline Timeout timeout(std::nullopt_t) noexcept {
  return Timeout(std::nullopt);
}

/// A scope that expires at `when` on the loop's clock (asyncio.timeout_at);
/// nullopt means none.
[[nodiscard]] inline Timeout timeout_at(std::optional<TimePoint> when) noexcept {
  return Timeout(when);
}

}  // namespace corio
