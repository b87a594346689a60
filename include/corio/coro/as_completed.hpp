// as_completed(): take the results of several tasks in the order they finish.
//
// Design. One ChildWaiter per task (preallocated, linked into the task's waiter list)
// records each completion by writing the task's index into `order_`, a FIFO sized for
// every task, so a completion costs O(1) and allocates nothing. next() takes from that
// FIFO. Awaiters of next() wait in a WaiterList and are *handed* their outcome (a task
// index or a TimeoutError) before they are woken, as the queues do: a waiter cancelled
// before it was handed anything leaves no trace, and one cancelled after keeps what it
// was handed (CancelledError then comes at its next await). Either way no completion is
// lost. The deadline is one Timer for the whole iteration; when it fires the tasks still
// running are unlinked and left alone.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/children.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/task.hpp"
#include "corio/coro/waiter_list.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

template <class T>
class AsCompleted;

namespace detail {

/// What a next() awaiter was handed.
enum class NextOutcome : std::uint8_t {
  pending,    ///< nothing yet (or cancelled)
  finished,   ///< the task at `index_` finished
  timed_out,  ///< the deadline passed before another task finished
  exhausted,  ///< every result has been taken or is promised to another waiter
};

/// A next()/next_task() awaiter as the type-independent core sees it: a queued waiter
/// with room for what it is handed.
class AsCompletedWaiter : public ListWaiter {
 protected:
  friend class AsCompletedCore;
  std::size_t index_ = 0;
  NextOutcome outcome_ = NextOutcome::pending;
};

/// The part of AsCompleted<T> that does not depend on the result type.
class AsCompletedCore : Timer {
 public:
  AsCompletedCore(const AsCompletedCore&) = delete;
  AsCompletedCore& operator=(const AsCompletedCore&) = delete;

  /// Results not yet taken and not promised to a next() that is waiting.
  [[nodiscard]] std::size_t remaining() const noexcept {
    return nodes_.size() - taken_ - timeouts_ - waiters_.size();
  }
  [[nodiscard]] bool has_next() const noexcept { return remaining() != 0; }

 protected:
  using Child = ChildWaiter<AsCompletedCore>;

  explicit AsCompletedCore(std::size_t n);
  /// Only while no next() is suspended on `other`: re-points the task links and the
  /// timer at the new address.
  AsCompletedCore(AsCompletedCore&& other) noexcept;
  ~AsCompletedCore() { detach(); }

  /// Records the tasks already done (input order), links a waiter to each other one and
  /// arms the deadline. `nodes_[i].task` must be set.
  void start(std::optional<Duration> timeout);
  /// Unlinks every waiter and drops the timer (idempotent).
  void detach() noexcept;
  /// For a new next(): hands `w` what is available now; false if it has to wait.
  bool try_take(AsCompletedWaiter& w) noexcept;
  /// Queues `w` until a task finishes or the deadline passes.
  bool enqueue(AsCompletedWaiter& w, PromiseBase& caller, std::coroutine_handle<> h) noexcept;

  std::vector<Child> nodes_;

 private:
  /// Where the one deadline of the iteration stands.
  enum class Deadline : std::uint8_t {
    none,    ///< no timeout, or every task finished in time
    armed,   ///< the timer is queued
    passed,  ///< tasks unfinished at the deadline each yield a TimeoutError
  };

  static void on_task_done(TaskWaiter& w) noexcept;
  static void fired(Timer& t) noexcept;
  bool hand(AsCompletedWaiter& w) noexcept;
  void serve_waiters() noexcept;
  void unlink_tasks() noexcept;

  std::vector<std::size_t> order_;  // indices of finished tasks, in completion order
  WaiterList waiters_;              // suspended next() calls, FIFO
  Reactor* reactor_ = nullptr;      // where the timer is queued
  std::size_t finished_ = 0;        // entries of order_ written
  std::size_t taken_ = 0;           // entries of order_ handed out
  std::size_t timeouts_ = 0;        // TimeoutErrors handed out
  Deadline deadline_ = Deadline::none;
};

}  // namespace detail

/// Like the iterator asyncio.as_completed returns (3.13): hands out the tasks' results
/// in the order the tasks finish. Make it with as_completed(). It may be moved while no
/// next() is suspended on it (the moved-from object is left empty), and must outlive
/// every next() awaiting it. Several tasks may await next() at once: each result goes
/// to one of them, oldest waiter first.
///
///     auto ac = corio::as_completed(std::move(tasks), 5s);
///     while (ac.has_next()) {
///       int v = co_await ac.next();          // or: Task<int> t = co_await ac.next_task();
///     }
///
/// Order: tasks already done when as_completed() is called come first, in input order;
/// the others in the order they finish. A task passed twice counts twice.
///
/// Timeout: one deadline for the whole iteration, counted from as_completed(). Results
/// of tasks that finished before it are still handed out first; then each task still
/// unfinished at the deadline makes one next() throw TimeoutError. The tasks are not
/// cancelled (asyncio does not cancel them either): cancel or await them via tasks().
///
/// Cancelling a task suspended in next() throws CancelledError there and touches neither
/// the watched tasks nor the results: a later next() still gets them. Destroying the
/// object early unlinks it from the tasks, which run on.
///
/// Cost: the vectors made at construction; then a completion is O(1) and allocates
/// nothing, and the deadline passing is one O(n) sweep.
template <class T>
class [[nodiscard]] AsCompleted : detail::AsCompletedCore {
  template <bool ReturnTask>
  class Next;

