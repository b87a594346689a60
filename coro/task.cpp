// The task life cycle: start, cancel, finish, and the last reference going away.
#include <cxxabi.h>

#include <cstdio>
#include <exception>
#include <typeinfo>

#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "coro/debug.hpp"

namespace corio::detail {

// Every frame carries a PromiseBase: keep it from growing unnoticed (64-bit layout:
// seven pointers, then the counters and flags in what used to be padding).
static_assert(sizeof(void*) != 8 || sizeof(PromiseBase) == 72);

constinit thread_local PromiseBase* t_step_task = nullptr;

namespace {

// Whether a task's exception is a CancelledError, for one that keep_current_exception()
// could not tell by its exact type (a class derived from it, or not one at all).
bool is_cancellation(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// The first step of a task, run from the ready queue.
void first_step(void* arg) {
  auto& task = *static_cast<PromiseBase*>(arg);
  if (task.must_cancel_) {
    // Cancelled before it ever ran: like asyncio, the body never starts.
    task.must_cancel_ = false;
    task.exception_ = std::make_exception_ptr(CancelledError{});
    task.cancelled_ = true;
    task.finish_task();
    return;
  }
  task.state_ = TaskState::running;
  task.link_.resume();
}

}  // namespace

void describe_exception(const std::exception_ptr& e, char* out, std::size_t size) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::snprintf(out, size, "%s: %s", typeid(ex).name(), ex.what());
  } catch (const CancelledError& ex) {
    std::snprintf(out, size, "%s", ex.what());
  } catch (...) {
    std::snprintf(out, size, "an exception not derived from std::exception");
  }
}

void report_callback_exception(const std::exception_ptr& e) noexcept {
  char what[512];
  describe_exception(e, what, sizeof what);
  std::fprintf(stderr, "corio: exception in callback: %s\n", what);
}

void WaitPoint::throw_cancelled() const {
  // Consumes any cancel() that arrived after this await was already ending: asyncio
  // raises one CancelledError for them, not one per call.
  if (task_ != nullptr) task_->must_cancel_ = false;
  // A plain throw: rethrowing an exception_ptr made for the purpose allocated twice
  // (the exception and a dependent one) and took 1.1-1.5 us against 0.8 us.
  throw CancelledError{};
}

void PromiseBase::keep_current_exception() noexcept {
  exception_ = std::current_exception();
  // The type of the exception in flight, from the C++ ABI (g++, clang and mingw all
  // follow the Itanium ABI; it sees through a rethrown exception_ptr): finishing a
  // cancelled task must not rethrow it to find out, a second unwind that doubled the
  // cost of a cancel.
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type != nullptr && *type == typeid(CancelledError)) cancelled_ = true;
}

void PromiseBase::start_task(EventLoop& loop, std::coroutine_handle<> self) {
  task_ = this;
  link_ = self;
  refs_ = 2;  // the caller's Task handle and the loop's own until the task finishes
  state_ = TaskState::scheduled;
  loop.add_task(*this);
  if (loop.debug()) [[unlikely]]
    name_for_debug(*this);
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

// Waiters form a circular doubly linked list reached through its oldest member, so
// FIFO order and O(1) removal cost one pointer in every task (util::IntrusiveList keeps
// a head, a tail and a count: 16 bytes more in every task frame).
void PromiseBase::add_waiter(TaskWaiter& w) noexcept {
  w.target = this;
  if (waiters_ == nullptr) {
    w.next = w.prev = &w;
    waiters_ = &w;
    return;
  }
  TaskWaiter* newest = waiters_->prev;
  w.prev = newest;
  w.next = waiters_;
  newest->next = &w;
  waiters_->prev = &w;
}

void PromiseBase::remove_waiter(TaskWaiter& w) noexcept {
  if (w.target != this) return;
  if (w.next == &w) {
    waiters_ = nullptr;
  } else {
    w.prev->next = w.next;
    w.next->prev = w.prev;
    if (waiters_ == &w) waiters_ = w.next;
  }
  w.next = w.prev = nullptr;
  w.target = nullptr;
}

void PromiseBase::finish_task() noexcept {
  t_step_task = this;
  state_ = TaskState::done;
  wait_point_ = nullptr;
  must_cancel_ = false;
  if (exception_ && !cancelled_) cancelled_ = is_cancellation(exception_);
  EventLoop::current()->remove_task(*this);
  while (TaskWaiter* w = waiters_) {
    remove_waiter(*w);
    w->on_done(*w);
  }
  release_ref();
}

void PromiseBase::abandon_task() noexcept {
  EventLoop::current()->remove_task(*this);
  // Its awaiter's cancel function would reach for a loop that is closing: a cancel()
  // through a Task handle kept past the loop only marks the task.
  wait_point_ = nullptr;
  release_ref();
}

void PromiseBase::release_ref() noexcept {
  if (--refs_ == 0) destroy_frame();
}

void PromiseBase::destroy_frame() noexcept {
  // Debug mode reads t_step_task after a step, so it must not dangle then. Every task
  // alive in debug mode is named (set_debug names the ones made before), so only named
  // tasks need to check; an unnamed one may leave it dangling while nobody reads it.
  if (named_ && t_step_task == this) step_task_destroyed(*this);
  if (state_ != TaskState::done) {
    if (named_) {
      std::fprintf(stderr, "corio: Task was destroyed but it is pending! (task %s)\n",
                   describe_task(*this).c_str());
    } else {
      std::fputs("corio: Task was destroyed but it is pending!\n", stderr);
    }
  } else if (exception_ && !retrieved_ && !cancelled_) {
    // asyncio logs "Task exception was never retrieved"; losing it silently would hide
    // the bug that made the task fail.
    char what[512];
    describe_exception(exception_, what, sizeof what);
    if (named_) {
      std::fprintf(stderr, "corio: Task exception was never retrieved (task %s): %s\n",
                   describe_task(*this).c_str(), what);
    } else {
      std::fprintf(stderr, "corio: Task exception was never retrieved: %s\n", what);
    }
  }
  if (named_) forget_task_name(*this);
  link_.destroy();
}

}  // namespace corio::detail
