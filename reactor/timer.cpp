#include "corio/reactor/timer.hpp"

#include <bit>

namespace corio {

TimerWheel::TimerWheel() noexcept {
  for (TimerLink& s : slots_)
    s.link_next = s.link_prev = &s;
}

void TimerWheel::push(Timer& t) {
  const std::uint64_t tick = tick_of(t.deadline);
  if (tick <= elapsed_) {
    near_push(t);
  } else {
    wheel_insert(t, tick);
  }
}

// The level is the highest 6-bit group in which the tick differs from elapsed_, as in
// Tokio: a timer sits at that level until time enters its slot, then moves down. Slots
// are FIFO lists, and a drained slot's timers move in list order into lower levels that
// are empty at that moment (lower levels are drained first), so every list stays in
// insertion order, which is what lets the near heap number them FIFO when they arrive.
void TimerWheel::wheel_insert(Timer& t, std::uint64_t tick) noexcept {
  const int level = (63 - std::countl_zero(tick ^ elapsed_)) / kBits;
  const auto slot = static_cast<int>((tick >> (level * kBits)) & (kSlots - 1));
  TimerLink& head = slots_[level * kSlots + slot];
  t.link_next = &head;
  t.link_prev = head.link_prev;
  head.link_prev->link_next = &t;
  head.link_prev = &t;
  occupied_[level] |= std::uint64_t{1} << slot;
  ++in_wheel_;
}

bool TimerWheel::erase(Timer& t) noexcept {
  if (t.link_next == nullptr) return false;
  if (t.link_next == &near_tag_) {
    near_remove(t.near.index);
    return true;
  }
  TimerLink* const prev = t.link_prev;
  TimerLink* const next = t.link_next;
  prev->link_next = next;
  next->link_prev = prev;
  // In a circular list with a sentinel, neighbours that are one node means that node is
  // the sentinel and the slot is now empty: its address names level and slot, so cancel
  // never recomputes where the timer was filed.
  if (prev == next) {
    const auto i = static_cast<std::size_t>(static_cast<TimerLink*>(prev) - slots_);
    occupied_[i / kSlots] &= ~(std::uint64_t{1} << (i % kSlots));
  }
  t.link_next = nullptr;
  --in_wheel_;
  return true;
}

// Drains the earliest occupied slot if it starts at or before tick `limit`: elapsed_
// moves to the slot's start and each timer re-files relative to it, into the near heap
// once its own tick is reached. The lowest non-empty level holds the earliest timers
// (a level-L timer shares every group above L with elapsed_, a level-L+1 one does not),
// and within a level no occupied slot lies before elapsed_'s, so the lowest set bit of
// that level's mask is the next slot: no rotation, since no level wraps.
bool TimerWheel::drain_next(std::uint64_t limit) noexcept {
  int level = 0;
  while (level < kLevels && occupied_[level] == 0)
    ++level;
  if (level == kLevels) return false;
  const int slot = std::countr_zero(occupied_[level]);
  const int above = (level + 1) * kBits;
  const std::uint64_t block = above >= 64 ? 0 : (elapsed_ >> above) << above;
  const std::uint64_t start = block | (static_cast<std::uint64_t>(slot) << (level * kBits));
  if (start > limit) return false;

  TimerLink& head = slots_[level * kSlots + slot];
  TimerLink* node = head.link_next;
  TimerLink* const last = head.link_prev;
  head.link_next = head.link_prev = &head;
  occupied_[level] &= ~(std::uint64_t{1} << slot);
  elapsed_ = start;
  for (;;) {
    TimerLink* const following = node->link_next;
    auto& t = static_cast<Timer&>(*node);
    --in_wheel_;
    push(t);
    if (node == last) break;
    node = following;
  }
  return true;
}

Timer* TimerWheel::top() {
  while (near_.empty()) {
    if (!drain_next(UINT64_MAX)) return nullptr;
  }
  return near_[0].timer;
}

Timer* TimerWheel::pop_due(TimePoint now) {
  const std::int64_t now_ns = now.time_since_epoch().count();
  while (near_.empty()) {
    const std::uint64_t now_tick = tick_of(now);
    if (!drain_next(now_tick)) {
      // Nothing is filed at or before now: let elapsed_ catch up, so timers armed from
      // here on land at low levels and cascade fewer times (Tokio does the same).
      if (now_tick > elapsed_) elapsed_ = now_tick;
      return nullptr;
    }
  }
  if (near_[0].key > now_ns) return nullptr;
  Timer* t = near_[0].timer;
  near_remove(0);
  return t;
}

void TimerWheel::near_push(Timer& t) {
  t.link_next = &near_tag_;
  t.near.seq = next_seq_++;
  near_.push_back(Entry{t.deadline.time_since_epoch().count(), &t});
  sift_up(near_.size() - 1, near_.back());
}

void TimerWheel::near_remove(std::size_t i) noexcept {
  near_[i].timer->link_next = nullptr;
  const Entry last = near_.back();
  near_.pop_back();
  if (i == near_.size()) return;
  if (i > 0 && less(last, near_[(i - 1) / 4])) {
    sift_up(i, last);
  } else {
    sift_down(i, last);
  }
}

void TimerWheel::sift_up(std::size_t i, Entry e) noexcept {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (!less(e, near_[parent])) break;
    place(i, near_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerWheel::sift_down(std::size_t i, Entry e) noexcept {
  const std::size_t n = near_.size();
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t end = first + 4 < n ? first + 4 : n;
    for (std::size_t c = first + 1; c < end; ++c) {
      if (less(near_[c], near_[best])) best = c;
    }
    if (!less(near_[best], e)) break;
    place(i, near_[best]);
    i = best;
  }
  place(i, e);
}

}  // namespace corio
