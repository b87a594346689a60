#include "corio/coro/timeout.hpp"

#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"

namespace corio {

Timeout::~Timeout() {
  disarm();
}

void Timeout::reschedule(std::optional<TimePoint> when) {
  if (state_ != State::entered) {
    throw RuntimeError(state_ == State::created
                           ? "corio: the Timeout has not been entered"
                           : "corio: the Timeout has already expired or exited");
  }
  disarm();
  when_ = when;
  arm();
}

void Timeout::enter(detail::PromiseBase& task) {
  if (state_ != State::created) throw RuntimeError("corio: a Timeout can be entered only once");
  state_ = State::entered;
  task_ = &task;
  cancelling_ = task.cancel_requests_;
  arm();
}

bool Timeout::exit(bool body_cancelled) noexcept {
  disarm();
  if (state_ != State::expiring) {
    state_ = State::exited;
    return false;
  }
  state_ = State::expired;
  // Withdraw our own request first: if others remain, an outer scope or a real cancel
  // also wants this task stopped and the CancelledError must go on up.
  return task_->uncancel() <= cancelling_ && body_cancelled;
}

void Timeout::arm() {
  if (!when_) return;
  // A deadline already past still goes through the heap: it fires at the next turn,
  // after the body has had the chance to start, as asyncio's call_soon does.
  deadline = *when_;
  EventLoop::running().reactor().add_timer(*this);
}

void Timeout::disarm() noexcept {
  if (queued()) EventLoop::current()->reactor().cancel_timer(*this);
}

void Timeout::fired(Timer& t) noexcept {
  auto& self = static_cast<Timeout&>(t);
  self.state_ = State::expiring;
  self.task_->request_cancel();
}

}  // namespace corio
