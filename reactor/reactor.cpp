#include "corio/reactor/reactor.hpp"

#include <cerrno>

#include "corio/reactor/faults.hpp"
#include "reactor/select.hpp"

namespace corio {

SteadyClock& SteadyClock::instance() noexcept {
  static SteadyClock clock;
  return clock;
}

std::unique_ptr<Reactor> Reactor::open(const ReactorOptions& options, std::error_code& ec,
                                       std::string& message) {
  faults::load_env();  // throws std::invalid_argument on a bad CORIO_FAULTS
  Clock& clock = options.clock != nullptr ? *options.clock : SteadyClock::instance();
  std::unique_ptr<Reactor> reactor(new Reactor(clock));
  reactor->backend_ =
      open_backend(options.backend, options.backend_options, reactor->completions_, ec, message);
  if (!reactor->backend_) return nullptr;
  return reactor;
}

Reactor::~Reactor() = default;

int Reactor::run_once(bool may_block) noexcept {
  Duration timeout{-1};
  if (!may_block || !completions_.empty()) {
    timeout = Duration::zero();
  } else if (Timer* next = timers_.top()) {
    timeout = next->deadline - clock_->now();
    if (timeout < Duration::zero()) timeout = Duration::zero();
  }
  // Virtual time never passes while we sleep, so a manual clock skips the idle time
  // instead: poll without blocking, and if nothing happened jump to the next deadline.
  const bool skip_idle = clock_->is_manual() && timeout != Duration::zero();
  int rc = 0;
  // A non-blocking poll with nothing in flight can only find nothing: skip the syscall
  // (a yield-heavy loop would otherwise pay one epoll_wait per turn).
  if (timeout != Duration::zero() || in_flight_ > 0) {
    rc = wait_uninterrupted(skip_idle ? Duration::zero() : timeout);
    if (rc < 0 && rc != -EINTR) return rc;
  }
  if (skip_idle && completions_.empty()) {
    if (Timer* next = timers_.top()) {
      clock_->advance_to(next->deadline);
    } else {
      rc = wait_uninterrupted(Duration{-1});  // only I/O can wake us now
      if (rc < 0 && rc != -EINTR) return rc;
    }
  }

  if (observer_ != nullptr) [[unlikely]]
    return deliver_observed();
  int delivered = 0;
  while (Operation* op = completions_.pop()) {
    --in_flight_;
    op->on_complete(*op);
    ++delivered;
  }
  if (!timers_.empty()) {
    const TimePoint now = clock_->now();
    while (Timer* t = timers_.pop_due(now)) {
      t->on_fire(*t);
      ++delivered;
    }
  }
  return delivered;
}

// A blocking wait that fails with EINTR reported nothing, yet the turn is not over
// until its timeout is: wait again for what is left, as libuv and Python (PEP 475) do.
// Signals are not the only cause: Linux's task work interrupts the waits of a thread
// that tore down an io_uring ring a moment before (seen as runs of a dozen EINTRs in a
// 3 ms wait on a busy machine), and each of those used to end the turn early. An
// injected EINTR (faults.hpp) stands for a signal that arrived before the wait began;
// it is injected here, on a turn's first blocking wait, so that it reaches every
// backend and even a rate of 1 lets every turn wait for real.
int Reactor::wait_uninterrupted(Duration timeout) noexcept {
  const bool injected = timeout != Duration::zero() && faults::hit(faults::Kind::eintr, -1);
  int rc = injected ? -EINTR : backend_->wait(timeout);
  while (rc == -EINTR && timeout != Duration::zero()) {
    // A positive timeout is the time to the first timer (run_once), which the wait
    // cannot have changed; reading the clock only here keeps it off the common path.
    if (timeout > Duration::zero()) {
      timeout = timers_.top()->deadline - clock_->now();
      if (timeout <= Duration::zero()) return rc;
    }
    rc = backend_->wait(timeout);
  }
  return rc;
}

// The delivery loops of run_once with the observer told around each step; a copy, so
// the unobserved loops stay free of per-delivery checks. A step may change the observer;
// the change applies from the next turn.
int Reactor::deliver_observed() noexcept {
  DeliveryObserver* const observer = observer_;
  int delivered = 0;
  while (Operation* op = completions_.pop()) {
    --in_flight_;
    observer->before_delivery();
    op->on_complete(*op);
    observer->after_delivery();
    ++delivered;
  }
  if (!timers_.empty()) {
    const TimePoint now = clock_->now();
    while (Timer* t = timers_.pop_due(now)) {
      observer->before_delivery();
      t->on_fire(*t);
      observer->after_delivery();
      ++delivered;
    }
  }
  return delivered;
}

}  // namespace corio
