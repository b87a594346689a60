// The task life cycle: start, cancel, finish, and the last reference going away.
#include <cstdio>
#include <exception>
#include <typeinfo>

#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"

namespace corio::detail {
namespace {

bool is_cancellation(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

void describe(const std::exception_ptr& e, char* out, std::size_t size) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::snprintf(out, size, "%s: %s", typeid(ex).name(), ex.what());
  } catch (...) {
    std::snprintf(out, size, "an exception not derived from std::exception");
  }
}

// The first step of a task, run from the ready queue.
void first_step(void* arg) {
  auto& task = *static_cast<PromiseBase*>(arg);
  if (task.must_cancel_) {
    // Cancelled before it ever ran: like asyncio, the body never starts.
    task.must_cancel_ = false;
    task.exception_ = std::make_exception_ptr(CancelledError{});
    task.finish_task();
    return;
  }
  task.state_ = TaskState::running;
  task.self_.resume();
}

}  // namespace

void WaitPoint::throw_cancelled() {
  throw CancelledError{};
}

void PromiseBase::start_task(EventLoop& loop, std::coroutine_handle<> self) {
  task_ = this;
  loop_ = &loop;
  self_ = self;
  refs_ = 2;  // the caller's Task handle and the loop's own until the task finishes
  state_ = TaskState::scheduled;
  loop.add_task(*this);
  loop.call_soon(&first_step, this);
}

bool PromiseBase::request_cancel() noexcept {
  if (state_ == TaskState::done) return false;
  ++cancel_requests_;
  if (WaitPoint* wp = wait_point_) {
    wp->request_cancel();
  } else {
    must_cancel_ = true;  // running or about to resume: the next await throws
  }
  return true;
}

void PromiseBase::add_waiter(TaskWaiter& w) noexcept {
  w.target = this;
  w.next = nullptr;
  w.prev = waiters_tail_;
  if (waiters_tail_ != nullptr) {
    waiters_tail_->next = &w;
  } else {
    waiters_head_ = &w;
  }
  waiters_tail_ = &w;
}

void PromiseBase::remove_waiter(TaskWaiter& w) noexcept {
  if (w.target != this) return;
  (w.prev != nullptr ? w.prev->next : waiters_head_) = w.next;
  (w.next != nullptr ? w.next->prev : waiters_tail_) = w.prev;
  w.next = w.prev = nullptr;
  w.target = nullptr;
}

void PromiseBase::finish_task() noexcept {
  state_ = TaskState::done;
  wait_point_ = nullptr;
  must_cancel_ = false;
  if (exception_) cancelled_ = is_cancellation(exception_);
  loop_->remove_task(*this);
  while (TaskWaiter* w = waiters_head_) {
    remove_waiter(*w);
    w->on_done(*w);
  }
  release_ref();
}

void PromiseBase::abandon_task() noexcept {
  loop_->remove_task(*this);
  release_ref();
}

void PromiseBase::release_ref() noexcept {
  if (--refs_ == 0) destroy_frame();
}

void PromiseBase::destroy_frame() noexcept {
  if (state_ != TaskState::done) {
    std::fputs("corio: Task was destroyed but it is pending!\n", stderr);
  } else if (exception_ && !retrieved_ && !cancelled_) {
    // asyncio logs "Task exception was never retrieved"; losing it silently would hide
    // the bug that made the task fail.
    char what[512];
    describe(exception_, what, sizeof what);
    std::fprintf(stderr, "corio: Task exception was never retrieved: %s\n", what);
  }
  self_.destroy();
}

}  // namespace corio::detail
