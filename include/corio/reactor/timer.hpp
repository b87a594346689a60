// Timers for every backend live in one structure owned by the reactor (issue 16, part 6
// chose it by measurement against a 4-ary heap, now bench/timer_heap.hpp): a
// hierarchical timing wheel after Tokio's runtime/time wheel (64 slots a level, an
// occupied-slot bitmask per level, intrusive per-slot lists, slots cascading down as time
// reaches them), with the heap's exact semantics: a timer never fires before its
// nanosecond deadline, and due timers come out in (deadline, insertion) order.
//
// docs/backends.md ("Timers: heap or wheel") has the figures and the decision;
// tests/reactor/timer_wheel_test.cpp checks it against a std::multimap.
//
// How exactness stays cheap: a wheel slot only says "somewhere in this tick". The
// earliest non-empty tick is drained, in insertion order, into a small 4-ary "near" heap
// ordered by (deadline, seq), and a timer armed at or before the drained tick goes
// straight into that heap. Every near timer is earlier than every wheel timer (its tick
// is lower), so popping the near heap is exact, and the heap holds about one tick's
// worth of timers instead of all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "corio/reactor/clock.hpp"

namespace corio {

/// Where a timer sits in the near heap: its index (for cancel) and its insertion number
/// (FIFO among equal deadlines).
struct NearPos {
  std::uint32_t index;
  std::uint32_t seq;
};

/// A doubly linked list node; the wheel's slots are bare nodes (sentinels).
struct TimerLink {
  // Not `next`/`prev`: types that derive from Timer keep lists of their own.
  TimerLink* link_next = nullptr;  // nullptr: not queued; TimerWheel's near tag: in the near heap
  union {
    TimerLink* link_prev;  // in a slot's list
    NearPos near;          // in the near heap
  };
  TimerLink() noexcept : link_prev(nullptr) {}
};

/// A deadline and what to do when it passes. Lives in the waiter (no allocation).
/// 32 bytes: the heap's Timer was 24 (docs/backends.md weighs the difference).
struct Timer : TimerLink {
  using FireFn = void (*)(Timer&) noexcept;

  TimePoint deadline{};
  FireFn on_fire = nullptr;

  [[nodiscard]] bool queued() const noexcept { return link_next != nullptr; }
  /// Marks the timer unqueued without touching the structure, for one being destroyed
  /// with the timer still filed in it (the loop's close).
  void forget() noexcept { link_next = nullptr; }
};

/// Timers ordered by (deadline, insertion order).
class TimerWheel {
 public:
  TimerWheel() noexcept;
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  /// Adds `t` (not already queued) at its deadline.
  void push(Timer& t);
  /// Removes `t` if it is queued; returns whether it was.
  bool erase(Timer& t) noexcept;
  /// The earliest timer, or nullptr. Not const: it drains the earliest tick into the
  /// near heap to learn the exact deadline (no time passes; nothing fires).
  [[nodiscard]] Timer* top();
  /// Removes and returns the earliest timer if its deadline is at or before `now`.
  Timer* pop_due(TimePoint now);
  [[nodiscard]] std::size_t size() const noexcept { return in_wheel_ + near_.size(); }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

 private:
  // 2^16 ns (65.5 µs) ticks: about 18 timers a tick for a million timers over an hour,
  // so the near heap stays small; measured faster than 2^12 and 2^20 ns ticks
  // (fire_1M, docs/backends.md). 8 levels of 6 bits cover every tick of a positive
  // int64 deadline, so no level wraps around (Tokio's top level does, and clamps).
  static constexpr int kShift = 16;
  static constexpr int kBits = 6;
  static constexpr int kSlots = 1 << kBits;
  static constexpr int kLevels = (63 - kShift + kBits - 1) / kBits;

  struct Entry {
    std::int64_t key;  // deadline in ns
    Timer* timer;
  };

  static std::uint64_t tick_of(TimePoint t) noexcept {
    const std::int64_t ns = t.time_since_epoch().count();
    return ns <= 0 ? 0 : static_cast<std::uint64_t>(ns) >> kShift;
  }
  void wheel_insert(Timer& t, std::uint64_t tick) noexcept;
  bool drain_next(std::uint64_t limit) noexcept;

  void near_push(Timer& t);
  void near_remove(std::size_t i) noexcept;
  static bool less(const Entry& a, const Entry& b) noexcept {
    return a.key < b.key ||
           (a.key == b.key && static_cast<std::int32_t>(a.timer->near.seq - b.timer->near.seq) < 0);
  }
  void place(std::size_t i, Entry e) noexcept {
    near_[i] = e;
    e.timer->near.index = static_cast<std::uint32_t>(i);
  }
  void sift_up(std::size_t i, Entry e) noexcept;
  void sift_down(std::size_t i, Entry e) noexcept;

  std::uint64_t elapsed_ = 0;  // ticks at or before this are drained into near_
  std::size_t in_wheel_ = 0;
  std::uint64_t occupied_[kLevels] = {};
  TimerLink slots_[kLevels * kSlots];
  TimerLink near_tag_;  // the `link_next` of every timer in near_
  std::vector<Entry> near_;
  std::uint32_t next_seq_ = 0;
};

}  // namespace corio
