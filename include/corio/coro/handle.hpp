// Handle and TimerHandle: what EventLoop::call_soon / call_later / call_at return.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include "corio/reactor/clock.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

class EventLoop;

namespace detail {

/// A user callback waiting in the loop, shared by its handles (refcounted, one thread).
/// It is the Timer too for call_later/call_at, so the reactor's timer wheel holds it directly.
struct CallbackState : Timer {
  enum class Status : std::uint8_t {
    pending,    ///< queued in the ready queue or the timer wheel
    ran,        ///< taken out to run (cancel() is a no-op from here on)
    cancelled,  ///< cancel() came first; the callback was dropped
  };

  std::function<void()> fn;
  EventLoop* loop = nullptr;      // null once the loop no longer holds it (it ran, or closed)
  CallbackState* next = nullptr;  // the loop's list of armed timer handles
  CallbackState* prev = nullptr;
  std::uint32_t refs = 1;
  Status status = Status::pending;

  void add_ref() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) delete this;
  }
};

}  // namespace detail

/// A callback queued by EventLoop::call_soon (asyncio.Handle). Copies share it; dropping
/// every copy does not cancel it. Use on the loop's thread only.
class Handle {
 public:
  Handle() noexcept = default;
  Handle(const Handle& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  Handle(Handle&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Handle& operator=(Handle o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~Handle() {
    if (s_) s_->release();
  }

  /// Stops the callback from running and drops it (and what it captured) at once; a
  /// timer leaves the loop's timer wheel at once. No effect once the callback has started.
  void cancel() noexcept;
  /// True if cancel() came before the callback ran (asyncio.Handle.cancelled()).
  [[nodiscard]] bool cancelled() const noexcept {
    return s_ && s_->status == detail::CallbackState::Status::cancelled;
  }
  /// False for a default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }

 protected:
  friend class EventLoop;
  /// Adopts one reference to `s`.
  explicit Handle(detail::CallbackState* s) noexcept : s_(s) {}

  detail::CallbackState* s_ = nullptr;
};

/// A callback queued by EventLoop::call_later / call_at (asyncio.TimerHandle).
class TimerHandle : public Handle {
 public:
  TimerHandle() noexcept = default;
  /// When the callback is due, on the loop's clock (EventLoop::now()).
  [[nodiscard]] TimePoint when() const noexcept { return s_ ? s_->deadline : TimePoint{}; }

 private:
  friend class EventLoop;
  using Handle::Handle;
};

}  // namespace corio
