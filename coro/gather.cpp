#include "corio/coro/gather.hpp"

namespace corio::detail {

bool GatherCore::suspend(std::span<Child> children, PromiseBase& caller,
                         std::coroutine_handle<> h) {
  children_ = children;
  remaining_ = 0;
  for (Child& c : children) {
    c.owner = this;
    c.on_done = &on_child_done;
    if (!c.task->done()) ++remaining_;
  }
  if (!begin(caller)) return false;  // cancelled before waiting: the children go on
  caller_ = h;
  // Children that already finished count at once, in argument order.
  for (Child& c : children) {
    if (c.task->done() && !return_exceptions_ && c.task->exception_ && !failure_) {
      failure_ = c.task->exception_;
    }
  }
  if (settle_if_ready()) {
    detach();
    return false;
  }
  for (Child& c : children) {
    if (!c.task->done()) c.task->add_waiter(c);
  }
  return true;
}

void GatherCore::on_child_done(TaskWaiter& w) noexcept {
  Child& c = static_cast<Child&>(w);
  GatherCore& g = *c.owner;
  --g.remaining_;
  if (!g.return_exceptions_ && c.task->exception_ && !g.failure_) g.failure_ = c.task->exception_;
  if (g.settle_if_ready()) {
    g.detach();
    EventLoop::current()->schedule(g.caller_);
  }
}

bool GatherCore::settle_if_ready() noexcept {
  if (!failure_ && remaining_ > 0) return false;
  end();
  // A gather that was cancelled and whose children all finished ends cancelled, even if
  // some child swallowed its cancellation (asyncio does the same).
  if (!failure_ && cancel_requested()) mark_cancelled();
  return true;
}

void GatherCore::detach() noexcept {
  for (Child& c : children_) {
    c.task->remove_waiter(c);
    // asyncio marks the exceptions of children that finish after the gather gave up as
    // retrieved: the gather's caller already got the first one.
    if (failure_) c.task->retrieved_ = true;
  }
}

void GatherCore::on_cancel(WaitPoint& wp) noexcept {
  auto& g = static_cast<GatherCore&>(wp);
  bool reached = false;
  for (Child& c : g.children_)
    reached = c.task->request_cancel() || reached;
  // Every child had finished already: keep the outcome, cancel at the next await.
  if (!reached) g.defer_cancel();
}

void GatherCore::rethrow_outcome() {
  throw_if_cancelled();
  if (failure_) {
    for (Child& c : children_) {
      if (c.task->exception_ == failure_) c.task->retrieved_ = true;
    }
    std::rethrow_exception(failure_);
  }
}

}  // namespace corio::detail
