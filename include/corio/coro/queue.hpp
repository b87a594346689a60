// Queue, PriorityQueue, LifoQueue: asyncio's producer/consumer queues. The three share
// one template (BasicQueue) and differ only in how the buffer orders its items.
//
// Nothing is lost to a cancellation: an item put while getters wait is handed to the
// oldest getter (moved into its awaiter) before it is woken, and a putter waiting for
// room has its item moved into the buffer when room appears, before it is woken. A woken
// waiter is off the WaiterList, so a cancel() arriving after that is deferred to the
// task's next await (see waiter_list.hpp) and the hand-off stands. asyncio instead wakes
// the waiter and lets it retry, which needs the "put it back if cancelled" dance in
// Queue.get and lets a newcomer barge in between wake-up and retry; here the buffer and
// the waiter lists keep two invariants that rule barging out:
//   - getters wait only while the buffer is empty;
//   - putters wait only while the buffer is full.
#pragma once

#include <algorithm>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "corio/coro/promise.hpp"
#include "corio/coro/waiter_list.hpp"

namespace corio {

/// Like asyncio.QueueFull: put_nowait() on a full queue.
class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("corio::QueueFull: the queue is full") {}
};

/// Like asyncio.QueueEmpty: get_nowait() on an empty queue.
class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("corio::QueueEmpty: the queue is empty") {}
};

/// Like asyncio.QueueShutDown (3.13): put on a shut-down queue, or get on one that is
/// shut down and empty.
class QueueShutDown : public std::runtime_error {
 public:
  QueueShutDown() : std::runtime_error("corio::QueueShutDown: the queue is shut down") {}
};

/// What BasicQueue needs from its buffer: add, remove the next item, count, drop all.
template <class S, class T>
concept QueueStorage = std::movable<T> && requires(S s, const S cs, T&& v) {
  s.push(std::move(v));
  { s.pop() } -> std::same_as<T>;
  { cs.size() } -> std::convertible_to<std::size_t>;
  s.clear();
};

namespace detail {

/// First in, first out (asyncio.Queue's deque).
template <class T>
class FifoStorage {
 public:
  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::deque<T> items_;
};

/// Last in, first out (asyncio.LifoQueue's list).
template <class T>
class LifoStorage {
 public:
  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<T> items_;
};

/// Smallest first by `Compare` (asyncio.PriorityQueue's heapq). Like heapq, equal items
/// come out in no particular order.
template <class T, class Compare>
class HeapStorage {
 public:
  explicit HeapStorage(Compare less = Compare()) : less_(std::move(less)) {}
  void push(T&& v) {
    items_.push_back(std::move(v));
    std::push_heap(items_.begin(), items_.end(), greater());
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), greater());
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  // std's heap algorithms keep the largest element on top; heapq keeps the smallest.
  auto greater() {
    return [this](const T& a, const T& b) { return less_(b, a); };
  }

  std::vector<T> items_;
  [[no_unique_address]] Compare less_;
};

/// How a queue wait ended, when it did not end by cancellation.
enum class QueueOutcome : std::uint8_t {
  pending,    ///< not woken by the queue: the await completes in await_resume
  delivered,  ///< the item changed hands at wake time (given to a getter, or buffered)
  shut_down,  ///< woken by shutdown(): the await throws QueueShutDown
};

}  // namespace detail

/// The queue machinery shared by Queue, LifoQueue and PriorityQueue; `Storage` orders
/// the buffered items. Single-threaded like asyncio's: use it from one loop's tasks. It
/// must outlive every task waiting on it.
template <class T, QueueStorage<T> Storage>
class BasicQueue {
 public:
  class GetAwaiter;
  class PutAwaiter;
  class JoinAwaiter;
  using value_type = T;

