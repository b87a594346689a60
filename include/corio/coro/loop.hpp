// The event loop: one per thread, owning a Reactor and the ready queue.
#pragma once

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "corio/coro/handle.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/thread_pool.hpp"
#include "corio/reactor/reactor.hpp"
#include "corio/util/intrusive_list.hpp"

namespace corio {

class EventLoop;
template <class T>
class Coro;
template <class T>
class Task;

namespace detail {
// One loop per thread: awaiters find it here instead of each task storing a pointer.
// constinit tells every user it needs no dynamic initialisation, which removes a TLS
// init-function check from each EventLoop::current() (66 call sites in corio_micro).
extern constinit thread_local EventLoop* t_current_loop;
class DebugMonitor;
}  // namespace detail

/// Like asyncio.run()'s arguments: how to build the loop.
struct RunOptions {
  /// "auto", "epoll", "poll", "io_uring", ...; empty means $CORIO_BACKEND, else auto.
  std::string backend{};
  /// Submission queue depth for completion backends.
  unsigned queue_depth = 256;
  /// Time source (tests pass a ManualClock); nullptr means the steady clock.
  Clock* clock = nullptr;
  /// Threads for to_thread(); 0 means min(32, hardware threads + 4), like Python.
  std::size_t thread_pool_size = 0;
  /// asyncio's debug mode (`run(main, debug=True)`): names tasks, warns about slow steps,
  /// coroutines never awaited and pending tasks destroyed. Also on when $CORIO_DEBUG is
  /// set to anything but "" or "0".
  bool debug = false;
  /// Debug mode warns about a step that runs longer than this without yielding
  /// (asyncio's loop.slow_callback_duration). Unset: $CORIO_DEBUG_SLOW_MS, else 100 ms.
  std::optional<Duration> slow_callback_duration{};
  /// Loops for Runtime / run_threads(), one thread each; 0 means one per CPU the process
  /// may use. corio::run() runs one loop and accepts only 1.
  std::size_t threads = 1;
  /// Runtime: pin loop thread i to the i-th CPU the process may use (mod their count),
  /// where the platform can (Linux); elsewhere the run fails with ENOTSUP.
  bool pin_cpus = false;
};

/// The scheduler. A turn lets the reactor wait for I/O or the next timer and deliver
/// what happened, then runs the ready queue FIFO. Only call_soon_threadsafe() may be
/// called from other threads. The loop is this thread's current loop from construction
/// to close(); loops on one thread nest (the newest closes first).
class EventLoop {
 public:
  /// Opens the backend; throws BackendError if it cannot.
  explicit EventLoop(const RunOptions& options = {});
  /// close(), if not done yet.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// The loop running on this thread, or nullptr.
  [[nodiscard]] static EventLoop* current() noexcept { return detail::t_current_loop; }
  /// The loop running on this thread; throws InvalidStateError if there is none
  /// (like asyncio.get_running_loop()).
  [[nodiscard]] static EventLoop& running();

  /// The reactor; gone after close().
  [[nodiscard]] Reactor& reactor() noexcept { return *reactor_; }
  [[nodiscard]] std::string_view backend_name() const noexcept { return backend_name_; }
  /// The loop's clock (asyncio's loop.time()): call_at() deadlines are on it.
  [[nodiscard]] TimePoint now() const noexcept { return clock_->now(); }

  // --- Running, stopping, closing (asyncio's loop.run_* / stop / close) -------------
  // Each run_* throws InvalidStateError if the loop is closed or already running (or
  // another loop is running on this thread).