 public:
  AsCompleted(std::vector<Task<T>> tasks, std::optional<Duration> timeout, bool owned)
      : AsCompletedCore(tasks.size()), tasks_(std::move(tasks)), owned_(owned) {
    for (const Task<T>& t : tasks_)
      if (!t.valid()) throw std::invalid_argument("corio::as_completed: an empty Task handle");
    detail::bind_children(nodes_, tasks_);
    start(timeout);
  }
  AsCompleted(AsCompleted&&) noexcept = default;
  AsCompleted& operator=(AsCompleted&&) = delete;
  // Unlink before tasks_ drops its references (the base destructor runs too late).
  ~AsCompleted() { detach(); }

  /// How many more next() calls will return or throw (asyncio keeps this count too).
  /// Suspended next() calls have already claimed theirs.
  using AsCompletedCore::remaining;
  /// Whether next() has something left to give (remaining() != 0).
  using AsCompletedCore::has_next;

  /// Awaits the next task to finish and returns its value or rethrows its exception
  /// (CancelledError for a cancelled task). TimeoutError once the deadline has passed;
  /// InvalidStateError when nothing is left (!has_next()).
  Next<false> next() noexcept { return Next<false>(*this); }
  /// Like next(), but returns the finished task itself (one of tasks()), as asyncio
  /// 3.13's `async for` does; its result or exception is left in it.
  Next<true> next_task() noexcept { return Next<true>(*this); }

  /// The watched tasks in input order (for coroutines, the tasks made from them).
  [[nodiscard]] const std::vector<Task<T>>& tasks() const noexcept { return tasks_; }

 private:
  std::vector<Task<T>> tasks_;
  bool owned_;  // as_completed made the tasks: results may be moved out
};

/// The awaiter of next() (ReturnTask false) and next_task() (true).
template <class T>
template <bool ReturnTask>
class [[nodiscard]] AsCompleted<T>::Next : detail::AsCompletedWaiter {
 public:
  using result_type = std::conditional_t<ReturnTask, Task<T>, T>;

  explicit Next(AsCompleted& ac) noexcept : ac_(&ac) {}

  bool await_ready() noexcept { return ac_->try_take(*this); }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return ac_->enqueue(*this, caller.promise(), caller);
  }
  result_type await_resume() {
    throw_if_cancelled();
    switch (outcome_) {
      case detail::NextOutcome::finished:
        if constexpr (ReturnTask) {
          return ac_->tasks_[index_];
        } else {
          return ac_->tasks_[index_].promise().get(ac_->owned_);
        }
      case detail::NextOutcome::timed_out:
        throw TimeoutError();
      case detail::NextOutcome::exhausted:
      case detail::NextOutcome::pending:
        break;
    }
    throw InvalidStateError("corio::as_completed: no task left to wait for");
  }

 private:
  AsCompleted* ac_;
};

/// Like asyncio.as_completed (3.13): returns an AsCompleted whose next() hands out the
/// tasks' results as they finish. `timeout` (none: no limit) bounds the whole
/// iteration; when it passes the remaining next() calls throw TimeoutError and the
/// tasks keep running. Results are copied: the tasks stay awaitable.
template <class T>
AsCompleted<T> as_completed(std::vector<Task<T>> tasks,
                            std::optional<Duration> timeout = std::nullopt) {
  return AsCompleted<T>(std::move(tasks), timeout, false);
}
template <class T, class Rep, class Period>
AsCompleted<T> as_completed(std::vector<Task<T>> tasks,
                            std::chrono::duration<Rep, Period> timeout) {
  return AsCompleted<T>(std::move(tasks), std::chrono::ceil<Duration>(timeout), false);
}

/// as_completed over tasks given one by one, so no braced vector is needed (g++ 12
/// rejects `std::vector<Task<T>>{a, b}` inside a co_await expression):
/// `as_completed(t1, t2)`, `as_completed(t1, t2, 5s)`. The tasks share one result type.
template <class T, class... Rest>
requires(detail::task_list_args_ok<T, void, Rest...>())
    AsCompleted<T> as_completed(const Task<T>& first, const Rest&... rest) {
  std::vector<Task<T>> tasks{first};
  tasks.reserve(1 + sizeof...(Rest));
  std::optional<Duration> timeout;
  auto take = [&]<class X>(const X& x) {
    if constexpr (std::is_same_v<X, Task<T>>) {
      tasks.push_back(x);
    } else {
      timeout = std::chrono::ceil<Duration>(x);
    }
  };
  (take(rest), ...);
  (void)take;  // unused when rest is empty
  return AsCompleted<T>(std::move(tasks), timeout, false);
}

/// as_completed over coroutines: each becomes a task at once, in order (as asyncio wraps
/// them with ensure_future); results are moved out of those tasks.
template <class T>
AsCompleted<T> as_completed(std::vector<Coro<T>> coros,
                            std::optional<Duration> timeout = std::nullopt) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (Coro<T>& c : coros)
    tasks.push_back(create_task(std::move(c)));
  return AsCompleted<T>(std::move(tasks), timeout, true);
}
template <class T, class Rep, class Period>
AsCompleted<T> as_completed(std::vector<Coro<T>> coros,
                            std::chrono::duration<Rep, Period> timeout) {
  return as_completed(std::move(coros),
                      std::optional<Duration>(std::chrono::ceil<Duration>(timeout)));
}

}  // namespace corio
