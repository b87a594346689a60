// The FIFO of suspended tasks that every synchronisation primitive (Event, Lock,
// Semaphore, Condition, Barrier, Queue) keeps. A waiter lives in the awaiter, in the
// waiting coroutine's frame, so waiting allocates nothing.
#pragma once

#include <coroutine>
#include <cstddef>

#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/util/intrusive_list.hpp"

namespace corio::detail {

class WaiterList;

/// One task suspended in a WaiterList. Cancelling the task unlinks the waiter and
/// resumes it with CancelledError; a waiter already woken (granted its permit, item or
/// event) is no longer in the list, so a late cancel() is kept for the task's next await
/// and what it was granted is never lost.
class ListWaiter : public WaitPoint {
 public:
  ListWaiter() noexcept : WaitPoint(&cancel_waiting) {}
  /// For waits whose cancellation means more than leaving the queue (cancelling a
  /// Future cancels the future itself, as in asyncio).
  explicit ListWaiter(CancelFn on_cancel) noexcept : WaitPoint(on_cancel) {}
  ListWaiter(ListWaiter&& other) noexcept : WaitPoint(std::move(other)) {}

  /// Whether the waiter is still queued (not woken, not cancelled).
  [[nodiscard]] bool queued() const noexcept { return list_ != nullptr; }

 protected:
  /// For await_suspend: registers the suspension with the caller's task and queues the
  /// waiter at the back of `list`. Returns false, queuing nothing, when a cancellation
  /// is already pending; await_resume must then start with throw_if_cancelled().
  bool enqueue(WaiterList& list, PromiseBase& caller, std::coroutine_handle<> h) noexcept;

 private:
  friend class WaiterList;
  static void cancel_waiting(WaitPoint& wp) noexcept;

  ListWaiter* next_ = nullptr;
  ListWaiter* prev_ = nullptr;
  WaiterList* list_ = nullptr;
  std::coroutine_handle<> caller_{};
};

/// FIFO of ListWaiters (asyncio's primitives keep a deque of futures the same way).
class WaiterList {
 public:
  WaiterList() noexcept = default;
  WaiterList(const WaiterList&) = delete;
  WaiterList& operator=(const WaiterList&) = delete;

  [[nodiscard]] bool empty() const noexcept { return waiters_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return waiters_.size(); }
  /// The oldest waiter, or nullptr.
  [[nodiscard]] ListWaiter* front() const noexcept { return waiters_.front(); }

  /// Unlinks the oldest waiter and queues its resumption (its await then returns
  /// normally). Returns it so the caller can hand it something first, or nullptr.
  ListWaiter* wake_one() noexcept;
  /// Wakes every waiter, oldest first; returns how many.
  std::size_t wake_all() noexcept;
  /// Unlinks `w` and resumes it with CancelledError (used by cancellation).
  void cancel(ListWaiter& w) noexcept;

 private:
  friend class ListWaiter;
  void push_back(ListWaiter& w) noexcept;
  void unlink(ListWaiter& w) noexcept;

  util::IntrusiveList<ListWaiter, &ListWaiter::next_, &ListWaiter::prev_> waiters_;
};

inline bool ListWaiter::enqueue(WaiterList& list, PromiseBase& caller,
                                std::coroutine_handle<> h) noexcept {
  if (!begin(caller)) return false;
  caller_ = h;
  list.push_back(*this);
  return true;
}

inline void ListWaiter::cancel_waiting(WaitPoint& wp) noexcept {
  auto& w = static_cast<ListWaiter&>(wp);
  if (w.list_ != nullptr) w.list_->cancel(w);
}

inline void WaiterList::push_back(ListWaiter& w) noexcept {
  w.list_ = this;
  waiters_.push_back(w);
}

inline void WaiterList::unlink(ListWaiter& w) noexcept {
  waiters_.remove(w);
  w.list_ = nullptr;
}

inline ListWaiter* WaiterList::wake_one() noexcept {
  ListWaiter* w = waiters_.front();
  if (w == nullptr) return nullptr;
  unlink(*w);
  w->end();
  EventLoop::current()->schedule(w->caller_);
  return w;
}

inline std::size_t WaiterList::wake_all() noexcept {
  std::size_t n = 0;
  while (wake_one() != nullptr)
    ++n;
  return n;
}

inline void WaiterList::cancel(ListWaiter& w) noexcept {
  unlink(w);
  w.mark_cancelled();
  w.end();
  EventLoop::current()->schedule(w.caller_);
}

}  // namespace corio::detail