  /// Runs `coro` as a task of this loop until it finishes and returns its result or
  /// rethrows its exception (loop.run_until_complete). Defined in task.hpp.
  template <class T>
  T run_until_complete(Coro<T> coro);
  /// Runs until `task` finishes; returns what awaiting it would (a copy of the result
  /// if it can be copied).
  template <class T>
  T run_until_complete(Task<T> task);
  /// Runs turns until stop() (loop.run_forever()).
  void run_forever();
  /// Makes run_forever() return after the current turn: the callbacks already queued
  /// for it still run, the ones they queue wait for the next run. Called while the loop
  /// is not running, the next run_forever() runs one turn and returns (loop.stop()).
  /// run_until_complete() stopped before its task finished throws InvalidStateError.
  void stop() noexcept { stopping_ = true; }
  /// True inside run_forever / run_until_complete / corio::run (loop.is_running()).
  [[nodiscard]] bool is_running() const noexcept { return running_; }
  /// Shuts the thread pool down (joining it), destroys the tasks that never finished
  /// (reporting each: "Task was destroyed but it is pending!"), drops the callbacks
  /// still queued and closes the backend. Idempotent; InvalidStateError while running.
  /// Afterwards every run_* and call_* throws InvalidStateError (loop.close()).
  void close();
  /// True after close() (loop.is_closed()).
  [[nodiscard]] bool is_closed() const noexcept { return closed_; }

  // --- Callbacks (asyncio's loop.call_soon / call_later / call_at) -----------------
  // `fn` runs on the loop's thread from the ready queue. An exception escaping it is
  // reported on stderr ("corio: exception in callback: ...") and the loop goes on.

  /// Queues `fn` to run in a coming turn, FIFO with every other callback.
  Handle call_soon(std::function<void()> fn);
  /// Runs `fn` once `delay` has passed on the loop's clock (0 or less: as soon as
  /// possible); equal deadlines run in call order.
  template <class Rep, class Period>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, std::function<void()> fn) {
    return call_at(now() + std::chrono::ceil<Duration>(delay), std::move(fn));
  }
  /// Runs `fn` once the loop's clock (now()) reaches `when`.
  TimerHandle call_at(TimePoint when, std::function<void()> fn);

  // --- Debug mode (asyncio's loop.get_debug / set_debug / slow_callback_duration) ---

  /// Whether debug mode is on (RunOptions::debug or $CORIO_DEBUG).
  [[nodiscard]] bool debug() const noexcept { return debug_on_; }
  /// Turns debug mode on or off from the next turn (loop.set_debug()); turning it on
  /// names the tasks already alive.
  void set_debug(bool on);
  [[nodiscard]] Duration slow_callback_duration() const noexcept { return slow_duration_; }
  void set_slow_callback_duration(Duration d) noexcept;

  /// Runs `fn` on the loop's thread in a coming turn; callable from any thread, it
  /// wakes a loop blocked in the backend (asyncio's call_soon_threadsafe). Throws
  /// InvalidStateError once the loop is closed. Exceptions from `fn` are reported like
  /// call_soon's.
  void call_soon_threadsafe(std::function<void()> fn);
  /// The pool that to_thread() uses, started on first use and joined when the loop
  /// closes.
  [[nodiscard]] ThreadPool& thread_pool();

  /// Queues `fn(arg)` to run in a later turn, FIFO: the library's allocation-free
  /// call_soon (awaiters resume coroutines through it). `fn` must not throw.
  void call_soon(void (*fn)(void*), void* arg) { ready_.push(Callback{fn, arg}); }
  /// Queues the resumption of `h`. Completions and timers resume their waiters only
  /// through this: nothing resumes a coroutine from inside the reactor's delivery, so
  /// no waiter can keep a turn going (design.md, "The loop").
  void schedule(std::coroutine_handle<> h) { call_soon(&resume_address, h.address()); }
  /// Takes one unit of the running step's budget for an operation that finished
  /// without waiting; false means the step has used its share and should yield, so one
  /// busy socket cannot starve the rest (Tokio's coop budget, same size). Only the loop
  /// refills it, at the start of each step it runs from the ready queue.
  bool consume_budget() noexcept { return budget_ > 0 && --budget_ >= 0; }

  /// Runs turns until `task` is done (run_until_complete without the result); throws
  /// InvalidStateError if stop() ends the run first.
  void run_until_done(detail::PromiseBase& task);
  /// One turn; `may_block` false polls without waiting. Bare: the run_* calls check
  /// the loop's state around it.
  void run_once(bool may_block = true);
  /// Cancels every unfinished task and runs until all are done (asyncio.run's ending).
  void cancel_all_and_drain();