  /// `maxsize` 0 means unbounded (asyncio's maxsize <= 0).
  explicit BasicQueue(std::size_t maxsize = 0, Storage storage = Storage())
      : items_(std::move(storage)), maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  /// Number of buffered items (asyncio's qsize()); items already handed to a waking
  /// getter are not counted.
  [[nodiscard]] std::size_t qsize() const noexcept { return items_.size(); }
  [[nodiscard]] bool empty() const noexcept { return qsize() == 0; }
  /// True when bounded and holding maxsize items (asyncio's full()).
  [[nodiscard]] bool full() const noexcept { return maxsize_ > 0 && qsize() >= maxsize_; }
  [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }
  [[nodiscard]] bool is_shut_down() const noexcept { return shut_down_; }

  /// Like asyncio.Queue.put_nowait: adds `item` at once; throws QueueFull or
  /// QueueShutDown. Never yields.
  void put_nowait(T item) {
    if (shut_down_) throw QueueShutDown();
    if (full()) throw QueueFull();
    push(std::move(item));
  }
  /// Like asyncio.Queue.get_nowait: removes the next item at once; throws QueueEmpty, or
  /// QueueShutDown when shut down and empty.
  T get_nowait() {
    if (empty()) {
      if (shut_down_) throw QueueShutDown();
      throw QueueEmpty();
    }
    return pop();
  }

  /// Like asyncio.Queue.put: `co_await q.put(item)` waits while the queue is full.
  /// Throws QueueShutDown, or CancelledError (then the item is not added).
  [[nodiscard]] PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }
  /// Like asyncio.Queue.get: `co_await q.get()` waits while the queue is empty. Throws
  /// QueueShutDown once shut down and empty, or CancelledError (then it took nothing).
  [[nodiscard]] GetAwaiter get() noexcept { return GetAwaiter(*this); }

  /// Like asyncio.Queue.task_done: one fetched item is fully processed. Throws
  /// std::invalid_argument (asyncio's ValueError) if called more often than items were
  /// put.
  void task_done() {
    if (unfinished_ == 0) throw std::invalid_argument("corio: task_done() called too many times");
    if (--unfinished_ == 0) joiners_.wake_all();
  }
  /// Like asyncio.Queue.join: `co_await q.join()` waits until task_done() has been
  /// called for every item put.
  [[nodiscard]] JoinAwaiter join() noexcept { return JoinAwaiter(*this); }

  /// Like asyncio.Queue.shutdown (3.13): puts throw QueueShutDown from now on and
  /// waiting putters are woken with it; gets drain what is left, then throw it.
  /// `immediate` drops the buffered items, counting them done for join().
  void shutdown(bool immediate = false) {
    shut_down_ = true;
    if (immediate) {
      const std::size_t dropped = items_.size();
      items_.clear();
      unfinished_ -= std::min(dropped, unfinished_);
      if (unfinished_ == 0) joiners_.wake_all();
    }
    // Getters wait only while the buffer is empty, so all of them must now fail.
    while (detail::ListWaiter* w = getters_.front()) {
      static_cast<GetAwaiter&>(*w).outcome_ = detail::QueueOutcome::shut_down;
      getters_.wake_one();
    }
    while (detail::ListWaiter* w = putters_.front()) {
      static_cast<PutAwaiter&>(*w).outcome_ = detail::QueueOutcome::shut_down;
      putters_.wake_one();
    }
  }

 private:
  // Adds an item that passed the shutdown and full checks. A waiting getter means an
  // empty buffer, so the item goes straight to the oldest one.
  void push(T&& item) {
    if (detail::ListWaiter* w = getters_.front()) {
      auto& getter = static_cast<GetAwaiter&>(*w);
      getter.item_.emplace(std::move(item));
      getter.outcome_ = detail::QueueOutcome::delivered;
      getters_.wake_one();
    } else {
      items_.push(std::move(item));
    }
    ++unfinished_;
  }
  // Removes the next buffered item. A waiting putter means the buffer was full: its item
  // takes the freed slot now, so nobody can barge in before it runs.
  T pop() {
    T item = items_.pop();
    if (detail::ListWaiter* w = putters_.front()) {
      auto& putter = static_cast<PutAwaiter&>(*w);
      items_.push(std::move(putter.item_));
      ++unfinished_;
      putter.outcome_ = detail::QueueOutcome::delivered;
      putters_.wake_one();
    }
    return item;
  }

  Storage items_;
  detail::WaiterList getters_;
  detail::WaiterList putters_;
  detail::WaiterList joiners_;
  std::size_t maxsize_;
  std::size_t unfinished_ = 0;  // put and not yet task_done()
  bool shut_down_ = false;
};

