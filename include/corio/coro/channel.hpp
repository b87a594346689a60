// Channel<T>: a bounded multi-producer, multi-consumer queue between event loops (and
// threads). The one primitive here that is thread-safe: Queue and friends belong to one
// loop, like asyncio's.
//
// Lock-based on purpose: one mutex guards the buffer and both waiter lists; a cross-loop
// hand-off costs one lock and one call_soon_threadsafe, which is what a wake-up across
// threads costs anyway. Like Queue it hands items over at wake time and never lets a
// newcomer barge in: receivers wait only while the buffer is empty, senders only while
// it is full. A waiter is woken on its own loop (schedule() there, else that loop's
// call_soon_threadsafe), so nobody spins and nothing is lost to a cancellation: a waiter
// already handed its item keeps it and the cancel hits its next await.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"
#include "corio/util/intrusive_list.hpp"

namespace corio {

/// send() on a closed channel, or recv() on one that is closed and drained (like
/// asyncio.QueueShutDown for Queue.shutdown()).
class ChannelClosed : public std::runtime_error {
 public:
  ChannelClosed() : std::runtime_error("corio::ChannelClosed: the channel is closed") {}
};

/// A bounded MPMC channel: any task on any loop may send and receive, and try_send /
/// try_recv / close work from any thread. Must outlive every task waiting on it.
template <class T>
class Channel {
 public:
  class SendAwaiter;
  class RecvAwaiter;
  using value_type = T;

  /// Holds up to `capacity` items (at least 1: std::invalid_argument otherwise).
  explicit Channel(std::size_t capacity) : capacity_(capacity) {
    if (capacity == 0) throw std::invalid_argument("corio: a Channel needs a capacity >= 1");
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Buffered items (a snapshot: other threads may change it at once).
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  [[nodiscard]] bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

  /// `co_await ch.send(item)` waits while the channel is full. Throws ChannelClosed (the
  /// item is not sent) or CancelledError (not sent either).
  [[nodiscard]] SendAwaiter send(T item) { return SendAwaiter(*this, std::move(item)); }
  /// `co_await ch.recv()` waits while the channel is empty. Throws ChannelClosed once the
  /// channel is closed and drained, or CancelledError (then it took nothing).
  [[nodiscard]] RecvAwaiter recv() noexcept { return RecvAwaiter(*this); }

  /// Sends without waiting, from any thread: false if full; ChannelClosed if closed.
  bool try_send(T& item) {
    std::lock_guard lock(mutex_);
    return send_locked(item);
  }
  /// Receives without waiting, from any thread: nullopt if empty; ChannelClosed if closed
  /// and drained.
  std::optional<T> try_recv() {
    std::lock_guard lock(mutex_);
    return recv_locked();
  }

  /// Closes the channel, from any thread (idempotent): sends fail from now on and
  /// waiting senders are woken with ChannelClosed (their items are dropped); receivers
  /// get what is buffered, then ChannelClosed, and waiting ones are woken with it.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    while (Waiter* w = receivers_.pop()) {
      w->outcome_ = Outcome::closed;
      w->wake();
    }
    while (Waiter* w = senders_.pop()) {
      w->outcome_ = Outcome::closed;
      w->wake();
    }
  }

 private:
  enum class Outcome : unsigned char {
    pending,    ///< not woken yet
    delivered,  ///< the item changed hands when it was woken
    closed,     ///< woken by close(): the await throws ChannelClosed
  };

  class List;

  // One suspended sender or receiver, in its coroutine's frame. Linked and unlinked
  // under the channel's mutex; its WaitPoint is only touched on its own loop's thread.
  class Waiter : protected detail::WaitPoint {
   protected:
    explicit Waiter(Channel& ch) noexcept : WaitPoint(&on_cancel), ch_(&ch) {}
    Waiter(Waiter&& o) noexcept : WaitPoint(std::move(o)), ch_(o.ch_) {}
    ~Waiter() {
      // A waiter whose task was destroyed while waiting (loop teardown) leaves the list.
      if (suspended_) {
        std::lock_guard lock(ch_->mutex_);
        if (list_ != nullptr) list_->unlink(*this);
      }
    }

    // Called with the mutex held, in await_suspend: queue on `list` unless a
    // cancellation is pending (then await_resume throws).
    bool wait_on(List& list, detail::PromiseBase& caller, std::coroutine_handle<> h) noexcept {
      if (!begin(caller)) return false;
      caller_ = h;
      loop_ = EventLoop::current();
      suspended_ = true;
      list.push(*this);
      return true;
    }
    // First thing in await_resume, on our own thread.
    void resumed() noexcept {
      if (suspended_) end();
    }
    using WaitPoint::throw_if_cancelled;

    Channel* ch_;
    std::optional<T> item_;  // a receiver's delivered item, a sender's pending one
    Outcome outcome_ = Outcome::pending;

