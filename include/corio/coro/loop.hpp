// The event loop: one per thread, owning a Reactor and the ready queue.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "corio/coro/promise.hpp"
#include "corio/coro/thread_pool.hpp"
#include "corio/reactor/reactor.hpp"

namespace corio {

class EventLoop;
namespace detail {
// One loop per thread: awaiters find it here instead of each task storing a pointer.
extern thread_local EventLoop* t_current_loop;
}  // namespace detail

/// Like asyncio.run()'s arguments: how to build the loop.
struct RunOptions {
  /// "auto", "epoll", "poll", "io_uring", ...; empty means $CORIO_BACKEND, else auto.
  std::string backend;
  /// Submission queue depth for completion backends.
  unsigned queue_depth = 256;
  /// Time source (tests pass a ManualClock); nullptr means the steady clock.
  Clock* clock = nullptr;
  /// Threads for to_thread(); 0 means min(32, hardware threads + 4), like Python.
  std::size_t thread_pool_size = 0;
};

/// The scheduler. A turn lets the reactor wait for I/O or the next timer and deliver
/// what happened, then runs the ready queue FIFO. Only call_soon_threadsafe() may be
/// called from other threads.
class EventLoop {
 public:
  /// Opens the backend; throws BackendError if it cannot.
  explicit EventLoop(const RunOptions& options = {});
  /// Destroys tasks that never finished, reporting each like asyncio does.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// The loop running on this thread, or nullptr.
  [[nodiscard]] static EventLoop* current() noexcept { return detail::t_current_loop; }
  /// The loop running on this thread; throws InvalidStateError if there is none
  /// (like asyncio.get_running_loop()).
  [[nodiscard]] static EventLoop& running();

  [[nodiscard]] Reactor& reactor() noexcept { return *reactor_; }
  [[nodiscard]] std::string_view backend_name() const noexcept { return reactor_->backend_name(); }
  [[nodiscard]] TimePoint now() const noexcept { return reactor_->now(); }

  /// Runs `fn` on the loop's thread in a coming turn; callable from any thread, it
  /// wakes a loop blocked in the backend (asyncio's call_soon_threadsafe).
  void call_soon_threadsafe(std::function<void()> fn);
  /// The pool that to_thread() uses, started on first use and joined when the loop
  /// closes.
  [[nodiscard]] ThreadPool& thread_pool();

  /// Queues `fn(arg)` to run in a later turn, FIFO (asyncio's call_soon).
  void call_soon(void (*fn)(void*), void* arg) { ready_.push(Callback{fn, arg}); }
  /// Queues the resumption of `h`.
  void schedule(std::coroutine_handle<> h) { call_soon(&resume_address, h.address()); }
  /// Resumes `h` now with a fresh cooperative budget (used by completions).
  void resume(std::coroutine_handle<> h) {
    budget_ = kBudget;
    h.resume();
  }
  /// Takes one unit of the running step's budget for an operation that finished
  /// without waiting; false means the step has used its share and should yield, so one
  /// busy socket cannot starve the rest (Tokio's coop budget, same size).
  bool consume_budget() noexcept { return budget_ > 0 && --budget_ >= 0; }

  /// Runs turns until `task` is done.
  void run_until_done(detail::PromiseBase& task);
  /// One turn; `may_block` false polls without waiting.
  void run_once(bool may_block = true);
  /// Cancels every unfinished task and runs until all are done (asyncio.run's ending).
  void cancel_all_and_drain();

  // Task registry, used by the task machinery.
  void add_task(detail::PromiseBase& t) noexcept;
  void remove_task(detail::PromiseBase& t) noexcept;
  [[nodiscard]] std::size_t task_count() const noexcept { return task_count_; }

 private:
  static constexpr int kBudget = 128;

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

  void run_inbox();

  std::unique_ptr<Reactor> reactor_;
  ReadyQueue ready_;
  std::mutex inbox_mutex_;
  std::vector<std::function<void()>> inbox_;  // from call_soon_threadsafe
  std::vector<std::function<void()>> inbox_spare_;
  std::atomic<bool> inbox_pending_{false};
  std::size_t thread_pool_size_;
  std::unique_ptr<ThreadPool> pool_;
  int budget_ = kBudget;
  detail::PromiseBase* tasks_ = nullptr;  // intrusive list of unfinished tasks
  std::size_t task_count_ = 0;
  EventLoop* previous_ = nullptr;  // loop that was current before this one
};

/// The name of the backend the running loop uses (like asking the loop which
/// selector it got); throws InvalidStateError outside a loop.
[[nodiscard]] std::string_view current_backend();

}  // namespace corio
