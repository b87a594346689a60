// The reactor's timing wheel keeps the exact semantics the heap had: checked here
// against a std::multimap keyed by (deadline, insertion number), the order the reactor
// promises (never before the nanosecond deadline; equal deadlines FIFO).
#include "corio/reactor/timer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace corio {
namespace {

using std::chrono::nanoseconds;

TimePoint at_ns(std::int64_t ns) {
  return TimePoint{} + nanoseconds(ns);
}

TEST(TimerWheelTest, EqualDeadlinesFireInInsertionOrder) {
  std::vector<Timer> timers(50);
  TimerWheel wheel;
  // Armed in two rounds at different levels, so some cascade before the others arrive.
  for (std::size_t i = 0; i < 25; ++i) {
    timers[i].deadline = at_ns(5'000'000'000);
    wheel.push(timers[i]);
  }
  EXPECT_EQ(wheel.pop_due(at_ns(4'999'000'000)), nullptr);
  for (std::size_t i = 25; i < 50; ++i) {
    timers[i].deadline = at_ns(5'000'000'000);
    wheel.push(timers[i]);
  }
  for (auto& t : timers)
    EXPECT_EQ(wheel.pop_due(at_ns(5'000'000'000)), &t);
  EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheelTest, NeverFiresBeforeItsNanosecondDeadline) {
  Timer a, b;
  a.deadline = at_ns(1'000'000'007);
  b.deadline = at_ns(1'000'000'008);  // the same 65 µs tick as a
  TimerWheel wheel;
  wheel.push(b);
  wheel.push(a);
  EXPECT_EQ(wheel.pop_due(at_ns(1'000'000'006)), nullptr);
  EXPECT_EQ(wheel.pop_due(at_ns(1'000'000'007)), &a);
  EXPECT_EQ(wheel.pop_due(at_ns(1'000'000'007)), nullptr);
  EXPECT_TRUE(b.queued());
  EXPECT_EQ(wheel.pop_due(at_ns(1'000'000'008)), &b);
}

TEST(TimerWheelTest, TopGivesTheExactEarliestDeadlineWithoutFiring) {
  Timer far, near;
  far.deadline = at_ns(3'600'000'000'123);
  near.deadline = at_ns(60'000'000'456);
  TimerWheel wheel;
  wheel.push(far);
  EXPECT_EQ(wheel.top(), &far);
  wheel.push(near);  // earlier than the tick top() drained
  EXPECT_EQ(wheel.top(), &near);
  EXPECT_EQ(wheel.size(), 2u);
  EXPECT_EQ(wheel.pop_due(at_ns(60'000'000'455)), nullptr);
  EXPECT_TRUE(wheel.erase(near));
  EXPECT_FALSE(wheel.erase(near));
  EXPECT_EQ(wheel.top(), &far);
}

TEST(TimerWheelTest, DeadlinesBeforeTheEpochAndAtTheEndOfTimeAreKept) {
  Timer past, last;
  past.deadline = at_ns(-5);
  last.deadline = at_ns(std::numeric_limits<std::int64_t>::max());
  TimerWheel wheel;
  wheel.push(last);
  wheel.push(past);
  EXPECT_EQ(wheel.pop_due(at_ns(-6)), nullptr);
  EXPECT_EQ(wheel.pop_due(at_ns(0)), &past);
  EXPECT_EQ(wheel.top(), &last);
  EXPECT_EQ(wheel.pop_due(at_ns(std::numeric_limits<std::int64_t>::max())), &last);
  EXPECT_TRUE(wheel.empty());
}

// One random run: arms (past, same tick, near, far, repeated deadlines), cancels, top()
// and pop_due() at a clock moving by small and large steps, each checked against the
// reference.
void differential_run(std::uint32_t seed, std::size_t pool, int steps) {
  std::mt19937_64 rng(seed);
  std::vector<Timer> timers(pool);
  std::vector<std::int64_t> recent;  // deadlines to reuse, for ties
  std::multimap<std::pair<std::int64_t, std::uint64_t>, Timer*> ref;
  std::vector<decltype(ref)::iterator> where(pool);
  std::uint64_t seq = 0;
  std::int64_t now = std::int64_t{1} << 40;
  TimerWheel wheel;
  auto in_ref = [&](std::size_t i) { return timers[i].queued(); };

  for (int step = 0; step < steps; ++step) {
    const auto op = rng() % 100;
    const std::size_t i = rng() % pool;
    if (op < 45) {  // arm
      if (in_ref(i)) continue;
      std::int64_t d;
      const auto kind = rng() % 8;
      if (kind == 0 && !recent.empty()) {
        d = recent[rng() % recent.size()];
      } else if (kind == 1) {
        d = now - static_cast<std::int64_t>(rng() % 1'000'000);  // already due
      } else if (kind == 2) {
        d = now + static_cast<std::int64_t>(rng() % 70'000);  // this tick or the next
      } else if (kind <= 5) {
        d = now + static_cast<std::int64_t>(rng() % 50'000'000);  // within 50 ms
      } else {
        d = now + static_cast<std::int64_t>(rng() % 7'200'000'000'000);  // within 2 h
      }
      recent.push_back(d);
      if (recent.size() > 64) recent.erase(recent.begin());
      timers[i].deadline = at_ns(d);
      wheel.push(timers[i]);
      where[i] = ref.emplace(std::make_pair(d, seq++), &timers[i]);
    } else if (op < 75) {  // cancel
      const bool queued = in_ref(i);
      ASSERT_EQ(wheel.erase(timers[i]), queued);
      if (queued) ref.erase(where[i]);
    } else if (op < 80) {  // the wait's timeout
      Timer* top = wheel.top();
      ASSERT_EQ(top, ref.empty() ? nullptr : ref.begin()->second);
    } else {  // a turn: time passes, due timers come out
      const auto jump = rng() % 10;
      if (jump < 6) {
        now += static_cast<std::int64_t>(rng() % 100'000);
      } else if (jump < 9) {
        now += static_cast<std::int64_t>(rng() % 100'000'000);
      } else {
        now += static_cast<std::int64_t>(rng() % 1'000'000'000'000);
      }
      for (;;) {
        Timer* got = wheel.pop_due(at_ns(now));
        const bool due = !ref.empty() && ref.begin()->first.first <= now;
        ASSERT_EQ(got, due ? ref.begin()->second : nullptr) << "step " << step;
        if (!due) break;
        ASSERT_LE(got->deadline, at_ns(now));
        ref.erase(ref.begin());
      }
    }
    ASSERT_EQ(wheel.size(), ref.size());
  }
  // Whatever is left comes out in order when time runs to the end.
  while (!ref.empty()) {
    ASSERT_EQ(wheel.pop_due(at_ns(std::numeric_limits<std::int64_t>::max())), ref.begin()->second);
    ref.erase(ref.begin());
  }
  EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheelTest, MatchesAMultimapUnderRandomArmsCancelsAndPops) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    differential_run(seed, 64, 20000);
  }
}

TEST(TimerWheelTest, MatchesAMultimapWithManyTimersResident) {
  differential_run(99, 20000, 300000);
}

}  // namespace
}  // namespace corio
