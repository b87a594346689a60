// run_on(): await a coroutine that runs on another event loop (another thread).
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "corio/coro/coro.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/result.hpp"
#include "corio/coro/task.hpp"

namespace corio {
namespace detail {

/// One run_on call, shared by the two loops. The outcome is written on the target loop
/// and read on the origin after the reply crossed call_soon_threadsafe (whose lock orders
/// the two); the other fields each belong to one side, as marked.
template <class T>
struct RunOnState {
  std::optional<value_or_none_t<T>> value;
  std::exception_ptr error;
  bool ended_cancelled = false;  // the coroutine ended by CancelledError
  EventLoop* origin = nullptr;
  // Origin thread only: the suspended awaiter, null once it is gone.
  std::coroutine_handle<> waiter{};
  WaitPoint* wait_point = nullptr;
  // Target thread only.
  PromiseBase* remote_task = nullptr;  // the task running the coroutine, until it ends
  bool cancel_requested = false;       // the origin asked to cancel it
};

/// Sends the outcome to the origin loop exactly once: when the coroutine ends, or, if the
/// target loop drops it first (closed before starting it, or destroyed its task), from
/// the destructor, so the awaiter is never left waiting.
template <class T>
class RunOnReply {
 public:
  using Deliver = void (*)(std::shared_ptr<RunOnState<T>>);
  RunOnReply(std::shared_ptr<RunOnState<T>> state, Deliver deliver) noexcept
      : state_(std::move(state)), deliver_(deliver) {}
  RunOnReply(const RunOnReply&) = delete;
  RunOnReply& operator=(const RunOnReply&) = delete;
  ~RunOnReply() {
    if (sent_) return;
    state_->remote_task = nullptr;
    if (state_->cancel_requested) {
      state_->ended_cancelled = true;  // cancelled before its first step
    } else {
      state_->error = std::make_exception_ptr(
          InvalidStateError("corio: run_on: the target loop closed before running the coroutine"));
    }
    send();
  }

  [[nodiscard]] RunOnState<T>& state() const noexcept { return *state_; }
  /// Posts the outcome to the origin loop.
  void send() noexcept {
    sent_ = true;
    try {
      state_->origin->call_soon_threadsafe(
          [state = state_, deliver = deliver_]() mutable { deliver(std::move(state)); });
    } catch (...) {
      // The origin loop is closed: its awaiting task is gone, nobody waits for this.
    }
  }

 private:
  std::shared_ptr<RunOnState<T>> state_;
  Deliver deliver_;
  bool sent_ = false;
};

template <class T>
Coro<void> run_remote(Coro<T> coro, std::shared_ptr<RunOnReply<T>> reply) {
  RunOnState<T>& s = reply->state();
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      s.value.emplace();
    } else {
      T value = co_await std::move(coro);
      s.value.emplace(std::move(value));
    }
  } catch (const CancelledError&) {
    s.ended_cancelled = true;
  } catch (...) {
    s.error = std::current_exception();
  }
  s.remote_task = nullptr;
  reply->send();
}

/// The origin side of run_on: posts the coroutine to the target loop as a task and
/// waits for its reply. Cancelling the wait cancels the remote task and keeps waiting
/// until it has ended, so the coroutine never outlives the await that started it (it
/// may refer to the caller's locals).
template <class T>
class [[nodiscard]] RunOnAwaiter : WaitPoint {
 public:
  RunOnAwaiter(EventLoop& target, Coro<T> coro)
      : WaitPoint(&on_cancel), target_(target), coro_(std::move(coro)) {}
  RunOnAwaiter(RunOnAwaiter&&) = delete;
  ~RunOnAwaiter() {
    if (state_) state_->waiter = {};  // our task was destroyed while waiting
  }

  bool await_ready() const noexcept { return false; }
  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) return false;
    state_ = std::make_shared<RunOnState<T>>();
    state_->origin = EventLoop::current();
    state_->waiter = caller;
    state_->wait_point = this;
    // std::function needs a copyable callable: park the move-only coroutine. The reply
    // goes with the callback and nowhere else, so its last owner is on the target loop
    // (or, if the post fails, here, where its destructor posts the error back to us).
    auto parked = std::make_shared<Coro<T>>(std::move(coro_));
    try {
      target_.call_soon_threadsafe(
          [reply = std::make_shared<RunOnReply<T>>(state_, &deliver), parked] {
            Task<void> task = create_task(run_remote(std::move(*parked), reply));
            reply->state().remote_task = &task.promise();
          });
    } catch (...) {
      // The target is closed; the dropped reply has posted InvalidStateError to us.
    }
    return true;
  }

  T await_resume() {
    throw_if_cancelled();
    RunOnState<T>& s = *state_;
    if (s.ended_cancelled) throw CancelledError();
    if (s.error) std::rethrow_exception(s.error);
    if constexpr (!std::is_void_v<T>) return std::move(*s.value);
  }

 private:
  // On the origin loop: the reply has arrived.
  static void deliver(std::shared_ptr<RunOnState<T>> s) {
    if (!s->waiter) return;
    auto& self = static_cast<RunOnAwaiter&>(*s->wait_point);
    if (self.cancel_asked_) {
      // Asked to stop: a coroutine that ended cancelled ends this await the same way;
      // one that finished anyway keeps its outcome, and the cancellation is not lost
      // but hits the caller's next await.
      if (s->ended_cancelled) {
        self.mark_cancelled();
      } else {
        self.defer_cancel();
      }
    }
    self.end();
    EventLoop::current()->schedule(std::exchange(s->waiter, {}));
  }

  static void on_cancel(WaitPoint& wp) noexcept {
    auto& self = static_cast<RunOnAwaiter&>(wp);
    if (self.cancel_asked_) return;
    self.cancel_asked_ = true;
    try {
      self.target_.call_soon_threadsafe([s = self.state_] {
        s->cancel_requested = true;
        if (s->remote_task != nullptr) s->remote_task->request_cancel();
      });
    } catch (...) {
      // Target closed: its coroutine has ended or was dropped; the reply is on its way.
    }
  }

  EventLoop& target_;
  Coro<T> coro_;
  std::shared_ptr<RunOnState<T>> state_;
  bool cancel_asked_ = false;
};

}  // namespace detail

/// Runs `coro` as a task on `loop` (another thread's loop) and resumes the caller on its
/// own loop with the result or exception. Cancelling the caller cancels the remote task
/// and waits for it to end (CancelledError then, unless it finished anyway: its result
/// stands and the cancellation hits the caller's next await). InvalidStateError if
/// `loop` is closed or closes before the coroutine runs. On the caller's own loop it
/// simply awaits `coro`. Both loops must outlive the call. No asyncio counterpart
/// (asyncio.run_coroutine_threadsafe + wrap_future is the nearest).
template <class T>
Coro<T> run_on(EventLoop& loop, Coro<T> coro) {
  if (&loop == EventLoop::current()) {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      co_return;
    } else {
      T value = co_await std::move(coro);
      co_return value;
    }
  }
  if constexpr (std::is_void_v<T>) {
    co_await detail::RunOnAwaiter<T>(loop, std::move(coro));
  } else {
    T value = co_await detail::RunOnAwaiter<T>(loop, std::move(coro));
    co_return value;
  }
}

}  // namespace corio
