// The reactor: owns the chosen backend, the timers and the completion queue, and runs
// one turn of "wait for I/O or the next deadline, then deliver what happened".
// It knows nothing of coroutines: completions and timers call plain function pointers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "corio/backends/backend.hpp"
#include "corio/reactor/clock.hpp"
#include "corio/backends/operation.hpp"
#include "corio/reactor/timer.hpp"

namespace corio {

/// How to build a reactor.
struct ReactorOptions {
  /// "auto" or a backend name; empty means: $CORIO_BACKEND, else "auto".
  std::string backend;
  BackendOptions backend_options{};
  /// Time source; nullptr means the steady clock.
  Clock* clock = nullptr;
};

/// Backends compiled into this build, in the order `auto` tries them.
[[nodiscard]] const std::vector<std::string_view>& backend_names() noexcept;

/// Backends that open on this machine right now (a subset of backend_names()).
[[nodiscard]] std::vector<std::string> available_backends();

/// Told around every completion and timer the reactor delivers, never around the wait:
/// debug mode times the step each delivery runs (see EventLoop::debug()).
class DeliveryObserver {
 public:
  virtual void before_delivery() noexcept = 0;
  virtual void after_delivery() noexcept = 0;

 protected:
  ~DeliveryObserver() = default;
};

/// Single-threaded event demultiplexer; only `wake()` may be called from other threads.
class Reactor {
 public:
  /// Selects and opens a backend (options > $CORIO_BACKEND > auto). On failure returns
  /// nullptr, sets `ec`, and writes a message for users into `message`. On success
  /// `message` says which backends `auto` skipped and why (empty if none).
  static std::unique_ptr<Reactor> open(const ReactorOptions& options, std::error_code& ec,
                                       std::string& message);

  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  [[nodiscard]] std::string_view backend_name() const noexcept { return backend_->name(); }
  [[nodiscard]] Backend& backend() noexcept { return *backend_; }
  [[nodiscard]] Clock& clock() noexcept { return *clock_; }
  [[nodiscard]] TimePoint now() const noexcept { return clock_->now(); }

  /// Starts `op`; true means it already finished (see Backend::submit).
  bool submit(Operation& op) noexcept {
    if (backend_->submit(op)) return true;
    ++in_flight_;
    return false;
  }
  /// Asks `op` to stop; its single completion still arrives.
  void cancel(Operation& op) noexcept { backend_->cancel(op); }
  /// Drops per-handle state before `handle` is closed.
  void release(native_handle handle) noexcept { backend_->release(handle); }

  /// Arms `t` to fire at `t.deadline`.
  void add_timer(Timer& t) { timers_.push(t); }
  /// Disarms `t`; returns false if it was not armed (already fired or never added).
  bool cancel_timer(Timer& t) noexcept { return timers_.erase(t); }
  [[nodiscard]] std::size_t timer_count() const noexcept { return timers_.size(); }

  /// One turn: waits for I/O until the next deadline (not at all when `may_block` is
  /// false or completions are queued), then delivers the completions queued when delivery
  /// began and fires the due timers, at most as many as were armed then. A completion
  /// that a delivery causes waits for the next turn, and so does a timer re-armed
  /// already due once the bound is spent: no callback can keep a turn going. Returns the number delivered, or -errno if the
  /// backend failed.
  int run_once(bool may_block) noexcept;

  /// Interrupts a blocked run_once from any thread.
  void wake() noexcept { backend_->wake(); }

  /// Sets (or with nullptr removes) the observer of deliveries. Without one, delivery
  /// costs a single predictable branch per turn more than it did before the hook.
  void set_observer(DeliveryObserver* observer) noexcept { observer_ = observer; }

 private:
  explicit Reactor(Clock& clock) noexcept : clock_(&clock) {}
  template <bool kObserved>
  int deliver() noexcept;
  int wait_uninterrupted(Duration timeout) noexcept;

  CompletionQueue completions_;  // declared before the backend, which pushes into it
  std::unique_ptr<Backend> backend_;
  Clock* clock_;
  TimerWheel timers_;
  std::size_t in_flight_ = 0;  // submitted, completion not yet delivered
  DeliveryObserver* observer_ = nullptr;
};

}  // namespace corio
