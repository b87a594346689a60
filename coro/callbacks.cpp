// User callbacks on the loop: call_soon / call_later / call_at and their handles.
//
// A CallbackState is shared by the handles and by the loop while it is queued: the
// ready queue holds one reference per entry, the timer heap one while armed (the
// state is the Timer). Everything runs through the ready queue, so a timer callback
// that came due runs after the callbacks already queued, as in asyncio's _run_once.
#include <exception>
#include <utility>

#include "corio/coro/errors.hpp"
#include "corio/coro/handle.hpp"
#include "corio/coro/loop.hpp"
#include "coro/debug.hpp"

namespace corio {

using Status = detail::CallbackState::Status;

detail::CallbackState* EventLoop::new_callback(std::function<void()>& fn) {
  check_open();
  auto* s = new detail::CallbackState;
  s->fn = std::move(fn);
  s->loop = this;
  return s;  // its one reference is the caller's handle
}

Handle EventLoop::call_soon(std::function<void()> fn) {
  Handle h(new_callback(fn));
  ready_.push(Callback{&run_user_callback, h.s_});
  h.s_->add_ref();  // the ready queue's
  return h;
}

TimerHandle EventLoop::call_at(TimePoint when, std::function<void()> fn) {
  TimerHandle h(new_callback(fn));
  detail::CallbackState& s = *h.s_;
  s.deadline = when;
  s.on_fire = &fire_user_timer;
  reactor_->add_timer(s);
  s.add_ref();  // the heap's
  timer_handles_.push_front(s);
  return h;
}

void EventLoop::run_user_callback(void* arg) {
  auto* s = static_cast<detail::CallbackState*>(arg);
  if (s->status == Status::pending) {
    s->status = Status::ran;
    s->loop = nullptr;
    // Taken out first: the captures are destroyed when the call returns, even if
    // handles keep the state alive.
    std::function<void()> fn = std::exchange(s->fn, nullptr);
    try {
      fn();
    } catch (...) {
      // asyncio logs it ("Exception in callback ...") and the loop keeps running.
      detail::report_callback_exception(std::current_exception());
    }
  }
  s->release();
}

void EventLoop::fire_user_timer(Timer& t) noexcept {
  auto& s = static_cast<detail::CallbackState&>(t);
  EventLoop& loop = *s.loop;
  loop.unlink_timer(s);
  loop.call_soon(&run_user_callback, &s);  // the heap's reference moves to the queue
}

void EventLoop::unlink_timer(detail::CallbackState& s) noexcept {
  timer_handles_.remove(s);
}

void EventLoop::disarm(detail::CallbackState& s) noexcept {
  reactor_->cancel_timer(s);
  unlink_timer(s);
  s.release();  // the heap's reference
}

void Handle::cancel() noexcept {
  if (s_ == nullptr || s_->status != Status::pending) return;
  s_->status = Status::cancelled;
  // A timer leaves the heap now, so many cancelled call_later()s cost nothing; a
  // call_soon entry stays queued and is skipped when its turn comes.
  if (s_->loop != nullptr && s_->queued()) s_->loop->disarm(*s_);
  s_->loop = nullptr;
  s_->fn = nullptr;  // asyncio drops the callback too: what it captured is freed now
}

}  // namespace corio
