#include "corio/coro/wait.hpp"

namespace corio::detail {

bool WaitCore::suspend(std::span<Child> children, PromiseBase& caller, std::coroutine_handle<> h) {
  if (!begin(caller)) return false;
  children_ = children;
  caller_ = h;
  remaining_ = 0;
  bool met = false;
  for (Child& c : children) {
    c.owner = this;
    c.on_done = &on_child_done;
    if (c.task->done()) {
      met = met || satisfied_by(*c.task);
    } else {
      ++remaining_;
    }
  }
  if (met || remaining_ == 0) {
    end();
    return false;
  }
  for (Child& c : children) {
    if (!c.task->done()) c.task->add_waiter(c);
  }
  if (timeout_) {
    EventLoop& loop = *EventLoop::current();
    deadline = loop.now() + *timeout_;
    loop.reactor().add_timer(*this);
  }
  return true;
}

bool WaitCore::satisfied_by(const PromiseBase& t) const noexcept {
  switch (when_) {
    case ReturnWhen::first_completed:
      return true;
    case ReturnWhen::first_exception:
      return t.exception_ && !t.cancelled_;
    case ReturnWhen::all_completed:
      return false;
  }
  return false;
}

void WaitCore::on_child_done(TaskWaiter& w) noexcept {
  Child& c = static_cast<Child&>(w);
  WaitCore& self = *c.owner;
  --self.remaining_;
  if (self.satisfied_by(*c.task) || self.remaining_ == 0) self.settle();
}

void WaitCore::fired(Timer& t) noexcept {
  static_cast<WaitCore&>(t).settle();
}

void WaitCore::on_cancel(WaitPoint& wp) noexcept {
  auto& self = static_cast<WaitCore&>(wp);
  self.mark_cancelled();  // wait() never cancels the tasks, only stops waiting
  self.settle();
}

void WaitCore::settle() noexcept {
  EventLoop& loop = *EventLoop::current();
  loop.reactor().cancel_timer(*this);
  for (Child& c : children_)
    c.task->remove_waiter(c);
  end();
  loop.schedule(caller_);
}

}  // namespace corio::detail
