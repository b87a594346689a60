// Barrier: arrival indices, rounds, abort, reset, cancellation of a waiting party.
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/barrier.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class BarrierTest : public BackendTest {};

// Arrives after `delay`; returns the index the barrier gave.
Coro<std::size_t> party(Barrier& b, Duration delay) {
  co_await sleep(delay);
  co_return co_await b.wait();
}

// Arrives, and logs whether the barrier broke (-1) or passed (its index).
Coro<void> logging_party(Barrier& b, std::vector<int>& log) {
  try {
    log.push_back(static_cast<int>(co_await b.wait()));
  } catch (const BrokenBarrierError&) {
    log.push_back(-1);
  }
}

TEST_P(BarrierTest, ZeroPartiesIsRejected) {
  EXPECT_THROW(Barrier(0), std::invalid_argument);
  Barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
}

TEST_P(BarrierTest, PartiesWaitForTheLastOneAndGetTheirArrivalIndex) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Barrier b(3);
    auto [x, y, z] = co_await gather(party(b, 3s), party(b, 1s), party(b, 2s));
    EXPECT_EQ(x, 2u);  // arrived last
    EXPECT_EQ(y, 0u);
    EXPECT_EQ(z, 1u);
    EXPECT_EQ(clock.now() - TimePoint{}, 3s);
    EXPECT_EQ(b.n_waiting(), 0u);
  };
  run_bounded(main(clock_));
}

TEST_P(BarrierTest, NWaitingCountsTheTasksInTheCurrentRound) {
  auto main = []() -> Coro<void> {
    Barrier b(3);
    Task<std::size_t> t1 = create_task(party(b, 0s));
    Task<std::size_t> t2 = create_task(party(b, 0s));
    co_await sleep(1ms);
    EXPECT_EQ(b.n_waiting(), 2u);
    EXPECT_FALSE(t1.done());
    EXPECT_EQ(co_await b.wait(), 2u);  // the last party does not suspend
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_EQ(co_await t1, 0u);
    EXPECT_EQ(co_await t2, 1u);
  };
  run_bounded(main());
}

TEST_P(BarrierTest, TheBarrierRefillsForTheNextRound) {
  auto main = []() -> Coro<void> {
    Barrier b(2);
    auto looper = [](Barrier& bar, std::vector<std::size_t>& out, Duration d) -> Coro<void> {
      for (int round = 0; round < 3; ++round) {
        co_await sleep(d);
        out.push_back(co_await bar.wait());
      }
    };
    std::vector<std::size_t> fast;
    std::vector<std::size_t> slow;
    co_await gather(looper(b, fast, 1s), looper(b, slow, 2s));
    EXPECT_EQ(fast, (std::vector<std::size_t>{0, 0, 0}));
    EXPECT_EQ(slow, (std::vector<std::size_t>{1, 1, 1}));
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 6s);
}

TEST_P(BarrierTest, SinglePartyBarrierNeverWaits) {
  auto main = []() -> Coro<void> {
    Barrier b(1);
    EXPECT_EQ(co_await b.wait(), 0u);
    EXPECT_EQ(co_await b.wait(), 0u);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 0s);
}

TEST_P(BarrierTest, AbortBreaksCurrentAndFutureWaitersUntilReset) {
  auto main = []() -> Coro<void> {
    Barrier b(3);
    std::vector<int> log;
    Task<void> a = create_task(logging_party(b, log));
    Task<void> c = create_task(logging_party(b, log));
    co_await sleep(1ms);
    b.abort();
    EXPECT_TRUE(b.broken());
    EXPECT_EQ(b.n_waiting(), 0u);
    co_await a;
    co_await c;
    EXPECT_EQ(log, (std::vector<int>{-1, -1}));
    EXPECT_THROW(co_await b.wait(), BrokenBarrierError);  // future callers too
    b.reset();
    EXPECT_FALSE(b.broken());
    Task<void> d = create_task(logging_party(b, log));
    Task<void> e = create_task(logging_party(b, log));
    co_await sleep(1ms);
    EXPECT_EQ(co_await b.wait(), 2u);
    co_await d;
    co_await e;
    EXPECT_EQ(log, (std::vector<int>{-1, -1, 0, 1}));
  };
  run_bounded(main());
}

