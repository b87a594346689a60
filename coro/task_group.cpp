#include "corio/coro/task_group.hpp"

#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"

namespace corio {
namespace {

std::string group_message(const std::vector<std::exception_ptr>& errors) {
  std::string m = "corio::ExceptionGroup: unhandled errors in a TaskGroup (" +
                  std::to_string(errors.size()) + " sub-exception" +
                  (errors.size() == 1 ? "" : "s") + ")";
  if (!errors.empty()) {
    try {
      std::rethrow_exception(errors.front());
    } catch (const std::exception& e) {
      m += "; first: ";
      m += e.what();
    } catch (...) {
    }
  }
  return m;
}

}  // namespace

ExceptionGroup::ExceptionGroup(std::vector<std::exception_ptr> errors)
    : std::runtime_error(group_message(errors)), errors_(std::move(errors)) {}

TaskGroup::~TaskGroup() {
  // Normally empty: the scope only ends once every child has finished. A frame destroyed
  // mid-scope (loop teardown) abandons its children in the same sweep, so the nodes are
  // freed without touching the tasks they are linked into.
  while (Child* c = children_) {
    children_ = c->next_child;
    delete c;
  }
}

void TaskGroup::throw_closed() const {
  if (aborting_ && !finished_) {
    throw RuntimeError("corio: the TaskGroup is shutting down after a failure");
  }
  throw RuntimeError("corio: the TaskGroup has finished");
}

void TaskGroup::adopt(detail::PromiseBase& task) {
  auto* c = new Child;
  c->on_done = &on_child_done;
  c->group = this;
  c->task = &task;
  c->next_child = children_;
  if (children_ != nullptr) children_->prev_child = c;
  children_ = c;
  ++running_;
  task.add_waiter(*c);
}

void TaskGroup::unlink(Child& c) noexcept {
  (c.prev_child != nullptr ? c.prev_child->next_child : children_) = c.next_child;
  if (c.next_child != nullptr) c.next_child->prev_child = c.prev_child;
  --running_;
}

void TaskGroup::abort() noexcept {
  aborting_ = true;
  // Cancelling never finishes a task synchronously, so the list holds still meanwhile.
  for (Child* c = children_; c != nullptr; c = c->next_child)
    c->task->request_cancel();
}

void TaskGroup::on_join_cancelled() noexcept {
  // Once we are aborting, a cancellation arriving here is our own (or redundant): the
  // children are being cancelled already and the errors will speak for the scope.
  if (aborting_) return;
  propagate_cancel_ = true;
  abort();
}

void TaskGroup::on_child_done(detail::TaskWaiter& w) noexcept {
  auto& c = static_cast<Child&>(w);
  TaskGroup& g = *c.group;
  detail::PromiseBase& task = *c.task;
  g.unlink(c);
  delete &c;
  if (task.exception_ && !task.cancelled_) {
    task.retrieved_ = true;  // the group reports it
    g.errors_.push_back(task.exception_);
    if (!g.aborting_) {
      g.abort();
      // Interrupt whatever the body is waiting on; withdrawn again in finish().
      if (!g.joining_ && !g.parent_->done()) {
        g.parent_cancel_requested_ = true;
        g.parent_->request_cancel();
      }
    }
  }
  if (g.running_ == 0 && g.joiner_) {
    std::coroutine_handle<> h = std::exchange(g.joiner_, {});
    g.join_point_->done();
    EventLoop::current()->schedule(h);
  }
}

TaskGroup::Join TaskGroup::join(const std::exception_ptr& body_error) noexcept {
  joining_ = true;
  if (body_error && !aborting_) abort();  // the body failed or was cancelled
  return Join(*this);
}

void TaskGroup::finish(std::exception_ptr body_error, bool body_cancelled) {
  finished_ = true;
  bool propagate = propagate_cancel_ || body_cancelled;
  // Our own cancel of the body is withdrawn; only someone else's keeps it cancelled.
  if (parent_cancel_requested_ && parent_->uncancel() == 0) propagate = false;
  if (body_error && !body_cancelled) {
    bool seen = false;  // the body may rethrow a child's failure it awaited
    for (const std::exception_ptr& e : errors_)
      seen = seen || e == body_error;
    if (!seen) errors_.push_back(body_error);
  }
  // Failures win over a cancellation, as in asyncio.
  if (!errors_.empty()) throw ExceptionGroup(std::move(errors_));
  if (body_cancelled) std::rethrow_exception(body_error);
  if (propagate) throw CancelledError{};
}

}  // namespace corio
