#include "corio/coro/as_completed.hpp"

namespace corio::detail {

AsCompletedCore::AsCompletedCore(std::size_t n) : nodes_(n), order_(n) {
  on_fire = &fired;
}

AsCompletedCore::AsCompletedCore(AsCompletedCore&& other) noexcept
    : Timer(),
      nodes_(std::move(other.nodes_)),  // the buffer moves, so the links stay valid
      order_(std::move(other.order_)),
      reactor_(other.reactor_),
      finished_(std::exchange(other.finished_, 0)),
      taken_(std::exchange(other.taken_, 0)),
      timeouts_(std::exchange(other.timeouts_, 0)),
      deadline_(std::exchange(other.deadline_, Deadline::none)) {
  on_fire = &fired;
  for (Child& c : nodes_)
    c.owner = this;
  if (other.queued()) {
    reactor_->cancel_timer(other);
    deadline = other.deadline;
    // The heap just shrank by one, so this push does not reallocate and cannot throw.
    reactor_->add_timer(*this);
  }
}

void AsCompletedCore::start(std::optional<Duration> timeout) {
  // Everything that can throw comes before the first link, so a failed constructor
  // leaves no waiter behind.
  const bool expired = timeout && *timeout <= Duration::zero();
  EventLoop* loop = timeout && !expired ? &EventLoop::running() : nullptr;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Child& c = nodes_[i];
    c.owner = this;
    c.on_done = &on_task_done;
    if (c.task->done()) {
      order_[finished_++] = i;
    } else if (!expired) {
      c.task->add_waiter(c);
    }
  }
  if (finished_ == nodes_.size()) return;
  if (expired) {
    // asyncio's call_later(0) fires after the done callbacks of the tasks already
    // finished: those are delivered, every other task times out.
    deadline_ = Deadline::passed;
  } else if (loop != nullptr) {
    deadline = loop->now() + *timeout;
    reactor_ = &loop->reactor();
    reactor_->add_timer(*this);
    deadline_ = Deadline::armed;
  }
}

void AsCompletedCore::detach() noexcept {
  if (queued()) reactor_->cancel_timer(*this);
  unlink_tasks();
}

void AsCompletedCore::unlink_tasks() noexcept {
  for (Child& c : nodes_)
    if (c.linked()) c.target->remove_waiter(c);
}

bool AsCompletedCore::hand(AsCompletedWaiter& w) noexcept {
  if (taken_ < finished_) {
    w.outcome_ = NextOutcome::finished;
    w.index_ = order_[taken_++];
    return true;
  }
  if (deadline_ == Deadline::passed && timeouts_ < nodes_.size() - finished_) {
    w.outcome_ = NextOutcome::timed_out;
    ++timeouts_;
    return true;
  }
  return false;
}

bool AsCompletedCore::try_take(AsCompletedWaiter& w) noexcept {
  if (hand(w)) return true;
  // Every task left is promised to a waiter already queued (or timed out): waiting
  // would never end. asyncio's iterator raises StopAsyncIteration here.
  if (remaining() == 0) {
    w.outcome_ = NextOutcome::exhausted;
    return true;
  }
  return false;
}

bool AsCompletedCore::enqueue(AsCompletedWaiter& w, PromiseBase& caller,
                              std::coroutine_handle<> h) noexcept {
  return w.enqueue(waiters_, caller, h);
}

void AsCompletedCore::serve_waiters() noexcept {
  while (ListWaiter* w = waiters_.front()) {
    if (!hand(static_cast<AsCompletedWaiter&>(*w))) break;
    waiters_.wake_one();
  }
}

void AsCompletedCore::on_task_done(TaskWaiter& w) noexcept {
  auto& c = static_cast<Child&>(w);
  AsCompletedCore& self = *c.owner;
  self.order_[self.finished_++] = static_cast<std::size_t>(&c - self.nodes_.data());
  if (self.finished_ == self.nodes_.size() && self.queued()) {
    self.reactor_->cancel_timer(self);
    self.deadline_ = Deadline::none;
  }
  self.serve_waiters();
}

void AsCompletedCore::fired(Timer& t) noexcept {
  auto& self = static_cast<AsCompletedCore&>(t);
  self.deadline_ = Deadline::passed;
  self.unlink_tasks();  // they run on; their completions no longer count
  self.serve_waiters();
}

}  // namespace corio::detail
