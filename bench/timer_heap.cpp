#include "timer_heap.hpp"

namespace bench {

void TimerHeap::push(HeapTimer& t) {
  t.seq = next_seq_++;
  heap_.push_back(Entry{t.deadline.time_since_epoch().count(), &t});
  sift_up(heap_.size() - 1, heap_.back());
}

bool TimerHeap::erase(HeapTimer& t) noexcept {
  if (!t.queued()) return false;
  remove_at(t.heap_index);
  return true;
}

HeapTimer* TimerHeap::pop_due(TimePoint now) noexcept {
  if (heap_.empty() || heap_[0].key > now.time_since_epoch().count()) return nullptr;
  HeapTimer* t = heap_[0].timer;
  remove_at(0);
  return t;
}

void TimerHeap::sift_up(std::size_t i, Entry e) noexcept {
  while (i > 0) {
    std::size_t parent = (i - 1) / 4;
    if (!less(e, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i, Entry e) noexcept {
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    std::size_t last = first + 4 < n ? first + 4 : n;
    for (std::size_t c = first + 1; c < last; ++c) {
      if (less(heap_[c], heap_[best])) best = c;
    }
    if (!less(heap_[best], e)) break;
    place(i, heap_[best]);
    i = best;
  }
  place(i, e);
}

void TimerHeap::remove_at(std::size_t i) noexcept {
  heap_[i].timer->heap_index = HeapTimer::not_queued;
  Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  // The moved entry may belong above or below the hole.
  if (i > 0 && less(last, heap_[(i - 1) / 4])) {
    sift_up(i, last);
  } else {
    sift_down(i, last);
  }
}

}  // namespace bench
