// Event: set() wakes every waiter, FIFO; cancellation removes a waiter only.
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/event.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class EventTest : public BackendTest {};

Coro<void> waiter(Event& ev, std::vector<int>& log, int id) {
  co_await ev.wait();
  log.push_back(id);
}

TEST_P(EventTest, StartsClearedAndSetAndClearToggleTheFlag) {
  Event ev;
  EXPECT_FALSE(ev.is_set());
  ev.set();
  EXPECT_TRUE(ev.is_set());
  ev.set();  // idempotent
  EXPECT_TRUE(ev.is_set());
  ev.clear();
  EXPECT_FALSE(ev.is_set());
}

TEST_P(EventTest, WaitReturnsAtOnceWithoutYieldingWhenSet) {
  auto main = []() -> Coro<void> {
    Event ev;
    ev.set();
    std::vector<int> log;
    Task<void> other = create_task(waiter(ev, log, 1));
    co_await ev.wait();
    EXPECT_TRUE(log.empty());  // the other task has not had a turn yet
    co_await other;
    EXPECT_EQ(log, (std::vector<int>{1}));
  };
  run_bounded(main());
}

TEST_P(EventTest, WaitSuspendsUntilSet) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Event ev;
    auto setter = [](Event& e) -> Coro<void> {
      co_await sleep(3s);
      e.set();
    };
    spawn(setter(ev));
    co_await ev.wait();
    EXPECT_EQ(clock.now() - TimePoint{}, 3s);
  };
  run_bounded(main(clock_));
}

TEST_P(EventTest, SetWakesEveryWaiterInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Event ev;
    std::vector<int> log;
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 5; ++i)
      tasks.push_back(create_task(waiter(ev, log, i)));
    co_await sleep(1ms);
    EXPECT_EQ(ev.waiting(), 5u);
    EXPECT_TRUE(log.empty());
    ev.set();
    EXPECT_EQ(ev.waiting(), 0u);
    for (auto& t : tasks)
      co_await t;
    EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4}));
  };
  run_bounded(main());
}

TEST_P(EventTest, ClearRightAfterSetStillReleasesTheWokenWaiters) {
  auto main = []() -> Coro<void> {
    Event ev;
    std::vector<int> log;
    Task<void> a = create_task(waiter(ev, log, 0));
    Task<void> b = create_task(waiter(ev, log, 1));
    co_await sleep(1ms);
    ev.set();
    ev.clear();
    co_await a;
    co_await b;
    EXPECT_EQ(log, (std::vector<int>{0, 1}));
  };
  run_bounded(main());
}

TEST_P(EventTest, WaitAfterClearSuspendsAgain) {
  auto main = []() -> Coro<void> {
    Event ev;
    ev.set();
    ev.clear();
    std::vector<int> log;
    Task<void> t = create_task(waiter(ev, log, 0));
    co_await sleep(1s);
    EXPECT_FALSE(t.done());
    EXPECT_EQ(ev.waiting(), 1u);
    ev.set();
    co_await t;
    EXPECT_EQ(log, (std::vector<int>{0}));
  };
  run_bounded(main());
}

TEST_P(EventTest, CancelledWaiterLeavesTheQueueAndTheOthersStillWake) {
  auto main = []() -> Coro<void> {
    Event ev;
    std::vector<int> log;
    Task<void> a = create_task(waiter(ev, log, 0));
    Task<void> b = create_task(waiter(ev, log, 1));
    Task<void> c = create_task(waiter(ev, log, 2));
    co_await sleep(1ms);
    b.cancel();
    EXPECT_EQ(ev.waiting(), 2u);  // removed at once, not when it next runs
    EXPECT_THROW(co_await b, CancelledError);
    EXPECT_TRUE(b.cancelled());
    ev.set();
    co_await a;
    co_await c;
    EXPECT_EQ(log, (std::vector<int>{0, 2}));
  };
  run_bounded(main());
}

TEST_P(EventTest, WaiterWokenThenCancelledReturnsAndRaisesAtItsNextAwait) {
  auto main = []() -> Coro<void> {
    Event ev;
    std::vector<int> log;
    auto body = [](Event& e, std::vector<int>& l) -> Coro<void> {
      co_await e.wait();
      l.push_back(1);  // the wake-up was granted before the cancel
      co_await sleep(1s);
      l.push_back(2);  // never reached
    };
    Task<void> t = create_task(body(ev, log));
    co_await sleep(1ms);
    ev.set();
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_EQ(log, (std::vector<int>{1}));
  };
  run_bounded(main());
}

TEST_P(EventTest, AThousandWaitersAllWakeInOrder) {
  auto main = []() -> Coro<void> {
    Event ev;
    std::vector<int> log;
    std::vector<Coro<void>> cs;
    for (int i = 0; i < 1000; ++i)
      cs.push_back(waiter(ev, log, i));
    auto setter = [](Event& e) -> Coro<void> {
      co_await sleep(1s);
      EXPECT_EQ(e.waiting(), 1000u);
      e.set();
    };
    spawn(setter(ev));
    co_await gather(std::move(cs));
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(log, expected);
  };
  run_bounded(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(EventTest);

}  // namespace
}  // namespace corio
