// Intrusive lists: the links live in the element (an operation, a waiter, a task), so
// linking and unlinking never allocate, and an element knows its place for O(1)
// removal. Every layer keeps such lists (wait queues, completion queues, waiter FIFOs,
// the loop's task registry); this is their one implementation. The element names its
// link members, which keeps each type's layout as it is (no base class, no padding).
// Not thread-safe: a list belongs to one loop, or to whoever holds its lock.
#pragma once

#include <cstddef>
#include <utility>

namespace corio::util {

/// Doubly linked list through `T::*Next` and `T::*Prev` (pointers to T). Removal of any
/// element is O(1); an element is in at most one list at a time and its links are null
/// while it is in none.
template <class T, T* T::*Next, T* T::*Prev>
class IntrusiveList {
 public:
  IntrusiveList() noexcept = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  IntrusiveList(IntrusiveList&& other) noexcept
      : head_(std::exchange(other.head_, nullptr)),
        tail_(std::exchange(other.tail_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  /// Takes over `other`'s elements (their links name each other, never the list, so a
  /// list may move, e.g. inside a growing vector); this list must be empty.
  IntrusiveList& operator=(IntrusiveList&& other) noexcept {
    head_ = std::exchange(other.head_, nullptr);
    tail_ = std::exchange(other.tail_, nullptr);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The oldest element, or nullptr.
  [[nodiscard]] T* front() const noexcept { return head_; }
  /// The newest element, or nullptr.
  [[nodiscard]] T* back() const noexcept { return tail_; }
  /// The element after `e` in this list, or nullptr.
  [[nodiscard]] static T* next(const T& e) noexcept { return e.*Next; }

  void push_back(T& e) noexcept {
    e.*Next = nullptr;
    e.*Prev = tail_;
    (tail_ != nullptr ? tail_->*Next : head_) = &e;
    tail_ = &e;
    ++size_;
  }
  void push_front(T& e) noexcept {
    e.*Prev = nullptr;
    e.*Next = head_;
    (head_ != nullptr ? head_->*Prev : tail_) = &e;
    head_ = &e;
    ++size_;
  }
  /// Unlinks `e`, which must be in this list, and clears its links.
  void remove(T& e) noexcept {
    (e.*Prev != nullptr ? e.*Prev->*Next : head_) = e.*Next;
    (e.*Next != nullptr ? e.*Next->*Prev : tail_) = e.*Prev;
    e.*Next = nullptr;
    e.*Prev = nullptr;
    --size_;
  }
  /// Unlinks and returns the oldest element, or nullptr.
  T* pop_front() noexcept {
    T* e = head_;
    if (e != nullptr) remove(*e);
    return e;
  }
  /// Whether `e` is linked here, given that elements outside every list have null
  /// links (this list's remove() and pop_front() leave them so).
  [[nodiscard]] bool contains(const T& e) const noexcept {
    return e.*Prev != nullptr || head_ == &e;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

/// Singly linked FIFO through `T::*Next`: push at the back, pop at the front, O(1) each,
/// for queues that never remove from the middle (completions waiting to be delivered).
template <class T, T* T::*Next>
class IntrusiveQueue {
 public:
  IntrusiveQueue() noexcept = default;
  IntrusiveQueue(const IntrusiveQueue&) = delete;
  IntrusiveQueue& operator=(const IntrusiveQueue&) = delete;
  IntrusiveQueue(IntrusiveQueue&& other) noexcept
      : head_(std::exchange(other.head_, nullptr)), tail_(std::exchange(other.tail_, nullptr)) {}
  /// Takes over `other`'s elements; this queue must be empty.
  IntrusiveQueue& operator=(IntrusiveQueue&& other) noexcept {
    head_ = std::exchange(other.head_, nullptr);
    tail_ = std::exchange(other.tail_, nullptr);
    return *this;
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] T* front() const noexcept { return head_; }

  void push_back(T& e) noexcept {
    e.*Next = nullptr;
    (tail_ != nullptr ? tail_->*Next : head_) = &e;
    tail_ = &e;
  }
  /// Unlinks and returns the oldest element, or nullptr.
  T* pop_front() noexcept {
    T* e = head_;
    if (e != nullptr) {
      head_ = e->*Next;
      if (head_ == nullptr) tail_ = nullptr;
      e->*Next = nullptr;
    }
    return e;
  }
  /// Moves every element into the returned queue, leaving this one empty.
  [[nodiscard]] IntrusiveQueue take_all() noexcept { return IntrusiveQueue(std::move(*this)); }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace corio::util
