// Crossing threads: blocking work off the loop (to_thread) and coroutines submitted to
// a loop from plain threads (run_coroutine_threadsafe).
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "corio/coro/coro.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/result.hpp"
#include "corio/coro/task.hpp"

namespace corio {
namespace detail {

/// What a worker hands back to the loop. Shared, because a cancelled awaiter may be
/// gone (its frame destroyed) before the worker finishes: the worker then only drops
/// its reference, and the result is discarded safely.
template <class R>
struct ThreadJob {
  std::optional<value_or_none_t<R>> value;
  std::exception_ptr error;
  std::coroutine_handle<> waiter{};  // null once the awaiter gave up
  WaitPoint* wait_point = nullptr;
};

template <class R, class Fn>
class [[nodiscard]] ToThreadAwaiter : WaitPoint {
 public:
  explicit ToThreadAwaiter(Fn fn) : WaitPoint(&on_cancel), fn_(std::move(fn)) {}

  bool await_ready() const noexcept { return false; }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) return false;
    job_ = std::make_shared<ThreadJob<R>>();
    job_->waiter = caller;
    job_->wait_point = this;
    EventLoop& loop = *EventLoop::current();
    loop.thread_pool().submit([job = job_, fn = std::move(fn_), &loop]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
          job->value.emplace();
        } else {
          job->value.emplace(fn());
        }
      } catch (...) {
        job->error = std::current_exception();
      }
      // Back on the loop's thread: resume the waiter unless it was cancelled meanwhile.
      loop.call_soon_threadsafe([job = std::move(job)] {
        if (!job->waiter) return;
        static_cast<ToThreadAwaiter*>(job->wait_point)->end();
        EventLoop::current()->schedule(std::exchange(job->waiter, {}));
      });
    });
    return true;
  }

  R await_resume() {
    throw_if_cancelled();
    if (job_->error) std::rethrow_exception(job_->error);
    if constexpr (!std::is_void_v<R>) return std::move(*job_->value);
  }

 private:
  // The thread cannot be stopped; the waiter stops waiting and the result is dropped.
  static void on_cancel(WaitPoint& wp) noexcept {
    auto& self = static_cast<ToThreadAwaiter&>(wp);
    std::coroutine_handle<> h = std::exchange(self.job_->waiter, {});
    self.mark_cancelled();
    self.end();
    EventLoop::current()->schedule(h);
  }

  Fn fn_;
  std::shared_ptr<ThreadJob<R>> job_;
};

template <class T>
Coro<void> fulfil(Coro<T> coro, std::shared_ptr<std::promise<T>> out) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      out->set_value();
    } else {
      out->set_value(co_await std::move(coro));
    }
  } catch (...) {
    out->set_exception(std::current_exception());
  }
}

}  // namespace detail

/// Runs `fn(args...)` on the loop's thread pool and awaits its result without blocking
/// the loop (asyncio.to_thread). Exceptions come back to the awaiter. Cancelling the
/// await cannot stop the thread: the awaiter gets CancelledError at once and the
/// result, when it comes, is discarded.
template <class Fn, class... Args>
auto to_thread(Fn&& fn, Args&&... args) {
  auto bound = [f = std::forward<Fn>(fn),
                tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
    return std::apply(f, std::move(tup));
  };
  using R = std::invoke_result_t<decltype(bound)&>;
  return detail::ToThreadAwaiter<R, decltype(bound)>(std::move(bound));
}

/// Submits `coro` to `loop` from any other thread and returns a std::future the
/// calling thread can block on (asyncio.run_coroutine_threadsafe). The coroutine runs
/// as a task on `loop`, which must keep running until it finishes.
template <class T>
std::future<T> run_coroutine_threadsafe(Coro<T> coro, EventLoop& loop) {
  auto out = std::make_shared<std::promise<T>>();
  std::future<T> result = out->get_future();
  // std::function needs a copyable callable: park the move-only coroutine in a
  // shared_ptr for the trip to the loop's thread.
  auto parked = std::make_shared<Coro<T>>(std::move(coro));
  loop.call_soon_threadsafe([parked, out] { spawn(detail::fulfil(std::move(*parked), out)); });
  return result;
}

}  // namespace corio
