// Barrier: parties wait until all of them have arrived (asyncio.Barrier).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "corio/coro/promise.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

/// Like asyncio.BrokenBarrierError (a RuntimeError): the barrier was aborted, or reset
/// while the task waited.
class BrokenBarrierError : public RuntimeError {
 public:
  BrokenBarrierError() : RuntimeError("corio::BrokenBarrierError: the barrier is broken") {}
};

/// Like asyncio.Barrier(parties): `co_await b.wait()` suspends until `parties` tasks are
/// waiting, then releases them all; each gets its arrival index, 0 .. parties-1 (the
/// last to arrive gets parties-1). The barrier then refills for the next round.
/// Not thread-safe.
class Barrier {
 public:
  class WaitAwaiter;

  /// std::invalid_argument (asyncio's ValueError) if `parties` is 0.
  explicit Barrier(std::size_t parties) : parties_(parties) {
    if (parties == 0) throw std::invalid_argument("corio::Barrier: parties must be > 0");
  }
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits for the other parties; returns this task's index. BrokenBarrierError if the
  /// barrier is broken or becomes so (abort(), reset()) while waiting. A waiter
  /// cancelled before the round completes leaves it and is not counted.
  [[nodiscard]] WaitAwaiter wait() noexcept;
  /// Breaks the barrier: current and future waiters get BrokenBarrierError until reset().
  void abort() noexcept {
    state_ = State::broken;
    break_waiters();
  }
  /// Current waiters get BrokenBarrierError; the barrier is empty and usable again (also
  /// after abort()).
  void reset() noexcept {
    state_ = State::filling;
    break_waiters();
  }

  /// The number of tasks needed to pass (asyncio's parties).
  [[nodiscard]] std::size_t parties() const noexcept { return parties_; }
  /// Tasks waiting in the current round (asyncio's n_waiting).
  [[nodiscard]] std::size_t n_waiting() const noexcept { return waiters_.size(); }
  /// Whether the barrier is broken (asyncio's broken).
  [[nodiscard]] bool broken() const noexcept { return state_ == State::broken; }

 private:
  // asyncio also has `draining` and `resetting`, in which new arrivals wait for the
  // released tasks to leave. Here a released task has its index before it resumes, so
  // the next round can start filling at once and those states are not needed.
  enum class State : std::uint8_t { filling, broken };

  // Wakes every waiter, oldest first, with its index (the round is complete).
  void pass_waiters() noexcept;
  // Wakes every waiter with BrokenBarrierError.
  void break_waiters() noexcept;

  std::size_t parties_;
  State state_ = State::filling;
  detail::WaiterList waiters_;  // the current round, in arrival order
};

/// The awaiter behind Barrier::wait(); lives in the waiting frame.
class [[nodiscard]] Barrier::WaitAwaiter : detail::ListWaiter {
 public:
  explicit WaitAwaiter(Barrier& b) noexcept : barrier_(b) {}

  // The broken and last-arrival cases finish here, without suspending: like asyncio,
  // they do not raise a pending cancellation (no await happens).
  bool await_ready() noexcept {
    if (barrier_.state_ == State::broken) {
      outcome_ = Outcome::broken;
      return true;
    }
    if (barrier_.waiters_.size() + 1 == barrier_.parties_) {
      barrier_.pass_waiters();
      outcome_ = Outcome::passed;
      index_ = barrier_.parties_ - 1;
      return true;
    }
    return false;
  }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(barrier_.waiters_, caller.promise(), caller);
  }
  std::size_t await_resume() const {
    throw_if_cancelled();
    if (outcome_ == Outcome::broken) throw BrokenBarrierError();
    return index_;
  }

 private:
  friend class Barrier;
  enum class Outcome : std::uint8_t { waiting, passed, broken };

  Barrier& barrier_;
  std::size_t index_ = 0;
  Outcome outcome_ = Outcome::waiting;
};

inline Barrier::WaitAwaiter Barrier::wait() noexcept {
  return WaitAwaiter(*this);
}

// Indices are given when the round completes, in arrival order, rather than counted at
// arrival as asyncio does: with waiters cancelled mid-round asyncio can hand out the same
// index twice; here the indices of a round are always 0 .. parties-1.
inline void Barrier::pass_waiters() noexcept {
  std::size_t index = 0;
  while (detail::ListWaiter* w = waiters_.wake_one()) {
    auto& self = static_cast<WaitAwaiter&>(*w);
    self.outcome_ = WaitAwaiter::Outcome::passed;
    self.index_ = index++;
  }
}

inline void Barrier::break_waiters() noexcept {
  while (detail::ListWaiter* w = waiters_.wake_one()) {
    static_cast<WaitAwaiter&>(*w).outcome_ = WaitAwaiter::Outcome::broken;
  }
}

}  // namespace corio
