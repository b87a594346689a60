// The state every corio coroutine frame carries. Any Coro frame can become the root of
// a task, so the task's bookkeeping lives in the promise itself: create_task() then
// costs no allocation beyond the coroutine frame the user already made.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>

#include "corio/coro/frame_pool.hpp"

namespace corio {

class EventLoop;

namespace detail {

class PromiseBase;

/// The task that last suspended (WaitPoint::begin) or finished on this thread: debug
/// mode reads it after a slow step to name the culprit. One plain store where a task
/// suspends or ends, cheaper than asking whether debug mode is on (constinit: no TLS
/// init guard). Debug mode clears it before each step, and a named task (in debug mode,
/// every task) clears it when its frame is destroyed; outside debug mode it may dangle.
extern constinit thread_local PromiseBase* t_step_task;

/// Something waiting for a task to finish (an awaiter, gather, wait, ...). Linked into
/// the task's waiter list; `on_done` runs synchronously when the task finishes and must
/// only record the fact and schedule work, never resume a coroutine itself.
struct TaskWaiter {
  using DoneFn = void (*)(TaskWaiter&) noexcept;

  DoneFn on_done = nullptr;
  PromiseBase* target = nullptr;  // the task waited on while linked, else nullptr
  TaskWaiter* next = nullptr;
  TaskWaiter* prev = nullptr;

  [[nodiscard]] bool linked() const noexcept { return target != nullptr; }
};

/// One suspension of a task that Task::cancel() can interrupt. An awaiter derives from
/// it, calls begin() in await_suspend and end() when it is resumed. `cancel_fn` decides
/// what cancelling means for this kind of wait (cancel I/O, drop a timer, ...).
class WaitPoint {
 public:
  using CancelFn = void (*)(WaitPoint&) noexcept;

  explicit WaitPoint(CancelFn fn) noexcept : cancel_fn_(fn) {}
  /// Moving is for awaiters not yet awaited (e.g. handed to gather); an awaiter that is
  /// suspended must stay where it is.
  WaitPoint(WaitPoint&& other) noexcept : cancel_fn_(other.cancel_fn_) {}
  WaitPoint& operator=(WaitPoint&&) = delete;

  /// Called by Task::cancel() while the task is suspended here.
  inline void request_cancel() noexcept;

 protected:
  /// Registers this suspension with the caller's task. Returns false when a
  /// cancellation is already pending: the awaiter must then not suspend, and
  /// await_resume must throw CancelledError (throw_if_cancelled does).
  inline bool begin(PromiseBase& caller) noexcept;
  /// Unregisters; after this a cancel() of the task is kept for its next await.
  inline void end() noexcept;
  /// The operation finished normally although a cancel was asked for: the task must
  /// still see the cancellation, at its next await.
  inline void defer_cancel() noexcept;
  /// Whether request_cancel() was called during this await.
  [[nodiscard]] inline bool cancel_requested() const noexcept;
  /// Makes this await end with CancelledError.
  inline void mark_cancelled() noexcept;
  /// Throws CancelledError if this await was cancelled (call first in await_resume).
  inline void throw_if_cancelled() const;
  [[noreturn]] void throw_cancelled() const;

  PromiseBase* task_ = nullptr;  // set by begin(); null if the await never suspended

 private:
  CancelFn cancel_fn_;
};

/// Where a frame stands when it is a task root.
enum class TaskState : std::uint8_t {
  inline_coro,  ///< not a task: a Coro awaited inside another coroutine
  scheduled,    ///< created; its first step waits in the ready queue
  running,      ///< started; suspended or running right now
  done,         ///< finished: result, exception or cancelled
};

/// Base of every corio promise: the await chain plus (for roots) the task state.
class PromiseBase {
 public:
  PromiseBase() noexcept = default;
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;

  /// Coroutine frames come from a per-thread cache of freed ones (frame_pool.hpp), so a
  /// coroutine called per message costs no heap allocation in steady state.
  static void* operator new(std::size_t size) { return frame_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }

  /// The root promise of the task this frame runs in.
  [[nodiscard]] PromiseBase* task() const noexcept { return task_; }

  // --- Every frame ---
  // A frame awaited inline needs the handle of whoever awaits it (the continuation); a
  // task root is awaited by no one and needs its own handle instead. One field serves
  // both, which keeps every task 8 bytes smaller.
  std::coroutine_handle<> link_{};
  PromiseBase* task_ = nullptr;
  std::exception_ptr exception_{};