  // Task registry, used by the task machinery.
  void add_task(detail::PromiseBase& t) noexcept;
  void remove_task(detail::PromiseBase& t) noexcept;
  [[nodiscard]] std::size_t task_count() const noexcept { return tasks_.size(); }
  /// Debug mode's bookkeeping (nullptr until debug mode was first turned on).
  [[nodiscard]] detail::DebugMonitor* debug_monitor() const noexcept { return monitor_.get(); }

 private:
  static constexpr int kBudget = 128;
  class RunScope;

  struct Callback {
    void (*fn)(void*);
    void* arg;
  };
  // Growable ring buffer: FIFO with no allocation once it has reached its working size.
  class ReadyQueue {
   public:
    void push(Callback c) {
      if (size() == items_.size()) resize(items_.size() * 2);
      items_[tail_ & (items_.size() - 1)] = c;
      ++tail_;
    }
    Callback pop() noexcept {
      Callback c = items_[head_ & (items_.size() - 1)];
      ++head_;
      return c;
    }
    [[nodiscard]] std::size_t size() const noexcept { return tail_ - head_; }
    [[nodiscard]] bool empty() const noexcept { return head_ == tail_; }
    /// Gives back the memory of a burst (a million tasks started at once) once the
    /// queue is nearly drained, so it does not stay at its peak for the loop's lifetime.
    void shrink_if_idle() {
      if (items_.size() > kKeep && size() <= kKeep / 4) resize(kKeep);
    }

   private:
    void resize(std::size_t capacity);

    static constexpr std::size_t kKeep = 4096;
    std::vector<Callback> items_ = std::vector<Callback>(64);
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
  };

  static void resume_address(void* address) {
    std::coroutine_handle<>::from_address(address).resume();
  }
  // Ready-queue entry of a Handle; arg is its CallbackState.
  static void run_user_callback(void* state);
  static void fire_user_timer(Timer& t) noexcept;
  friend class Handle;  // cancel() takes its timer out of the wheel
  void disarm(detail::CallbackState& s) noexcept;
  void unlink_timer(detail::CallbackState& s) noexcept;
  [[nodiscard]] detail::CallbackState* new_callback(std::function<void()>& fn);

  void run_inbox();
  void run_ready_observed(std::size_t n);
  void check_open() const;
  /// Throws what a run_* would: closed, already running, another loop running.
  void check_runnable() const;
  void teardown() noexcept;

  std::unique_ptr<Reactor> reactor_;
  ReadyQueue ready_;
  std::mutex inbox_mutex_;
  std::vector<std::function<void()>> inbox_;  // from call_soon_threadsafe
  std::vector<std::function<void()>> inbox_spare_;
  std::atomic<bool> inbox_pending_{false};
  std::size_t thread_pool_size_;
  std::unique_ptr<ThreadPool> pool_;
  int budget_ = kBudget;
  // Unfinished tasks, newest first.
  util::IntrusiveList<detail::PromiseBase, &detail::PromiseBase::next_task_,
                      &detail::PromiseBase::prev_task_>
      tasks_;
  // Armed call_later/call_at callbacks.
  util::IntrusiveList<detail::CallbackState, &detail::CallbackState::next,
                      &detail::CallbackState::prev>
      timer_handles_;
  EventLoop* previous_ = nullptr;  // loop that was current before this one
  Clock* clock_ = nullptr;
  std::string backend_name_;    // kept for after close()
  std::string selection_note_;  // what `auto` skipped on the way, for debug mode
  std::unique_ptr<detail::DebugMonitor> monitor_;
  Duration slow_duration_;
  bool debug_on_ = false;
  bool running_ = false;
  bool stopping_ = false;
  bool closed_ = false;     // also read by call_soon_threadsafe under inbox_mutex_
  bool announced_ = false;  // debug mode has logged the backend
};

/// The loop running on this thread (asyncio.get_running_loop()); throws
/// InvalidStateError if there is none. Same as EventLoop::running().
[[nodiscard]] inline EventLoop& get_running_loop() {
  return EventLoop::running();
}

/// The name of the backend the running loop uses (like asking the loop which
/// selector it got); throws InvalidStateError outside a loop.
[[nodiscard]] std::string_view current_backend();

}  // namespace corio