TEST_P(BarrierTest, ResetBreaksTheCurrentWaitersAndLeavesTheBarrierUsable) {
  auto main = []() -> Coro<void> {
    Barrier b(2);
    std::vector<int> log;
    Task<void> a = create_task(logging_party(b, log));
    co_await sleep(1ms);
    b.reset();
    EXPECT_FALSE(b.broken());
    co_await a;
    EXPECT_EQ(log, (std::vector<int>{-1}));
    Task<void> c = create_task(logging_party(b, log));
    co_await sleep(1ms);
    EXPECT_EQ(b.n_waiting(), 1u);  // a does not count in the new round
    EXPECT_EQ(co_await b.wait(), 1u);
    co_await c;
    EXPECT_EQ(log, (std::vector<int>{-1, 0}));
  };
  run_bounded(main());
}

TEST_P(BarrierTest, BrokenBarrierErrorIsARuntimeError) {
  Barrier b(2);
  b.abort();
  auto main = [](Barrier& bar) -> Coro<void> { EXPECT_THROW(co_await bar.wait(), RuntimeError); };
  run_bounded(main(b));
}

TEST_P(BarrierTest, CancelledWaiterLeavesTheRoundAndIsNotCounted) {
  auto main = []() -> Coro<void> {
    Barrier b(3);
    std::vector<int> log;
    Task<void> a = create_task(logging_party(b, log));
    Task<void> c = create_task(logging_party(b, log));
    co_await sleep(1ms);
    a.cancel();
    EXPECT_EQ(b.n_waiting(), 1u);
    EXPECT_THROW(co_await a, CancelledError);
    EXPECT_FALSE(b.broken());  // unlike threading.Barrier, a cancel breaks nothing
    Task<void> d = create_task(logging_party(b, log));
    co_await sleep(1ms);
    EXPECT_FALSE(c.done());  // still one party short
    EXPECT_EQ(co_await b.wait(), 2u);
    co_await c;
    co_await d;
    EXPECT_EQ(log, (std::vector<int>{0, 1}));  // indices stay unique
  };
  run_bounded(main());
}

TEST_P(BarrierTest, WaiterReleasedThenCancelledKeepsItsIndexAndRaisesAtItsNextAwait) {
  auto main = []() -> Coro<void> {
    Barrier b(2);
    std::vector<int> log;
    auto victim = [](Barrier& bar, std::vector<int>& lg) -> Coro<void> {
      lg.push_back(static_cast<int>(co_await bar.wait()));
      co_await sleep(1s);
      lg.push_back(99);
    };
    Task<void> v = create_task(victim(b, log));
    co_await sleep(1ms);
    EXPECT_EQ(co_await b.wait(), 1u);  // releases v
    v.cancel();
    EXPECT_THROW(co_await v, CancelledError);
    EXPECT_EQ(log, (std::vector<int>{0}));
  };
  run_bounded(main());
}

TEST_P(BarrierTest, AThousandPartiesEachGetADistinctIndexInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Barrier b(1000);
    std::vector<Coro<std::size_t>> cs;
    for (int i = 0; i < 1000; ++i)
      cs.push_back(party(b, std::chrono::milliseconds(i)));
    std::vector<std::size_t> got = co_await gather(std::move(cs));
    std::vector<std::size_t> expected(1000);
    std::iota(expected.begin(), expected.end(), std::size_t{0});
    EXPECT_EQ(got, expected);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 999ms);
}

CORIO_INSTANTIATE_BACKEND_SUITE(BarrierTest);

}  // namespace
}  // namespace corio
