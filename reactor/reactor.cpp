#include "corio/reactor/reactor.hpp"

#include <cerrno>

#include "os/faults.hpp"
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
    return deliver<true>();
  return deliver<false>();
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

// Delivers what is due as the turn's delivery begins. Completions: the queue is taken
// whole, so one that a callback's cancel() pushes meanwhile waits for the next turn.
// Timers: at most as many fire as were armed when delivery began, so a callback that
// re-arms itself already due fires once a turn (as asyncio's call_at() in the past
// does) instead of keeping the turn going; a due timer left over makes the next turn's
// wait not block. With kObserved the observer is told around each step; a step may
// change the observer, which applies from the next turn.
template <bool kObserved>
int Reactor::deliver() noexcept {
  [[maybe_unused]] DeliveryObserver* const observer = observer_;
  int delivered = 0;
  CompletionQueue batch = completions_.take_all();
  while (Operation* op = batch.pop()) {
    --in_flight_;
    if constexpr (kObserved) observer->before_delivery();
    op->on_complete(*op);
    if constexpr (kObserved) observer->after_delivery();
    ++delivered;
  }
  if (!timers_.empty()) {
    const TimePoint now = clock_->now();
    for (std::size_t budget = timers_.size(); budget > 0; --budget) {
      Timer* t = timers_.pop_due(now);
      if (t == nullptr) break;
      if constexpr (kObserved) observer->before_delivery();
      t->on_fire(*t);
      if constexpr (kObserved) observer->after_delivery();
      ++delivered;
    }
  }
  return delivered;
}

}  // namespace corio
