// TaskGroup: structured concurrency (asyncio.TaskGroup). The group is a scope: it
// cannot end while one of its children still runs.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/coro.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/task.hpp"

namespace corio {

/// Every exception a TaskGroup's children (and its body) failed with, in the order they
/// happened (asyncio's ExceptionGroup / BaseExceptionGroup).
class ExceptionGroup : public std::runtime_error {
 public:
  explicit ExceptionGroup(std::vector<std::exception_ptr> errors);
  /// The sub-exceptions; rethrow one to inspect it.
  [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
    return errors_;
  }
  /// Whether some sub-exception is an E (asyncio's `except* E` test).
  template <class E>
  [[nodiscard]] bool contains() const {
    for (const std::exception_ptr& e : errors_) {
      try {
        std::rethrow_exception(e);
      } catch (const E&) {
        return true;
      } catch (...) {
      }
    }
    return false;
  }

 private:
  std::vector<std::exception_ptr> errors_;
};

/// The children of one task_group() scope. When a child fails (with anything but
/// CancelledError), every other child and the scope's body are cancelled; the scope
/// then waits for all of them and throws an ExceptionGroup with every failure. If the
/// task running the scope is cancelled, the children are cancelled and awaited before
/// the CancelledError goes on. Only task_group() makes one.
class TaskGroup {
 public:
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup();

  /// Starts `coro` as a child task (tg.create_task). RuntimeError if the group has
  /// finished or is shutting down after a failure (the coroutine is then never run).
  template <class T>
  Task<T> create_task(Coro<T> coro) {
    if (!open()) {
      coro.release().destroy();  // refused, not forgotten: no never-awaited report
      throw_closed();
    }
    Task<T> task = corio::create_task(std::move(coro));
    adopt(task.promise());
    return task;
  }

  /// Children not finished yet.
  [[nodiscard]] std::size_t size() const noexcept { return running_; }

 private:
  template <class F>
  friend auto task_group(F body) -> Coro<typename std::invoke_result_t<F&, TaskGroup&>::value_type>;

  struct Child : detail::TaskWaiter {
    TaskGroup* group = nullptr;
    detail::PromiseBase* task = nullptr;
    Child* next_child = nullptr;
    Child* prev_child = nullptr;
  };
  class Join;

  explicit TaskGroup(detail::PromiseBase& parent) noexcept : parent_(&parent) {}

  [[nodiscard]] bool open() const noexcept {
    return !finished_ && !aborting_ && !(joining_ && running_ == 0);
  }
  [[noreturn]] void throw_closed() const;
  void adopt(detail::PromiseBase& task);
  void unlink(Child& c) noexcept;
  void abort() noexcept;
  void on_join_cancelled() noexcept;
  static void on_child_done(detail::TaskWaiter& w) noexcept;
  /// After every child finished: throws what the scope ends with, or returns if the
  /// body's own outcome stands.
  void finish(std::exception_ptr body_error, bool body_cancelled);
  Join join(const std::exception_ptr& body_error) noexcept;

  detail::PromiseBase* parent_;
  Child* children_ = nullptr;  // running children, newest first
  std::size_t running_ = 0;
  std::vector<std::exception_ptr> errors_;
  std::coroutine_handle<> joiner_{};  // the scope waiting for the last child
  Join* join_point_ = nullptr;
  bool joining_ = false;
  bool finished_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;  // we cancelled the body: withdraw it at the end
  bool propagate_cancel_ = false;         // a cancellation from outside reached the scope
};

/// Awaited at the end of the scope: waits for every child. Cancelling it cancels the
/// children (once) and keeps waiting, as asyncio's __aexit__ does.
class TaskGroup::Join : detail::WaitPoint {
 public:
  explicit Join(TaskGroup& g) noexcept : WaitPoint(&on_cancel), group_(&g) {}
  bool await_ready() const noexcept { return group_->running_ == 0; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    if (!begin(caller.promise())) {
      // A cancellation was waiting for this await: take it, then wait all the same.
      group_->on_join_cancelled();
      if (group_->running_ == 0) return false;
      begin(caller.promise());
    }
    group_->joiner_ = caller;
    group_->join_point_ = this;
    return true;
  }
  void await_resume() const noexcept {}

 private:
  friend class TaskGroup;
  void done() noexcept { end(); }
  static void on_cancel(detail::WaitPoint& wp) noexcept {
    static_cast<Join&>(wp).group_->on_join_cancelled();
  }

  TaskGroup* group_;
};

/// Runs `body(group)` as a TaskGroup scope in the current task (asyncio's
/// `async with TaskGroup() as tg:`) and returns the body's value once every child has
/// finished. The body is a callable taking `TaskGroup&` and returning a Coro:
///
///     co_await corio::task_group([&](corio::TaskGroup& tg) -> corio::Coro<> {
///       tg.create_task(fetch(a));
///       tg.create_task(fetch(b));
///       co_return;
///     });
///
/// A child failing cancels the others and the body; the scope then throws an
/// ExceptionGroup holding every child's failure (and the body's, if it failed too).
/// Leaving the scope, by any path, never leaves a child running.
template <class F>
auto task_group(F body) -> Coro<typename std::invoke_result_t<F&, TaskGroup&>::value_type> {
  using T = typename std::invoke_result_t<F&, TaskGroup&>::value_type;
  TaskGroup group(co_await detail::CurrentTask{});
  std::exception_ptr error;
  bool cancelled = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await body(group);
      value.emplace(true);
    } else {
      value.emplace(co_await body(group));
    }
  } catch (const CancelledError&) {
    cancelled = true;
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  co_await group.join(error);
  group.finish(error, cancelled);
  if constexpr (!std::is_void_v<T>) co_return std::move(*value);
}

}  // namespace corio
