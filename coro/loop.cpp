#include "corio/coro/loop.hpp"

#include <system_error>

#include "corio/coro/errors.hpp"

namespace corio {
namespace {
thread_local EventLoop* t_current = nullptr;
}  // namespace

EventLoop::EventLoop(const RunOptions& options) {
  ReactorOptions ro;
  ro.backend = options.backend;
  ro.backend_options.queue_depth = options.queue_depth;
  ro.clock = options.clock;
  std::error_code ec;
  std::string message;
  reactor_ = Reactor::open(ro, ec, message);
  if (!reactor_) throw BackendError(ec, message);
  previous_ = t_current;
  t_current = this;
}

EventLoop::~EventLoop() {
  while (tasks_ != nullptr)
    tasks_->abandon_task();
  t_current = previous_;
}

EventLoop* EventLoop::current() noexcept {
  return t_current;
}

EventLoop& EventLoop::running() {
  if (t_current == nullptr) throw InvalidStateError("corio: no running event loop");
  return *t_current;
}

std::string_view current_backend() {
  return EventLoop::running().backend_name();
}

void EventLoop::ReadyQueue::push(Callback c) {
  if (size() == items_.size()) {
    std::vector<Callback> bigger(items_.size() * 2);
    for (std::size_t i = 0, n = size(); i < n; ++i)
      bigger[i] = pop();
    tail_ = items_.size();
    head_ = 0;
    items_.swap(bigger);
  }
  items_[tail_ & (items_.size() - 1)] = c;
  ++tail_;
}

void EventLoop::run_once(bool may_block) {
  // I/O and timers first (they resume their coroutines directly), then what was ready
  // at that point; callbacks queued meanwhile wait for the next turn, so I/O is polled
  // between them (asyncio's _run_once has the same order). Ending with the ready queue
  // lets run_until_done see a finished task before it would block again.
  int rc = reactor_->run_once(may_block && ready_.empty());
  if (rc < 0) throw std::system_error(-rc, std::system_category(), "corio: backend wait failed");
  for (std::size_t n = ready_.size(); n > 0; --n) {
    Callback c = ready_.pop();
    budget_ = kBudget;
    c.fn(c.arg);
  }
}

void EventLoop::run_until_done(detail::PromiseBase& task) {
  while (!task.done())
    run_once(true);
}

void EventLoop::cancel_all_and_drain() {
  std::vector<detail::PromiseBase*> batch;
  while (tasks_ != nullptr) {
    // Tasks created while the others unwind are cancelled in the next round.
    batch.clear();
    for (detail::PromiseBase* t = tasks_; t != nullptr; t = t->next_task_) {
      t->add_ref();
      batch.push_back(t);
    }
    for (detail::PromiseBase* t : batch)
      t->request_cancel();
    for (detail::PromiseBase* t : batch) {
      while (!t->done())
        run_once(true);
    }
    for (detail::PromiseBase* t : batch)
      t->release_ref();
  }
  while (!ready_.empty())
    run_once(false);
}

void EventLoop::add_task(detail::PromiseBase& t) noexcept {
  t.prev_task_ = nullptr;
  t.next_task_ = tasks_;
  if (tasks_ != nullptr) tasks_->prev_task_ = &t;
  tasks_ = &t;
  ++task_count_;
}

void EventLoop::remove_task(detail::PromiseBase& t) noexcept {
  (t.prev_task_ != nullptr ? t.prev_task_->next_task_ : tasks_) = t.next_task_;
  if (t.next_task_ != nullptr) t.next_task_->prev_task_ = t.prev_task_;
  t.next_task_ = t.prev_task_ = nullptr;
  --task_count_;
}

}  // namespace corio