   private:
    friend Channel;
    friend List;

    // Mutex held; already unlinked. Resumes the coroutine on its own loop.
    void wake() noexcept {
      if (EventLoop::current() == loop_) {
        loop_->schedule(caller_);
        return;
      }
      try {
        loop_->call_soon_threadsafe([loop = loop_, h = caller_] { loop->schedule(h); });
      } catch (...) {
        // Its loop is closed, so its task is gone (its destructor ran first).
      }
    }
    static void on_cancel(WaitPoint& wp) noexcept {
      auto& self = static_cast<Waiter&>(wp);
      bool was_queued;
      {
        std::lock_guard lock(self.ch_->mutex_);
        was_queued = self.list_ != nullptr;
        if (was_queued) self.list_->unlink(self);
      }
      if (was_queued) {
        self.mark_cancelled();
        self.end();
        self.loop_->schedule(self.caller_);
      } else if (self.outcome_ == Outcome::delivered) {
        self.defer_cancel();  // its item changed hands already; the wake-up is on its way
      }
    }

    std::coroutine_handle<> caller_{};
    EventLoop* loop_ = nullptr;
    Waiter* next_ = nullptr;
    Waiter* prev_ = nullptr;
    List* list_ = nullptr;
    bool suspended_ = false;  // own thread only
  };

  // FIFO of waiters (intrusive), guarded by the channel's mutex.
  class List {
   public:
    void push(Waiter& w) noexcept {
      w.list_ = this;
      waiters_.push_back(w);
    }
    void unlink(Waiter& w) noexcept {
      waiters_.remove(w);
      w.list_ = nullptr;
    }
    Waiter* pop() noexcept {
      Waiter* w = waiters_.front();
      if (w != nullptr) unlink(*w);
      return w;
    }

   private:
    util::IntrusiveList<Waiter, &Waiter::next_, &Waiter::prev_> waiters_;
  };

  // Mutex held. Takes `item` (true) unless the channel is full.
  bool send_locked(T& item) {
    if (closed_) throw ChannelClosed();
    if (Waiter* w = receivers_.pop()) {  // so the buffer is empty: hand it over
      w->item_.emplace(std::move(item));
      w->outcome_ = Outcome::delivered;
      w->wake();
      return true;
    }
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    return true;
  }
  // Mutex held. The next item, or nullopt if none is buffered.
  std::optional<T> recv_locked() {
    if (items_.empty()) {
      if (closed_) throw ChannelClosed();
      return std::nullopt;
    }
    std::optional<T> item(std::move(items_.front()));
    items_.pop_front();
    if (Waiter* w = senders_.pop()) {  // it waited for the slot just freed
      items_.push_back(std::move(*w->item_));
      w->outcome_ = Outcome::delivered;
      w->wake();
    }
    return item;
  }

  mutable std::mutex mutex_;
  std::deque<T> items_;
  List receivers_;
  List senders_;
  std::size_t capacity_;
  bool closed_ = false;
};

/// The awaiter of Channel::send(); holds the item until it is taken.
template <class T>
class [[nodiscard]] Channel<T>::SendAwaiter : Channel<T>::Waiter {
 public:
  SendAwaiter(Channel& ch, T&& item) : Waiter(ch) { this->item_.emplace(std::move(item)); }

  bool await_ready() const noexcept { return false; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    std::lock_guard lock(this->ch_->mutex_);
    if (this->ch_->closed_) {
      this->outcome_ = Outcome::closed;
      return false;
    }
    if (this->ch_->send_locked(*this->item_)) {
      this->outcome_ = Outcome::delivered;
      return false;
    }
    return this->wait_on(this->ch_->senders_, caller.promise(), caller);
  }
  void await_resume() {
    this->resumed();
    this->throw_if_cancelled();
    if (this->outcome_ == Outcome::closed) throw ChannelClosed();
  }
};

/// The awaiter of Channel::recv(); has room for the item handed to it.
template <class T>
class [[nodiscard]] Channel<T>::RecvAwaiter : Channel<T>::Waiter {
 public:
  explicit RecvAwaiter(Channel& ch) noexcept : Waiter(ch) {}

  bool await_ready() const noexcept { return false; }
  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    std::lock_guard lock(this->ch_->mutex_);
    if (!this->ch_->items_.empty()) {
      this->item_ = this->ch_->recv_locked();
      this->outcome_ = Outcome::delivered;
      return false;
    }
    if (this->ch_->closed_) {
      this->outcome_ = Outcome::closed;
      return false;
    }
    return this->wait_on(this->ch_->receivers_, caller.promise(), caller);
  }
  T await_resume() {
    this->resumed();
    this->throw_if_cancelled();
    if (this->outcome_ == Outcome::closed) throw ChannelClosed();
    return std::move(*this->item_);
  }
};

}  // namespace corio
