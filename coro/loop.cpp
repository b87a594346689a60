#include "corio/coro/loop.hpp"

#include <system_error>

#include "corio/coro/errors.hpp"

namespace corio {
namespace detail {
thread_local EventLoop* t_current_loop = nullptr;
}  // namespace detail
using detail::t_current_loop;

EventLoop::EventLoop(const RunOptions& options) {
  ReactorOptions ro;
  ro.backend = options.backend;
  ro.backend_options.queue_depth = options.queue_depth;
  ro.clock = options.clock;
  std::error_code ec;
  std::string message;
  thread_pool_size_ = options.thread_pool_size;
  reactor_ = Reactor::open(ro, ec, message);
  if (!reactor_) throw BackendError(ec, message);
  previous_ = t_current_loop;
  t_current_loop = this;
}

EventLoop::~EventLoop() {
  // Workers may still post results; join them before anything they could touch goes.
  if (pool_) pool_->shutdown();
  while (tasks_ != nullptr)
    tasks_->abandon_task();
  t_current_loop = previous_;
}

EventLoop& EventLoop::running() {
  if (t_current_loop == nullptr) throw InvalidStateError("corio: no running event loop");
  return *t_current_loop;
}

std::string_view current_backend() {
  return EventLoop::running().backend_name();
}

void EventLoop::ReadyQueue::resize(std::size_t capacity) {
  std::vector<Callback> fresh(capacity);
  const std::size_t n = size();
  for (std::size_t i = 0; i < n; ++i)
    fresh[i] = pop();
  items_.swap(fresh);
  head_ = 0;
  tail_ = n;
}

void EventLoop::call_soon_threadsafe(std::function<void()> fn) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(fn));
  }
  // Only the first post since the loop last looked needs to interrupt its wait.
  if (!inbox_pending_.exchange(true, std::memory_order_acq_rel)) reactor_->wake();
}

ThreadPool& EventLoop::thread_pool() {
  if (!pool_) pool_ = std::make_unique<ThreadPool>(thread_pool_size_);
  return *pool_;
}

void EventLoop::run_inbox() {
  if (!inbox_pending_.exchange(false, std::memory_order_acq_rel)) return;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.swap(inbox_spare_);
  }
  for (std::function<void()>& fn : inbox_spare_)
    fn();
  inbox_spare_.clear();
}

void EventLoop::run_once(bool may_block) {
  // I/O and timers first (they resume their coroutines directly), then what was ready
  // at that point; callbacks queued meanwhile wait for the next turn, so I/O is polled
  // between them (asyncio's _run_once has the same order). Ending with the ready queue
  // lets run_until_done see a finished task before it would block again.
  const bool inbox_waiting = inbox_pending_.load(std::memory_order_acquire);
  int rc = reactor_->run_once(may_block && ready_.empty() && !inbox_waiting);
  if (rc < 0) throw std::system_error(-rc, std::system_category(), "corio: backend wait failed");
  run_inbox();
  for (std::size_t n = ready_.size(); n > 0; --n) {
    Callback c = ready_.pop();
    budget_ = kBudget;
    c.fn(c.arg);
  }
  ready_.shrink_if_idle();
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
