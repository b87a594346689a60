// shield(): wait for work without letting the waiter's cancellation reach it.
#pragma once

#include <coroutine>
#include <utility>

#include "corio/coro/children.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/task.hpp"

namespace corio {
namespace detail {

template <class T>
class [[nodiscard]] ShieldAwaiter : WaitPoint, TaskWaiter {
 public:
  ShieldAwaiter(Task<T> inner, bool owned)
      : WaitPoint(&on_cancel), inner_(std::move(inner)), owned_(owned) {
    on_done = &on_inner_done;
  }

  bool await_ready() const noexcept { return inner_.done(); }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) return false;
    caller_ = caller;
    inner_.promise().add_waiter(*this);
    return true;
  }
  T await_resume() {
    throw_if_cancelled();
    return inner_.promise().get(owned_);
  }

 private:
  // The waiter stops waiting; the inner task is left alone and keeps its result for
  // anyone else who holds it.
  static void on_cancel(WaitPoint& wp) noexcept {
    auto& self = static_cast<ShieldAwaiter&>(wp);
    self.inner_.promise().remove_waiter(self);
    self.mark_cancelled();
    self.end();
    EventLoop::current()->schedule(self.caller_);
  }
  static void on_inner_done(TaskWaiter& w) noexcept {
    auto& self = static_cast<ShieldAwaiter&>(w);
    self.end();
    EventLoop::current()->schedule(self.caller_);
  }

  Task<T> inner_;
  std::coroutine_handle<> caller_{};
  bool owned_;
};

}  // namespace detail

/// Awaits `aw` but protects it from the waiter's cancellation (asyncio.shield):
/// cancelling the awaiting task raises CancelledError there while `aw` runs on. Takes any
/// corio::Awaitable, as gather does (a Coro becomes a task; a Future stays pending and can
/// still be set). Cancelling `aw` itself still cancels it. Keep a Task or the Future to
/// get the result after a cancelled shield.
template <detail::Gatherable A>
auto shield(A&& aw) {
  using T = typename detail::task_for_t<A>::value_type;
  return detail::ShieldAwaiter<T>(detail::to_task(std::forward<A>(aw)), detail::owns_result_v<A>);
}
/// An argument shield cannot take: a static_assert naming the requirement.
template <class A>
requires(!detail::Gatherable<A>) std::suspend_never shield(A&&) {
  detail::refuse_argument<A>();
  return {};
}

}  // namespace corio
