// Task<T>: a coroutine scheduled on the loop at once and owned by the loop until it
// finishes, so dropping the handle never destroys (or loses) a running task.
#pragma once

#include <coroutine>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "corio/coro/coro.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"

namespace corio {

/// A handle to a running task (asyncio.Task). Copies share the task. Awaiting it gives
/// its result or rethrows its exception; any number of coroutines may await it.
template <class T = void>
class Task {
 public:
  using value_type = T;
  using promise_type = detail::Promise<T>;

  Task() noexcept = default;
  /// Adopts one reference to the root promise `p`.
  explicit Task(promise_type* p) noexcept : p_(p) {}
  Task(const Task& o) noexcept : p_(o.p_) {
    if (p_) p_->add_ref();
  }
  Task(Task&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Task& operator=(Task o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Task() {
    if (p_) p_->release_ref();
  }

  [[nodiscard]] bool valid() const noexcept { return p_ != nullptr; }
  /// True once the task has a result, an exception, or was cancelled.
  [[nodiscard]] bool done() const noexcept { return p_->done(); }
  /// True if the task finished by CancelledError.
  [[nodiscard]] bool cancelled() const noexcept { return p_->done() && p_->cancelled_; }
  /// Asks the task to stop: its current (or next) await throws CancelledError.
  /// Returns false if the task is already done (asyncio.Task.cancel()).
  bool cancel() noexcept { return p_->request_cancel(); }
  /// Number of cancellation requests not yet withdrawn (asyncio's cancelling()).
  [[nodiscard]] unsigned cancelling() const noexcept { return p_->cancel_requests_; }
  /// Withdraws one cancellation request; returns the remaining count. At zero, a
  /// cancellation not yet delivered is dropped as well (asyncio 3.13).
  unsigned uncancel() noexcept { return p_->uncancel(); }

  /// The result (a copy), or rethrows the task's exception; InvalidStateError if the
  /// task has not finished.
  decltype(auto) result() const& {
    check_done();
    if constexpr (std::is_void_v<T>) {
      p_->peek();
    } else {
      return T(p_->peek());
    }
  }
  /// The result, moved out of the task.
  T result() && {
    check_done();
    return p_->take();
  }
  /// The exception the task finished with (nullptr if it returned normally);
  /// InvalidStateError if it has not finished.
  [[nodiscard]] std::exception_ptr exception() const {
    check_done();
    p_->retrieved_ = true;
    return p_->exception_;
  }

  /// The task's name (asyncio's Task.get_name()): the one it was given, else
  /// "Task-N" (see PromiseBase::name()).
  [[nodiscard]] std::string get_name() const { return p_->name(); }
  /// Renames the task (asyncio's Task.set_name()); debug mode's warnings use it.
  void set_name(std::string name) const { p_->set_name(std::move(name)); }

  /// The shared task state, for the library's own awaiters.
  [[nodiscard]] promise_type& promise() const noexcept { return *p_; }

  class Awaiter;
  Awaiter operator co_await() const& noexcept { return Awaiter(p_, false); }
  Awaiter operator co_await() && noexcept { return Awaiter(p_, true); }

  friend bool operator==(const Task& a, const Task& b) noexcept { return a.p_ == b.p_; }

 private:
  void check_done() const {
    if (!p_->done()) throw InvalidStateError("corio: the task has not finished");
  }
  promise_type* p_ = nullptr;
};

/// Waits for a task; cancelling the waiter cancels the task too, as in asyncio (use
/// shield() to prevent that).
template <class T>
class Task<T>::Awaiter : detail::WaitPoint, detail::TaskWaiter {
 public:
  Awaiter(promise_type* p, bool move_out) noexcept
      : WaitPoint(&on_cancel), p_(p), move_out_(move_out) {
    on_done = &on_task_done;
  }
  bool await_ready() const noexcept { return p_->done(); }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    if (!begin(caller.promise())) return false;
    caller_ = caller;
    p_->add_waiter(*this);
    return true;
  }
  T await_resume() {
    throw_if_cancelled();
    if (forwarded_ && !p_->cancelled_) {
      // Our cancel was passed on to the task, which finished anyway (a wait it had
      // already won keeps its result and defers the cancel to a next await, which may
      // never come). The cancel was ours: deliver it here, or wait_for() on this task
      // would wait forever for a task that ran on (found by fuzz/scheduler_fuzz). The
      // task's own result stays in it.
      mark_cancelled();
      throw_if_cancelled();
    }
    return p_->get(move_out_);
  }

 private:
  static void on_task_done(detail::TaskWaiter& w) noexcept {
    auto& self = static_cast<Awaiter&>(w);
    self.end();
    EventLoop::running().schedule(self.caller_);
  }
  static void on_cancel(detail::WaitPoint& wp) noexcept {
    auto& self = static_cast<Awaiter&>(wp);
    // The task may have finished with our wake-up still pending (another of its waiters
    // cancelled us): the result stands and the cancellation hits our next await.
    if (self.p_->request_cancel()) {
      self.forwarded_ = true;
    } else {
      self.defer_cancel();
    }
  }

  promise_type* p_;
  std::coroutine_handle<> caller_{};
  bool move_out_;
  bool forwarded_ = false;  // our cancel was passed on to the task awaited
};

/// Schedules `coro` on the running loop and returns at once, without yielding
/// (asyncio.create_task). The loop keeps the task alive until it finishes.
template <class T>
[[nodiscard("keep the Task to await it; the loop runs it either way")]] Task<T> create_task(
    Coro<T> coro) {
  auto h = coro.release();
  h.promise().start_task(EventLoop::running(), h);
  return Task<T>(&h.promise());
}

/// create_task with a name (asyncio.create_task(coro, name=...)): Task::get_name()
/// returns it and debug mode's reports show it.
template <class T>
[[nodiscard("keep the Task to await it; the loop runs it either way")]] Task<T> create_task(
    Coro<T> coro, std::string name) {
  Task<T> task = create_task(std::move(coro));
  task.set_name(std::move(name));
  return task;
}

/// Spawns a task whose handle the caller does not need (it still runs to the end and
/// its exception, if never retrieved, is reported).
template <class T>
void spawn(Coro<T> coro) {
  (void)create_task(std::move(coro));
}

template <class T>
T EventLoop::run_until_complete(Coro<T> coro) {
  check_runnable();  // before the coroutine becomes a task of a loop that cannot run
  auto h = coro.release();
  h.promise().start_task(*this, h);
  Task<T> task(&h.promise());
  run_until_done(task.promise());
  return std::move(task).result();
}

template <class T>
T EventLoop::run_until_complete(Task<T> task) {
  run_until_done(task.promise());
  return task.promise().get(false);
}

}  // namespace corio
