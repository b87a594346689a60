// The reactor's timer structure until issue 16 (part 6) measured it against the timing
// wheel that replaced it (corio/reactor/timer.hpp); kept here as the baseline that
// bench/timer_queue_bench.cpp measures the wheel against. docs/backends.md, "Timers:
// heap or wheel", has the figures. A 4-ary min-heap: O(log n) insert and cancel, and
// the wait timeout is simply the top's deadline.
// A 4-ary heap halves the depth of a binary one and keeps the four children of a node
// in one cache line of 16-byte entries.
#pragma once

#include <cstdint>
#include <vector>

#include "corio/reactor/clock.hpp"

namespace bench {

using corio::TimePoint;

/// The heap's timer: 24 bytes.
struct HeapTimer {
  using FireFn = void (*)(HeapTimer&) noexcept;

  static constexpr std::uint32_t not_queued = UINT32_MAX;

  TimePoint deadline{};
  FireFn on_fire = nullptr;
  std::uint32_t seq = 0;                  // FIFO among equal deadlines (wraps; see less())
  std::uint32_t heap_index = not_queued;  // position in the heap, for O(log n) cancel

  [[nodiscard]] bool queued() const noexcept { return heap_index != not_queued; }
};

/// Min-heap of timers ordered by (deadline, insertion order).
class TimerHeap {
 public:
  /// Adds `t` (not already queued) at its deadline.
  void push(HeapTimer& t);
  /// Removes `t` if it is queued; returns whether it was.
  bool erase(HeapTimer& t) noexcept;
  /// The earliest timer, or nullptr.
  [[nodiscard]] HeapTimer* top() const noexcept { return heap_.empty() ? nullptr : heap_[0].timer; }
  /// Removes and returns the earliest timer if its deadline is at or before `now`.
  HeapTimer* pop_due(TimePoint now) noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }
  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

 private:
  struct Entry {
    std::int64_t key;  // deadline in ns: compared without touching the timer
    HeapTimer* timer;
  };
  // Equal deadlines compare insertion numbers modulo 2^32, which is exact while fewer
  // than 2^31 timers share one deadline; 32 bits keep a HeapTimer at 24 bytes.
  static bool less(const Entry& a, const Entry& b) noexcept {
    return a.key < b.key ||
           (a.key == b.key && static_cast<std::int32_t>(a.timer->seq - b.timer->seq) < 0);
  }
  void place(std::size_t i, Entry e) noexcept {
    heap_[i] = e;
    e.timer->heap_index = static_cast<std::uint32_t>(i);
  }
  void sift_up(std::size_t i, Entry e) noexcept;
  void sift_down(std::size_t i, Entry e) noexcept;
  void remove_at(std::size_t i) noexcept;

  std::vector<Entry> heap_;
  std::uint32_t next_seq_ = 0;
};

}  // namespace bench
