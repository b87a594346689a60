// Condition: wait releases and re-acquires the lock, FIFO notify, cancellation.
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/condition.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class ConditionTest : public BackendTest {};

// Waits for one notification with the lock held, then logs `id`.
Coro<void> waiter(Condition& c, std::vector<int>& log, int id) {
  auto guard = co_await c.scoped();
  co_await c.wait();
  EXPECT_TRUE(c.locked());
  log.push_back(id);
}

// Takes the lock, notifies `n` waiters, releases.
Coro<void> notify_locked(Condition& c, std::size_t n) {
  auto guard = co_await c.scoped();
  c.notify(n);
}

TEST_P(ConditionTest, DefaultConstructedConditionUsesItsOwnLockAndAGivenOneOtherwise) {
  auto main = []() -> Coro<void> {
    Condition own;
    Lock lock;
    Condition shared(lock);
    EXPECT_EQ(&shared.lock(), &lock);
    co_await shared.acquire();
    EXPECT_TRUE(lock.locked());
    EXPECT_FALSE(own.locked());
    shared.release();
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

TEST_P(ConditionTest, WaitWithoutTheLockThrowsRuntimeError) {
  auto main = []() -> Coro<void> {
    Condition cond;
    EXPECT_THROW(co_await cond.wait(), RuntimeError);
    EXPECT_FALSE(cond.locked());
  };
  run_bounded(main());
}

TEST_P(ConditionTest, WaitWhileAnotherTaskHoldsTheLockThrowsRuntimeErrorAndKeepsTheirLock) {
  auto main = []() -> Coro<void> {
    Condition cond;
    auto holder = [](Condition& c) -> Coro<void> {
      auto guard = co_await c.scoped();
      co_await sleep(1s);
    };
    Task<void> h = create_task(holder(cond));
    co_await sleep(1ms);
    EXPECT_THROW(co_await cond.wait(), RuntimeError);
    EXPECT_TRUE(cond.locked());  // not released on the holder's behalf
    co_await h;
  };
  run_bounded(main());
}

TEST_P(ConditionTest, NotifyWithoutTheLockThrowsRuntimeError) {
  Condition cond;
  EXPECT_THROW(cond.notify(), RuntimeError);
  EXPECT_THROW(cond.notify_all(), RuntimeError);
}

TEST_P(ConditionTest, WaitReleasesTheLockUntilNotifiedAndHoldsItAgainOnReturn) {
  auto main = []() -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    Task<void> w = create_task(waiter(cond, log, 7));
    co_await sleep(1ms);
    EXPECT_FALSE(cond.locked());  // released by wait()
    EXPECT_EQ(cond.waiting(), 1u);
    co_await notify_locked(cond, 1);
    co_await w;
    EXPECT_EQ(log, (std::vector<int>{7}));
    EXPECT_FALSE(cond.locked());
  };
  run_bounded(main());
}

TEST_P(ConditionTest, NotifiedWaiterResumesOnlyAfterTheNotifierReleasesTheLock) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    Task<void> w = create_task(waiter(cond, log, 1));
    co_await sleep(1ms);
    co_await cond.acquire();
    cond.notify();
    co_await sleep(1s);
    EXPECT_TRUE(log.empty());  // woken, but blocked on the lock
    cond.release();
    co_await w;
    EXPECT_EQ(log, (std::vector<int>{1}));
    EXPECT_EQ(clock.now() - TimePoint{}, 1001ms);
  };
  run_bounded(main(clock_));
}

TEST_P(ConditionTest, NotifyWakesWaitersOneAtATimeInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    std::vector<Task<void>> ws;
    for (int i = 0; i < 4; ++i)
      ws.push_back(create_task(waiter(cond, log, i)));
    co_await sleep(1ms);
    co_await notify_locked(cond, 1);
    co_await sleep(1ms);
    EXPECT_EQ(log, (std::vector<int>{0}));
    co_await notify_locked(cond, 2);
    co_await sleep(1ms);
    EXPECT_EQ(log, (std::vector<int>{0, 1, 2}));
    co_await notify_locked(cond, 5);  // more than are waiting: wakes the rest
    for (auto& w : ws)
      co_await w;
    EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3}));
  };
  run_bounded(main());
}

TEST_P(ConditionTest, NotifyAllWakesEveryWaiterInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    std::vector<Coro<void>> ws;
    for (int i = 0; i < 1000; ++i)
      ws.push_back(waiter(cond, log, i));
    auto notifier = [](Condition& c) -> Coro<void> {
      co_await sleep(1s);
      EXPECT_EQ(c.waiting(), 1000u);
      auto guard = co_await c.scoped();
      c.notify_all();
      EXPECT_EQ(c.waiting(), 0u);
    };
    spawn(notifier(cond));
    co_await gather(std::move(ws));
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(log, expected);
  };
  run_bounded(main());
}

