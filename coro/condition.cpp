// Condition::wait(): the release / wait / re-acquire sequence of asyncio.Condition.wait.
#include "corio/coro/condition.hpp"

#include <exception>

#include "corio/coro/errors.hpp"

namespace corio {
namespace {

// Gives a coroutine the task it runs in, without suspending.
struct CurrentTask {
  const detail::PromiseBase* task = nullptr;
  bool await_ready() const noexcept { return false; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    task = caller.promise().task();
    return false;
  }
  const detail::PromiseBase* await_resume() const noexcept { return task; }
};

}  // namespace

void Condition::notify(std::size_t n) {
  if (!lock_.locked()) throw RuntimeError("corio::Condition: notify() without the lock");
  for (; n > 0 && waiters_.wake_one() != nullptr; --n) {
  }
}

// A coroutine rather than one awaiter: the re-acquire after the notification is a second
// suspension, which one awaiter cannot make. This costs one frame allocation per wait.
Coro<void> Condition::wait() {
  // Stricter than asyncio, which only checks locked(): waiting would otherwise release a
  // lock another task holds.
  const detail::PromiseBase* self = co_await CurrentTask{};
  if (!lock_.locked() || lock_.owner_ != self) {
    throw RuntimeError("corio::Condition: wait() without holding the lock");
  }
  lock_.release();

  std::exception_ptr cancel;  // the latest CancelledError, re-raised at the end
  bool notified = false;
  try {
    co_await NotifyAwaiter(*this);
    notified = true;
  } catch (const CancelledError&) {
    cancel = std::current_exception();
  }
  // Re-acquire whatever happened: the caller's critical section (and its guard) expects
  // to hold the lock when wait() ends, normally or not. A cancel that arrives meanwhile
  // only changes which CancelledError is raised, as in asyncio.
  for (;;) {
    try {
      co_await lock_.acquire();
      break;
    } catch (const CancelledError&) {
      cancel = std::current_exception();
    }
  }
  if (cancel) {
    // This task will not act on the notification it consumed: give it to the next
    // waiter, as asyncio does (a spurious wake-up at worst, which conditions allow).
    if (notified) notify(1);
    std::rethrow_exception(cancel);
  }
}

}  // namespace corio
