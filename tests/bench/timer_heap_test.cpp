// The heap the reactor used before the wheel, kept as the benchmarks' baseline.
#include "bench/timer_heap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace bench {
namespace {

using std::chrono::milliseconds;

TimePoint at(int ms) {
  return TimePoint{} + milliseconds(ms);
}

TEST(TimerHeapTest, PopsTimersInDeadlineOrder) {
  std::vector<HeapTimer> timers(5);
  int deadlines[] = {50, 10, 40, 20, 30};
  TimerHeap heap;
  for (int i = 0; i < 5; ++i) {
    timers[i].deadline = at(deadlines[i]);
    heap.push(timers[i]);
  }
  std::vector<int> order;
  while (HeapTimer* t = heap.pop_due(at(1000))) {
    order.push_back(static_cast<int>(
        std::chrono::duration_cast<milliseconds>(t->deadline.time_since_epoch()).count()));
  }
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30, 40, 50}));
}

TEST(TimerHeapTest, EqualDeadlinesFireInInsertionOrder) {
  std::vector<HeapTimer> timers(20);
  TimerHeap heap;
  for (auto& t : timers) {
    t.deadline = at(7);
    heap.push(t);
  }
  for (auto& t : timers)
    EXPECT_EQ(heap.pop_due(at(7)), &t);
}

TEST(TimerHeapTest, PopDueLeavesFutureTimersQueued) {
  HeapTimer early, late;
  early.deadline = at(5);
  late.deadline = at(15);
  TimerHeap heap;
  heap.push(late);
  heap.push(early);
  EXPECT_EQ(heap.pop_due(at(10)), &early);
  EXPECT_EQ(heap.pop_due(at(10)), nullptr);
  EXPECT_TRUE(late.queued());
  EXPECT_FALSE(early.queued());
}

TEST(TimerHeapTest, EraseRemovesOnlyThatTimerAndReportsWhetherItWasQueued) {
  std::vector<HeapTimer> timers(10);
  TimerHeap heap;
  for (int i = 0; i < 10; ++i) {
    timers[i].deadline = at(i);
    heap.push(timers[i]);
  }
  EXPECT_TRUE(heap.erase(timers[3]));
  EXPECT_FALSE(heap.erase(timers[3]));
  EXPECT_TRUE(heap.erase(timers[0]));
  EXPECT_EQ(heap.size(), 8u);
  std::vector<HeapTimer*> popped;
  while (HeapTimer* t = heap.pop_due(at(100)))
    popped.push_back(t);
  ASSERT_EQ(popped.size(), 8u);
  EXPECT_EQ(std::count(popped.begin(), popped.end(), &timers[3]), 0);
  EXPECT_EQ(popped.front(), &timers[1]);
}

TEST(TimerHeapTest, RandomInsertsAndCancelsKeepHeapOrder) {
  std::mt19937 rng(12345);
  constexpr int kCount = 20000;
  std::vector<HeapTimer> timers(kCount);
  std::vector<bool> cancelled(kCount, false);
  TimerHeap heap;
  for (int i = 0; i < kCount; ++i) {
    timers[i].deadline = at(static_cast<int>(rng() % 5000));
    heap.push(timers[i]);
  }
  for (int i = 0; i < kCount / 2; ++i) {
    int k = static_cast<int>(rng() % kCount);
    if (heap.erase(timers[k])) cancelled[k] = true;
  }
  TimePoint last{};
  std::size_t n = 0;
  while (HeapTimer* t = heap.pop_due(at(10000))) {
    EXPECT_GE(t->deadline, last);
    last = t->deadline;
    EXPECT_FALSE(cancelled[static_cast<std::size_t>(t - timers.data())]);
    ++n;
  }
  EXPECT_EQ(n + static_cast<std::size_t>(std::count(cancelled.begin(), cancelled.end(), true)),
            static_cast<std::size_t>(kCount));
}

}  // namespace
}  // namespace bench
