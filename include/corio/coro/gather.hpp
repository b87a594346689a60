// gather(): run awaitables concurrently and collect their results in argument order.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/children.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/result.hpp"
#include "corio/coro/task.hpp"

namespace corio {

/// Tag for gather(return_exceptions, ...): exceptions become results instead of
/// propagating (asyncio's return_exceptions=True).
inline constexpr struct ReturnExceptions {
} return_exceptions{};

namespace detail {

/// The part of gather that does not depend on the result types.
class GatherCore : WaitPoint {
 public:
  using Child = ChildWaiter<GatherCore>;

  explicit GatherCore(bool return_exceptions) noexcept
      : WaitPoint(&on_cancel), return_exceptions_(return_exceptions) {}

 protected:
  /// await_suspend's work; false means "finished already, do not suspend".
  bool suspend(std::span<Child> children, PromiseBase& caller, std::coroutine_handle<> h);
  /// Throws what the gather as a whole ends with (first failure, cancellation).
  void rethrow_outcome();

 private:
  static void on_child_done(TaskWaiter& w) noexcept;
  static void on_cancel(WaitPoint& wp) noexcept;
  bool settle_if_ready() noexcept;
  void detach() noexcept;

  std::span<Child> children_;
  std::size_t remaining_ = 0;
  std::exception_ptr failure_;
  std::coroutine_handle<> caller_{};
  bool return_exceptions_;
};

/// gather over a fixed list of awaitables of possibly different types.
template <bool ReturnExc, class... Args>
class [[nodiscard]] GatherN : GatherCore {
 public:
  using result_type =
      std::conditional_t<ReturnExc, std::tuple<Result<typename task_for_t<Args>::value_type>...>,
                         std::tuple<value_or_none_t<typename task_for_t<Args>::value_type>...>>;

  explicit GatherN(Args&&... args)
      // Braces: a braced list is evaluated left to right, so the tasks are created (and
      // first run) in argument order, as asyncio.gather does.
      : GatherCore(ReturnExc), tasks_{to_task(std::forward<Args>(args))...} {}

  bool await_ready() const noexcept { return false; }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    std::apply([&](auto&... t) { bind(std::index_sequence_for<Args...>{}, t...); }, tasks_);
    return suspend(nodes_, caller.promise(), caller);
  }
  result_type await_resume() {
    rethrow_outcome();
    return collect(std::index_sequence_for<Args...>{});
  }

 private:
  template <std::size_t... I, class... Ts>
  void bind(std::index_sequence<I...>, Ts&... t) noexcept {
    ((nodes_[I].task = &t.promise()), ...);
  }
  template <std::size_t... I>
  result_type collect(std::index_sequence<I...>) {
    if constexpr (ReturnExc) {
      return result_type(finished_result(std::get<I>(tasks_), owns_result_v<Args>)...);
    } else {
      return result_type(finished_value(std::get<I>(tasks_), owns_result_v<Args>)...);
    }
  }

  std::tuple<task_for_t<Args>...> tasks_;
  std::array<Child, sizeof...(Args)> nodes_{};
};

/// gather over a range of same-typed awaitables.
template <bool ReturnExc, class T>
class [[nodiscard]] GatherRange : GatherCore {
 public:
  using result_type = std::vector<std::conditional_t<ReturnExc, Result<T>, value_or_none_t<T>>>;

  GatherRange(std::vector<Task<T>> tasks, bool owned)
      : GatherCore(ReturnExc), tasks_(std::move(tasks)), nodes_(tasks_.size()), owned_(owned) {}

  bool await_ready() const noexcept { return false; }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    bind_children(nodes_, tasks_);
    return suspend(nodes_, caller.promise(), caller);
  }
  result_type await_resume() {
    rethrow_outcome();
    result_type out;
    out.reserve(tasks_.size());
    for (Task<T>& t : tasks_) {
      if constexpr (ReturnExc) {
        out.push_back(finished_result(t, owned_));
      } else {
        out.push_back(finished_value(t, owned_));
      }
    }
    return out;
  }

 private:
  std::vector<Task<T>> tasks_;
  std::vector<Child> nodes_;
  bool owned_;
};

}  // namespace detail

/// Runs every argument concurrently and returns their results as a tuple in argument
/// order (asyncio.gather). Takes any corio::Awaitable: a Coro becomes a task at once, a
/// Task is shared, anything else (a Future, sleep(), a user awaiter) is awaited by a task
/// of its own. Task and Future may be passed by name; other awaitables as rvalues. The
/// first exception propagates as soon as it happens; the other children keep running.
/// Cancelling the awaiting task cancels every child that has not finished (a Future
/// child is cancelled, as in asyncio).
template <detail::Gatherable... Args>
detail::GatherN<false, Args...> gather(Args&&... args) {
  return detail::GatherN<false, Args...>(std::forward<Args>(args)...);
}

/// Like gather(...), but each element is a Result holding the value or the exception
/// (asyncio.gather(..., return_exceptions=True)).
template <detail::Gatherable... Args>
detail::GatherN<true, Args...> gather(ReturnExceptions, Args&&... args) {
  return detail::GatherN<true, Args...>(std::forward<Args>(args)...);
}

/// What an argument that gather cannot take gets: a static_assert naming the requirement
/// (corio::Awaitable, or "pass it as an rvalue") instead of a list of overloads.
template <class... Args>
requires(!(detail::Gatherable<Args> && ...)) std::suspend_never gather(Args&&...) {
  (detail::refuse_argument<Args>(), ...);
  return {};
}
template <class... Args>
requires(!(detail::Gatherable<Args> && ...)) std::suspend_never
    gather(ReturnExceptions, Args&&...) {
  (detail::refuse_argument<Args>(), ...);
  return {};
}

/// gather over a vector of coroutines: results in the same order.
template <class T>
detail::GatherRange<false, T> gather(std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (Coro<T>& c : coros)
    tasks.push_back(create_task(std::move(c)));
  return detail::GatherRange<false, T>(std::move(tasks), true);
}

/// gather over a vector of tasks (results are copied; the tasks stay awaitable).
template <class T>
detail::GatherRange<false, T> gather(std::vector<Task<T>> tasks) {
  return detail::GatherRange<false, T>(std::move(tasks), false);
}

/// return_exceptions form of gather over a vector of coroutines.
template <class T>
detail::GatherRange<true, T> gather(ReturnExceptions, std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (Coro<T>& c : coros)
    tasks.push_back(create_task(std::move(c)));
  return detail::GatherRange<true, T>(std::move(tasks), true);
}

/// return_exceptions form of gather over a vector of tasks.
template <class T>
detail::GatherRange<true, T> gather(ReturnExceptions, std::vector<Task<T>> tasks) {
  return detail::GatherRange<true, T>(std::move(tasks), false);
}

}  // namespace corio
