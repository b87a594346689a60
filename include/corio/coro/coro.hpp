// Coro<T>: the lazy coroutine type users write. Nothing runs until it is awaited (then
// it runs inside the awaiting task) or handed to create_task (then it is a task's root).
// Control passes by symmetric transfer, so long await chains never grow the stack.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "corio/coro/promise.hpp"

namespace corio {

template <class T = void>
class Coro;

namespace detail {

/// A Coro is being destroyed although its body never started (nothing awaited it and
/// it never became a task): debug mode reports it like asyncio's "coroutine ... was
/// never awaited".
void report_never_awaited(void* frame) noexcept;

/// Resumes whoever awaits a finished Coro, or finishes the task it is the root of.
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    PromiseBase& p = h.promise();
    if (p.state_ != TaskState::inline_coro) {
      p.finish_task();  // may destroy the frame: touch nothing after it
      return std::noop_coroutine();
    }
    return p.link_ ? p.link_ : std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

template <class T>
class Promise final : public PromiseBase {
 public:
  Coro<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { keep_current_exception(); }

  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.emplace(std::forward<U>(v));
  }

  /// The result for a single consumer: moves it out, or rethrows.
  T take() {
    rethrow_if_failed();
    return std::move(*value_);
  }
  /// The result for one of several consumers (awaiting a task): copies it.
  const T& peek() {
    rethrow_if_failed();
    return *value_;
  }
  /// Moves the result out when `move_out` (or when T cannot be copied: then the first
  /// consumer gets it), else copies it.
  T get(bool move_out) {
    if constexpr (std::is_copy_constructible_v<T>) {
      if (!move_out) return T(peek());
    }
    return take();
  }

 private:
  std::optional<T> value_;
};

template <>
class Promise<void> final : public PromiseBase {
 public:
  Coro<void> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { keep_current_exception(); }
  void return_void() noexcept {}
  void take() { rethrow_if_failed(); }
  void peek() { rethrow_if_failed(); }
  void get(bool /*move_out*/) { rethrow_if_failed(); }
};

}  // namespace detail

/// A lazy coroutine returning T (asyncio's coroutine object). Await it once with
/// `co_await`, or pass it to create_task / gather / wait_for / run.
template <class T>
class [[nodiscard]] Coro {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;
  using handle_type = std::coroutine_handle<promise_type>;

  Coro() noexcept = default;
  explicit Coro(handle_type h) noexcept : h_(h) {}
  Coro(Coro&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Coro& operator=(Coro&& other) noexcept {
    if (this != &other) {
      destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  ~Coro() { destroy(); }

  /// Whether this object still owns a coroutine (not yet awaited or handed off).
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  /// Gives up ownership of the frame (create_task takes it).
  handle_type release() noexcept { return std::exchange(h_, {}); }

  struct Awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    template <detail::CorioPromise P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      detail::PromiseBase& child = h.promise();
      child.link_ = caller;
      child.task_ = caller.promise().task_;
      return h;
    }
    T await_resume() { return h.promise().take(); }
  };

  /// Runs the coroutine inside the awaiting task; returns its value or rethrows.
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }

 private:
  void destroy() noexcept {
    if (!h_) return;
    // link_ is set once the frame is awaited or becomes a task.
    if (!h_.promise().link_) [[unlikely]]
      detail::report_never_awaited(h_.address());
    h_.destroy();
  }

  handle_type h_{};
};

namespace detail {
template <class T>
Coro<T> Promise<T>::get_return_object() noexcept {
  return Coro<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Coro<void> Promise<void>::get_return_object() noexcept {
  return Coro<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace corio