  // --- Task state (roots only) ---
  TaskWaiter* waiters_ = nullptr;     // circular list: waiters_->prev is the newest
  WaitPoint* wait_point_ = nullptr;   // the current cancellable suspension
  PromiseBase* next_task_ = nullptr;  // the loop's list of live tasks
  PromiseBase* prev_task_ = nullptr;
  std::uint32_t refs_ = 0;             // Task handles + the loop's while unfinished
  std::uint16_t cancel_requests_ = 0;  // asyncio's cancelling()
  TaskState state_ = TaskState::inline_coro;
  bool must_cancel_ = false;  // deliver CancelledError at the next await
  bool cancelled_ = false;    // finished by CancelledError
  bool retrieved_ = false;    // someone looked at the exception
  // The current await's cancellation state. A task suspends at one wait point at a time,
  // so these live here rather than in every awaiter (a sleeping task is smaller).
  bool wait_cancel_requested_ = false;  // the wait point was asked to cancel
  bool wait_cancelled_ = false;         // the await ends with CancelledError
  // The task has an entry in the name table (coro/task_names.cpp): set by a name from
  // the user or debug mode, so destroying an unnamed task costs no lookup.
  bool named_ = false;

  [[nodiscard]] bool done() const noexcept { return state_ == TaskState::done; }

  void add_ref() noexcept { ++refs_; }
  /// Drops a reference; the last one destroys the frame (reporting an exception
  /// nobody retrieved, like asyncio's "Task exception was never retrieved").
  void release_ref() noexcept;
  /// Task::cancel(): false if already done.
  bool request_cancel() noexcept;
  /// Task::uncancel(): withdraws one request. When none is left, a cancellation still
  /// waiting for the next await is dropped too (asyncio 3.13), so a timeout or task
  /// group that withdraws its own request leaves no stray CancelledError behind.
  unsigned uncancel() noexcept {
    if (cancel_requests_ > 0 && --cancel_requests_ == 0) must_cancel_ = false;
    return cancel_requests_;
  }
  void add_waiter(TaskWaiter& w) noexcept;
  void remove_waiter(TaskWaiter& w) noexcept;
  /// The coroutine's unhandled_exception(): keeps the exception being handled, and
  /// notes whether it is a CancelledError (from its type, without rethrowing it).
  void keep_current_exception() noexcept;
  /// Rethrows the task's exception (marking it retrieved), if any.
  void rethrow_if_failed() {
    if (exception_) {
      retrieved_ = true;
      std::rethrow_exception(exception_);
    }
  }

  /// Turns this frame into a task on `loop` and queues its first step.
  void start_task(EventLoop& loop, std::coroutine_handle<> self);
  /// The root finished (from final_suspend, or cancelled before its first step).
  void finish_task() noexcept;
  /// Destroys a task that never finished (loop teardown).
  void abandon_task() noexcept;

  /// The task's name (asyncio's Task.get_name()): the one given, else "Task-N". In
  /// debug mode N counts tasks as they are created; otherwise it is given on first ask.
  [[nodiscard]] std::string name();
  /// Renames the task (asyncio's Task.set_name()).
  void set_name(std::string name);

 private:
  void destroy_frame() noexcept;
};

void WaitPoint::request_cancel() noexcept {
  task_->wait_cancel_requested_ = true;
  cancel_fn_(*this);
}

bool WaitPoint::cancel_requested() const noexcept {
  return task_ != nullptr && task_->wait_cancel_requested_;
}

void WaitPoint::mark_cancelled() noexcept {
  task_->wait_cancelled_ = true;
}

void WaitPoint::throw_if_cancelled() const {
  if (task_ != nullptr && task_->wait_cancelled_) throw_cancelled();
}

bool WaitPoint::begin(PromiseBase& caller) noexcept {
  task_ = caller.task_;
  t_step_task = task_;
  task_->wait_cancel_requested_ = false;
  task_->wait_cancelled_ = false;
  if (task_->must_cancel_) {
    task_->must_cancel_ = false;
    task_->wait_cancelled_ = true;
    return false;
  }
  task_->wait_point_ = this;
  return true;
}

void WaitPoint::end() noexcept {
  if (task_->wait_point_ == this) task_->wait_point_ = nullptr;
}

void WaitPoint::defer_cancel() noexcept {
  task_->must_cancel_ = true;
}

/// A coroutine promise corio's awaiters can work with.
template <class P>
concept CorioPromise = std::derived_from<P, PromiseBase>;

/// `co_await CurrentTask{}` gives the task running the awaiting coroutine, without
/// suspending (asyncio.current_task() for the library's own scopes).
struct CurrentTask {
  PromiseBase* task = nullptr;
  bool await_ready() const noexcept { return false; }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    task = caller.promise().task_;
    return false;
  }
  [[nodiscard]] PromiseBase& await_resume() const noexcept { return *task; }
};

}  // namespace detail
}  // namespace corio
