// Shared helpers for awaiters that watch several tasks (gather, wait, wait_for), and the
// adapter that turns any awaitable into one.
#pragma once

#include <chrono>
#include <concepts>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/awaitable.hpp"
#include "corio/coro/coro.hpp"
#include "corio/coro/future.hpp"
#include "corio/coro/result.hpp"
#include "corio/coro/task.hpp"

namespace corio::detail {

/// One link from an awaiter that watches several tasks (gather, wait) to one of them.
template <class Owner>
struct ChildWaiter : TaskWaiter {
  Owner* owner = nullptr;
  PromiseBase* task = nullptr;
};

/// Points each waiter at the task of the same index.
template <class Child, class T>
void bind_children(std::vector<Child>& nodes, std::vector<Task<T>>& tasks) noexcept {
  for (std::size_t i = 0; i < tasks.size(); ++i)
    nodes[i].task = &tasks[i].promise();
}

template <class T>
inline constexpr bool is_coro_v = false;
template <class T>
inline constexpr bool is_coro_v<Coro<T>> = true;
template <class T>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<Task<T>> = true;
template <class T>
inline constexpr bool is_future_v = false;
template <class T>
inline constexpr bool is_future_v<Future<T>> = true;

/// Copies of a Task or a Future share one state, so those may be passed by name: the
/// adapter keeps a copy and nothing dangles. Any other awaitable is moved in.
template <class T>
inline constexpr bool shares_state_v = is_task_v<T> || is_future_v<T>;

/// An awaitable that gather, wait_for, shield and Timeout::run can take over: an rvalue,
/// or a Task or Future by name.
template <class A>
concept Adoptable = Awaitable<A> && std::constructible_from<std::remove_cvref_t<A>, A> &&
    (!std::is_lvalue_reference_v<A> || shares_state_v<std::remove_cvref_t<A>>);

/// The value type of the Coro that awaits an A (a reference result is copied).
template <class A>
using adopted_result_t = std::remove_cvref_t<await_result_t<A>>;

/// The adapter: a coroutine that awaits `a` and returns its result, so any awaitable
/// runs on the machinery built for Coro and Task. Cancelling it cancels `a` as awaiting
/// it directly would (a Future is cancelled, a Task is asked to cancel).
template <class R, class A>
Coro<R> await_in_task(A a) {
  if constexpr (shares_state_v<A>) {
    co_return co_await a;  // as an lvalue: an rvalue Task would move its result out
  } else {
    co_return co_await std::move(a);
  }
}

/// Turns an awaitable argument into a task: a Coro is scheduled (as asyncio's
/// ensure_future does), a Task is shared; neither costs an extra frame.
template <class T>
Task<T> to_task(Coro<T>&& c) {
  return create_task(std::move(c));
}
template <class T>
Task<T> to_task(const Task<T>& t) {
  return t;
}

/// Any other awaitable (a Future, sleep(), an I/O call, a user awaiter) runs in a task of
/// its own that awaits it.
template <Adoptable A>
requires(!is_coro_v<std::remove_cvref_t<A>> &&
         !is_task_v<std::remove_cvref_t<A>>) Task<adopted_result_t<A>> to_task(A&& a) {
  Task<adopted_result_t<A>> t =
      create_task(await_in_task<adopted_result_t<A>>(std::remove_cvref_t<A>(std::forward<A>(a))));
  // The future keeps its outcome for whoever holds it (a Future never reports an
  // exception nobody retrieved), so the adapter must not report it either: after a
  // cancelled shield() or a gather that failed early, nobody awaits the adapter.
  if constexpr (is_future_v<std::remove_cvref_t<A>>) t.promise().retrieved_ = true;
  return t;
}

/// What gather, wait_for and friends accept: an Adoptable awaitable (a Coro or a user
/// awaiter as an rvalue, a Task or a Future in any form).
template <class A>
concept Gatherable = requires(A&& a) {
  to_task(std::forward<A>(a));
};

/// The readable refusal of a non-Gatherable argument: the combinators' fallback overloads
/// call it (and return std::suspend_never, so that the co_await around them compiles and
/// the static_assert is the one error, naming the requirement instead of listing
/// overloads).
template <class A>
constexpr bool refuse_argument() {
  static_assert(Awaitable<A>,
                "corio: this argument is not awaitable (corio::Awaitable): gather, wait_for, "
                "shield and timeout().run take a Coro, a Task, a Future, or an object with "
                "await_ready/await_suspend/await_resume or operator co_await");
  static_assert(!Awaitable<A> || Adoptable<A>,
                "corio: pass this awaitable as an rvalue (std::move or a temporary): only a "
                "Task or a Future may be passed by name, since their copies share one state");
  return false;
}

template <class X>
inline constexpr bool is_duration_v = false;
template <class Rep, class Period>
inline constexpr bool is_duration_v<std::chrono::duration<Rep, Period>> = true;

/// The shape of the variadic wait(t1, t2, ..., [when], [timeout]) and as_completed(t1,
/// t2, ..., [timeout]): Task<T>s, then at most one Mode (none when Mode is void), then at
/// most one std::chrono::duration.
template <class T, class Mode, class... Rest>
consteval bool task_list_args_ok() {
  int phase = 0;  // 0: tasks, 1: after the mode, 2: after the timeout
  bool ok = true;
  auto step = [&]<class X>() {
    if constexpr (std::is_same_v<X, Task<T>>) {
      ok = ok && phase == 0;
    } else if constexpr (!std::is_void_v<Mode> && std::is_same_v<X, Mode>) {
      ok = ok && phase == 0;
      phase = 1;
    } else if constexpr (is_duration_v<X>) {
      ok = ok && phase < 2;
      phase = 2;
    } else {
      ok = false;
    }
  };
  (step.template operator()<std::remove_cvref_t<Rest>>(), ...);
  (void)step;  // unused when Rest is empty
  return ok;
}

template <class A>
using task_for_t = decltype(to_task(std::declval<A>()));

/// Whether the result of argument kind A may be moved out (gather made the task, so
/// nobody else can await it) or must be copied (the caller may await it too).
template <class A>
inline constexpr bool owns_result_v = !std::is_same_v<std::remove_cvref_t<A>, task_for_t<A>>;

/// The value of a finished task as gather returns it: moved or copied, void as monostate.
template <class T>
value_or_none_t<T> finished_value(Task<T>& t, bool move_out) {
  if constexpr (std::is_void_v<T>) {
    t.promise().peek();
    return {};
  } else {
    return t.promise().get(move_out);
  }
}

/// The same as a Result (an exception becomes a value and counts as retrieved).
template <class T>
Result<T> finished_result(Task<T>& t, bool move_out) {
  PromiseBase& p = t.promise();
  if (p.exception_) {
    p.retrieved_ = true;
    return Result<T>::from_exception(p.exception_);
  }
  return Result<T>::from_value(finished_value(t, move_out));
}

}  // namespace corio::detail