TEST_P(ConditionTest, WaitForChecksThePredicateFirstAndAfterEachWakeUp) {
  auto main = []() -> Coro<void> {
    Condition cond;
    int counter = 0;
    int checks = 0;
    auto producer = [](Condition& c, int& n) -> Coro<void> {
      for (int i = 0; i < 5; ++i) {
        co_await sleep(1s);
        auto guard = co_await c.scoped();
        ++n;
        c.notify_all();
      }
    };
    Task<void> p = create_task(producer(cond, counter));
    auto guard = co_await cond.scoped();
    int got = co_await cond.wait_for([&] {
      ++checks;
      return counter >= 3 ? counter : 0;
    });
    EXPECT_EQ(got, 3);
    EXPECT_EQ(checks, 4);  // once up front, once per notification
    EXPECT_TRUE(cond.locked());
    bool immediate = co_await cond.wait_for([] { return true; });
    EXPECT_TRUE(immediate);
    guard.release();
    co_await p;
  };
  run_bounded(main());
}

TEST_P(ConditionTest, CancelledWaiterReacquiresTheLockBeforeCancelledErrorPropagates) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Condition cond;
    bool held_when_raised = false;
    Duration raised_at{};
    auto victim = [](Condition& c, bool& held, Duration& at, ManualClock& ck) -> Coro<void> {
      auto guard = co_await c.scoped();
      try {
        co_await c.wait();
      } catch (const CancelledError&) {
        held = c.locked();
        at = ck.now() - TimePoint{};
        throw;
      }
    };
    Task<void> v = create_task(victim(cond, held_when_raised, raised_at, clock));
    co_await sleep(1ms);
    co_await cond.acquire();
    v.cancel();
    co_await sleep(1s);  // the victim cannot finish while we hold the lock
    EXPECT_FALSE(v.done());
    cond.release();
    EXPECT_THROW(co_await v, CancelledError);
    EXPECT_TRUE(held_when_raised);
    EXPECT_EQ(raised_at, 1001ms);
    EXPECT_FALSE(cond.locked());  // the victim's guard released it
    EXPECT_EQ(cond.waiting(), 0u);
  };
  run_bounded(main(clock_));
}

TEST_P(ConditionTest, CancelledWaiterDoesNotTakeANotificationFromTheOthers) {
  auto main = []() -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    Task<void> a = create_task(waiter(cond, log, 0));
    Task<void> b = create_task(waiter(cond, log, 1));
    co_await sleep(1ms);
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    EXPECT_EQ(cond.waiting(), 1u);
    co_await notify_locked(cond, 1);
    co_await b;
    EXPECT_EQ(log, (std::vector<int>{1}));
  };
  run_bounded(main());
}

TEST_P(ConditionTest, NotifiedWaiterCancelledWhileTheLockIsHeldPassesTheNotificationOn) {
  auto main = []() -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    Task<void> a = create_task(waiter(cond, log, 0));
    Task<void> b = create_task(waiter(cond, log, 1));
    co_await sleep(1ms);
    co_await cond.acquire();
    cond.notify(1);  // a is notified...
    a.cancel();      // ...and cancelled before it could re-acquire the lock
    co_await sleep(1ms);
    cond.release();
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;  // would hang if a had swallowed the notification
    EXPECT_EQ(log, (std::vector<int>{1}));
    EXPECT_FALSE(cond.locked());
  };
  run_bounded(main());
}

TEST_P(ConditionTest, NotifiedWaiterCancelledOnceTheLockIsFreeReturnsAndRaisesAtItsNextAwait) {
  auto main = []() -> Coro<void> {
    Condition cond;
    std::vector<int> log;
    auto victim = [](Condition& c, std::vector<int>& lg) -> Coro<void> {
      auto guard = co_await c.scoped();
      co_await c.wait();  // notified and re-acquired: granted before the cancel
      lg.push_back(1);
      co_await sleep(1s);
      lg.push_back(99);
    };
    Task<void> a = create_task(victim(cond, log));
    co_await sleep(1ms);
    co_await notify_locked(cond, 1);
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    EXPECT_EQ(log, (std::vector<int>{1}));
    EXPECT_FALSE(cond.locked());
  };
  run_bounded(main());
}

TEST_P(ConditionTest, TwoConditionsCanShareOneLock) {
  auto main = []() -> Coro<void> {
    Lock lock;
    Condition not_empty(lock);
    Condition not_full(lock);
    std::vector<int> items;
    std::vector<int> consumed;
    auto producer = [](Condition& ne, Condition& nf, std::vector<int>& q) -> Coro<void> {
      for (int i = 0; i < 20; ++i) {
        auto guard = co_await nf.scoped();
        co_await nf.wait_for([&] { return q.size() < 2; });
        q.push_back(i);
        ne.notify();
      }
    };
    auto consumer = [](Condition& ne, Condition& nf, std::vector<int>& q,
                       std::vector<int>& out) -> Coro<void> {
      for (int i = 0; i < 20; ++i) {
        auto guard = co_await ne.scoped();
        co_await ne.wait_for([&] { return !q.empty(); });
        out.push_back(q.front());
        q.erase(q.begin());
        nf.notify();
        guard.release();
        co_await sleep(1ms);
      }
    };
    co_await gather(producer(not_empty, not_full, items),
                    consumer(not_empty, not_full, items, consumed));
    std::vector<int> expected(20);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(consumed, expected);
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(ConditionTest);

}  // namespace
}  // namespace corio
