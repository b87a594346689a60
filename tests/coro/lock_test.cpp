// Lock: FIFO hand-off, no barging, cancellation that leaves no trace, RAII guard.
#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/lock.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class LockTest : public BackendTest {};

Coro<void> worker(Lock& lock, std::vector<int>& log, int id, Duration hold) {
  return testing::hold_and_log(lock, log, id, hold);
}

TEST_P(LockTest, AcquireOfAFreeLockTakesItAndReleaseFreesIt) {
  auto main = []() -> Coro<void> {
    Lock lock;
    EXPECT_FALSE(lock.locked());
    co_await lock.acquire();
    EXPECT_TRUE(lock.locked());
    lock.release();
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

TEST_P(LockTest, ReleasingAnUnlockedLockThrowsRuntimeError) {
  Lock lock;
  EXPECT_THROW(lock.release(), RuntimeError);
  auto main = [](Lock& l) -> Coro<void> {
    co_await l.acquire();
    l.release();
    EXPECT_THROW(l.release(), RuntimeError);
  };
  run_bounded(main(lock));
}

TEST_P(LockTest, WaitersGetTheLockInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Lock lock;
    std::vector<int> log;
    std::vector<Coro<void>> cs;
    for (int i = 0; i < 6; ++i)
      cs.push_back(worker(lock, log, i, 1s));
    co_await gather(std::move(cs));
    EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 6s);  // held one at a time
}

TEST_P(LockTest, ReleaseHandsTheLockToTheOldestWaiterSoALateAcquireCannotBargeIn) {
  auto main = []() -> Coro<void> {
    Lock lock;
    std::vector<int> log;
    co_await lock.acquire();
    Task<void> a = create_task(worker(lock, log, 1, 0s));
    co_await sleep(1ms);
    EXPECT_EQ(lock.waiting(), 1u);
    lock.release();
    EXPECT_TRUE(lock.locked());  // now a's, although a has not run yet
    co_await lock.acquire();     // must queue behind a
    log.push_back(2);
    lock.release();
    co_await a;
    EXPECT_EQ(log, (std::vector<int>{1, 2}));
  };
  run_bounded(main());
}

TEST_P(LockTest, CancelledWaiterLeavesTheQueueAndTheOthersKeepTheirTurn) {
  auto main = []() -> Coro<void> {
    Lock lock;
    std::vector<int> log;
    co_await lock.acquire();
    Task<void> a = create_task(worker(lock, log, 0, 1s));
    Task<void> b = create_task(worker(lock, log, 1, 1s));
    Task<void> c = create_task(worker(lock, log, 2, 1s));
    co_await sleep(1ms);
    b.cancel();
    EXPECT_EQ(lock.waiting(), 2u);
    EXPECT_THROW(co_await b, CancelledError);
    lock.release();
    co_await a;
    co_await c;
    EXPECT_EQ(log, (std::vector<int>{0, 2}));
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

TEST_P(LockTest, WaiterHandedTheLockThenCancelledStillOwnsItAndItsReleaseFreesTheNext) {
  auto main = []() -> Coro<void> {
    Lock lock;
    std::vector<int> log;
    auto victim = [](Lock& l, std::vector<int>& lg) -> Coro<void> {
      co_await l.acquire();  // handed the lock, then cancelled before resuming
      lg.push_back(1);
      try {
        co_await sleep(1s);  // the deferred cancel lands here
        lg.push_back(99);
      } catch (const CancelledError&) {
        lg.push_back(2);
        l.release();  // its release hands the lock on: nothing lost, nothing doubled
        throw;
      }
    };
    co_await lock.acquire();
    Task<void> a = create_task(victim(lock, log));
    Task<void> b = create_task(worker(lock, log, 3, 0s));
    co_await sleep(1ms);
    lock.release();  // a is woken and owns the lock
    a.cancel();      // too late to take it back
    EXPECT_TRUE(lock.locked());
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
    EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
    EXPECT_FALSE(lock.locked());
    co_await lock.acquire();  // still usable, exactly one owner at a time
    EXPECT_TRUE(lock.locked());
    lock.release();
  };
  run_bounded(main());
}

TEST_P(LockTest, ScopedGuardReleasesWhenItGoesOutOfScope) {
  auto main = []() -> Coro<void> {
    Lock lock;
    {
      auto guard = co_await lock.scoped();
      EXPECT_TRUE(guard.owns());
      EXPECT_TRUE(lock.locked());
      auto moved = std::move(guard);
      EXPECT_FALSE(guard.owns());  // NOLINT(bugprone-use-after-move): checking the move
      EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
    auto guard = co_await lock.scoped();
    guard.release();
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

TEST_P(LockTest, ScopedGuardReleasesWhenTheOwnerIsCancelledAfterBeingHandedTheLock) {
  auto main = []() -> Coro<void> {
    Lock lock;
    std::vector<int> log;
    auto victim = [](Lock& l, std::vector<int>& lg) -> Coro<void> {
      auto guard = co_await l.scoped();
      lg.push_back(1);
      co_await sleep(1s);  // raises the deferred cancel; the guard releases
      lg.push_back(99);
    };
    co_await lock.acquire();
    Task<void> a = create_task(victim(lock, log));
    Task<void> b = create_task(worker(lock, log, 2, 0s));
    co_await sleep(1ms);
    lock.release();
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
    EXPECT_EQ(log, (std::vector<int>{1, 2}));
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

TEST_P(LockTest, ScopedWaiterCancelledWhileQueuedGetsNoGuard) {
  auto main = []() -> Coro<void> {
    Lock lock;
    auto victim = [](Lock& l) -> Coro<void> { auto guard = co_await l.scoped(); };
    co_await lock.acquire();
    Task<void> a = create_task(victim(lock));
    co_await sleep(1ms);
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    EXPECT_TRUE(lock.locked());  // still ours: the cancelled waiter released nothing
    lock.release();
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

TEST_P(LockTest, AThousandContendersRunOneAtATimeInOrder) {
  auto main = []() -> Coro<void> {
    Lock lock;
    std::vector<int> log;
    int inside = 0;
    auto contender = [](Lock& l, std::vector<int>& lg, int& in, int id) -> Coro<void> {
      auto guard = co_await l.scoped();
      EXPECT_EQ(++in, 1);
      co_await sleep(0s);  // let everyone else try to get in
      lg.push_back(id);
      --in;
    };
    std::vector<Coro<void>> cs;
    for (int i = 0; i < 1000; ++i)
      cs.push_back(contender(lock, log, inside, i));
    co_await gather(std::move(cs));
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(log, expected);
    EXPECT_FALSE(lock.locked());
  };
  run_bounded(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(LockTest);

}  // namespace
}  // namespace corio
