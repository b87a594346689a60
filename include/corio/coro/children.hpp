// Shared helpers for awaiters that watch several tasks (gather, wait, wait_for).
#pragma once

#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/coro.hpp"
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

/// Turns an awaitable argument into a task: a Coro is scheduled (as asyncio's
/// ensure_future does), a Task is shared.
template <class T>
Task<T> to_task(Coro<T>&& c) {
  return create_task(std::move(c));
}
template <class T>
Task<T> to_task(const Task<T>& t) {
  return t;
}

/// A plain awaiter (has await_ready/await_suspend/await_resume), such as sleep() or an
/// I/O call.
template <class A>
concept PlainAwaiter = !std::is_reference_v<A> && requires(A & a) {
  { a.await_ready() } -> std::convertible_to<bool>;
  a.await_resume();
};

template <class R, class A>
Coro<R> await_in_task(A a) {
  co_return co_await std::move(a);
}

/// Any other awaiter runs in a task of its own (the argument must be an rvalue).
template <PlainAwaiter A>
auto to_task(A&& a) {
  using R = decltype(a.await_resume());
  return create_task(await_in_task<R>(std::move(a)));
}

/// What gather, wait_for and friends accept: a Coro, a Task, or a plain awaiter.
template <class A>
concept Gatherable = requires(A&& a) {
  to_task(std::forward<A>(a));
};

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