/// The awaiter of BasicQueue::get(); lives in the getter's frame with room for the item
/// handed to it.
template <class T, QueueStorage<T> Storage>
class [[nodiscard]] BasicQueue<T, Storage>::GetAwaiter : detail::ListWaiter {
 public:
  explicit GetAwaiter(BasicQueue& q) noexcept : q_(&q) {}

  // Getters wait only while the buffer is empty, so an item there is free to take.
  bool await_ready() const noexcept { return !q_->empty() || q_->shut_down_; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(q_->getters_, caller.promise(), caller);
  }
  T await_resume() {
    throw_if_cancelled();
    switch (outcome_) {
      case detail::QueueOutcome::delivered:
        return std::move(*item_);
      case detail::QueueOutcome::shut_down:
        throw QueueShutDown();
      case detail::QueueOutcome::pending:
        break;
    }
    return q_->get_nowait();
  }

 private:
  friend BasicQueue;
  BasicQueue* q_;
  std::optional<T> item_;
  detail::QueueOutcome outcome_ = detail::QueueOutcome::pending;
};

/// The awaiter of BasicQueue::put(); holds the item until it enters the queue.
template <class T, QueueStorage<T> Storage>
class [[nodiscard]] BasicQueue<T, Storage>::PutAwaiter : detail::ListWaiter {
 public:
  PutAwaiter(BasicQueue& q, T&& item) : q_(&q), item_(std::move(item)) {}

  // Putters wait only while the buffer is full, so room means nobody is ahead of us.
  bool await_ready() const noexcept { return !q_->full() || q_->shut_down_; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(q_->putters_, caller.promise(), caller);
  }
  void await_resume() {
    throw_if_cancelled();
    switch (outcome_) {
      case detail::QueueOutcome::delivered:
        return;
      case detail::QueueOutcome::shut_down:
        throw QueueShutDown();
      case detail::QueueOutcome::pending:
        break;
    }
    q_->put_nowait(std::move(item_));
  }

 private:
  friend BasicQueue;
  BasicQueue* q_;
  T item_;
  detail::QueueOutcome outcome_ = detail::QueueOutcome::pending;
};

/// The awaiter of BasicQueue::join().
template <class T, QueueStorage<T> Storage>
class [[nodiscard]] BasicQueue<T, Storage>::JoinAwaiter : detail::ListWaiter {
 public:
  explicit JoinAwaiter(BasicQueue& q) noexcept : q_(&q) {}

  bool await_ready() const noexcept { return q_->unfinished_ == 0; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    return enqueue(q_->joiners_, caller.promise(), caller);
  }
  void await_resume() const { throw_if_cancelled(); }

 private:
  BasicQueue* q_;
};

/// Like asyncio.Queue: first in, first out; `maxsize` 0 means unbounded.
template <class T>
class Queue : public BasicQueue<T, detail::FifoStorage<T>> {
 public:
  explicit Queue(std::size_t maxsize = 0) : BasicQueue<T, detail::FifoStorage<T>>(maxsize) {}
};

/// Like asyncio.LifoQueue: the most recently put item comes out first.
template <class T>
class LifoQueue : public BasicQueue<T, detail::LifoStorage<T>> {
 public:
  explicit LifoQueue(std::size_t maxsize = 0) : BasicQueue<T, detail::LifoStorage<T>>(maxsize) {}
};

/// Like asyncio.PriorityQueue: the smallest item by `Compare` comes out first.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::HeapStorage<T, Compare>> {
 public:
  explicit PriorityQueue(std::size_t maxsize = 0, Compare less = Compare())
      : BasicQueue<T, detail::HeapStorage<T, Compare>>(
            maxsize, detail::HeapStorage<T, Compare>(std::move(less))) {}
};

}  // namespace corio
