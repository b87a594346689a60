// Future<T>: a result that someone will set later (asyncio.Future).
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/coro/result.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

/// A value or exception delivered later, awaitable by any number of tasks
/// (asyncio.Future). Copies share the same state. Loop-bound: not thread-safe.
/// Cancelling a task that awaits a future cancels the future too, as in asyncio.
/// gather, wait_for, shield and timeout().run take a Future (by name or not), as they
/// take any corio::Awaitable.
template <class T = void>
class Future {
  using Value = value_or_none_t<T>;

 public:
  using value_type = T;
  using Callback = std::function<void(const Future&)>;

  /// A new pending future.
  Future() : s_(std::make_shared<State>()) {}

  [[nodiscard]] bool done() const noexcept { return s_->status != Status::pending; }
  [[nodiscard]] bool cancelled() const noexcept { return s_->status == Status::cancelled; }

  /// Sets the result and wakes every waiter; InvalidStateError if already done.
  template <class... Args>
  void set_result(Args&&... args) {
    check_pending();
    s_->value.emplace(std::forward<Args>(args)...);
    finish(Status::done);
  }
  /// Sets an exception and wakes every waiter; InvalidStateError if already done.
  void set_exception(std::exception_ptr e) {
    check_pending();
    s_->error = std::move(e);
    finish(Status::done);
  }
  /// Cancels the future: waiters get CancelledError. False if it was already done.
  bool cancel() {
    if (done()) return false;
    s_->error = std::make_exception_ptr(CancelledError{});
    finish(Status::cancelled);
    return true;
  }

  /// The result (a copy), or rethrows; InvalidStateError while pending.
  Value result() const {
    check_done();
    if (s_->error) std::rethrow_exception(s_->error);
    return *s_->value;
  }
  /// The exception (nullptr if a value was set); InvalidStateError while pending;
  /// CancelledError if the future was cancelled (as asyncio does).
  [[nodiscard]] std::exception_ptr exception() const {
    check_done();
    if (cancelled()) std::rethrow_exception(s_->error);
    return s_->error;
  }

  /// Calls `fn(*this)` from the loop once the future is done (at once, via the loop,
  /// if it already is).
  void add_done_callback(Callback fn) {
    if (done()) {
      schedule_callback(std::move(fn));
    } else {
      s_->callbacks.push_back(std::move(fn));
    }
  }

  class Awaiter;
  /// Waits for the future; returns its value or rethrows its exception.
  Awaiter operator co_await() const noexcept { return Awaiter(*this); }

  friend bool operator==(const Future& a, const Future& b) noexcept { return a.s_ == b.s_; }

 private:
  enum class Status : std::uint8_t { pending, done, cancelled };
  struct State {
    Status status = Status::pending;
    std::optional<Value> value;
    std::exception_ptr error;
    detail::WaiterList waiters;
    std::vector<Callback> callbacks;
  };
  struct PendingCallback {
    Callback fn;
    Future future;
  };

  void check_pending() const {
    if (done()) throw InvalidStateError("corio: the future is already done");
  }
  void check_done() const {
    if (!done()) throw InvalidStateError("corio: the future is not done yet");
  }
  void finish(Status status) {
    s_->status = status;
    s_->waiters.wake_all();
    std::vector<Callback> callbacks = std::move(s_->callbacks);
    for (Callback& fn : callbacks)
      schedule_callback(std::move(fn));
  }
  // Callbacks run from the loop, never inside set_result(), like asyncio's call_soon.
  void schedule_callback(Callback fn) const {
    auto* pending = new PendingCallback{std::move(fn), *this};
    EventLoop::running().call_soon(
        [](void* arg) {
          std::unique_ptr<PendingCallback> p(static_cast<PendingCallback*>(arg));
          p->fn(p->future);
        },
        pending);
  }

  std::shared_ptr<State> s_;
};

template <class T>
class Future<T>::Awaiter : detail::ListWaiter {
 public:
  explicit Awaiter(Future f) noexcept : ListWaiter(&cancel_future), future_(std::move(f)) {}
  bool await_ready() const noexcept { return future_.done(); }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(future_.s_->waiters, caller.promise(), caller);
  }
  T await_resume() const {
    throw_if_cancelled();
    if constexpr (std::is_void_v<T>) {
      (void)future_.result();
    } else {
      return future_.result();
    }
  }

 private:
  // asyncio: Task.cancel() cancels the future the task waits on; every waiter of that
  // future (this one included) then wakes with CancelledError.
  static void cancel_future(detail::WaitPoint& wp) noexcept {
    static_cast<Awaiter&>(wp).future_.cancel();
  }

  Future future_;
};

}  // namespace corio
