// Semaphore and BoundedSemaphore: permits, FIFO hand-off, cancellation, over-release.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/semaphore.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class SemaphoreTest : public BackendTest {};

Coro<void> worker(Semaphore& sem, std::vector<int>& log, int id, Duration hold) {
  return testing::hold_and_log(sem, log, id, hold);
}

TEST_P(SemaphoreTest, NegativeInitialValueIsRejected) {
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
  EXPECT_THROW(BoundedSemaphore(-1), std::invalid_argument);
  EXPECT_NO_THROW(Semaphore(0));
}

TEST_P(SemaphoreTest, AcquireTakesFreePermitsWithoutWaitingUntilNoneAreLeft) {
  auto main = []() -> Coro<void> {
    Semaphore sem(2);
    EXPECT_EQ(sem.value(), 2);
    EXPECT_FALSE(sem.locked());
    co_await sem.acquire();
    co_await sem.acquire();
    EXPECT_EQ(sem.value(), 0);
    EXPECT_TRUE(sem.locked());
    sem.release();
    EXPECT_EQ(sem.value(), 1);
    EXPECT_FALSE(sem.locked());
    sem.release();
    sem.release();  // a plain Semaphore may go above its start value
    EXPECT_EQ(sem.value(), 3);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 0s);
}

TEST_P(SemaphoreTest, AtMostValueTasksHoldAPermitAtOnceAndWaitersGoInArrivalOrder) {
  auto main = []() -> Coro<void> {
    Semaphore sem(2);
    std::vector<int> log;
    std::vector<Coro<void>> cs;
    for (int i = 0; i < 6; ++i)
      cs.push_back(worker(sem, log, i, 1s));
    co_await gather(std::move(cs));
    EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(sem.value(), 2);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 3s);  // two at a time
}

TEST_P(SemaphoreTest, ReleaseHandsThePermitToTheOldestWaiterSoALateAcquireCannotBargeIn) {
  auto main = []() -> Coro<void> {
    Semaphore sem(0);
    std::vector<int> log;
    Task<void> a = create_task(worker(sem, log, 1, 0s));
    co_await sleep(1ms);
    sem.release();
    EXPECT_EQ(sem.value(), 0);  // the permit went to a, not to the counter
    EXPECT_TRUE(sem.locked());
    co_await sem.acquire();  // a returns its permit, then we get it
    log.push_back(2);
    co_await a;
    EXPECT_EQ(log, (std::vector<int>{1, 2}));
    EXPECT_EQ(sem.value(), 0);
  };
  run_bounded(main());
}

TEST_P(SemaphoreTest, CancelledWaiterLeavesTheQueueAndTakesNoPermit) {
  auto main = []() -> Coro<void> {
    Semaphore sem(0);
    std::vector<int> log;
    Task<void> a = create_task(worker(sem, log, 0, 0s));
    Task<void> b = create_task(worker(sem, log, 1, 0s));
    Task<void> c = create_task(worker(sem, log, 2, 0s));
    co_await sleep(1ms);
    b.cancel();
    EXPECT_EQ(sem.waiting(), 2u);
    EXPECT_THROW(co_await b, CancelledError);
    sem.release();
    co_await a;
    co_await c;
    EXPECT_EQ(log, (std::vector<int>{0, 2}));
    EXPECT_EQ(sem.value(), 1);  // the one permit released, back after two users
  };
  run_bounded(main());
}

TEST_P(SemaphoreTest, WaiterHandedAPermitThenCancelledKeepsItSoNoPermitIsLostOrDoubled) {
  auto main = []() -> Coro<void> {
    Semaphore sem(0);
    std::vector<int> log;
    auto victim = [](Semaphore& s, std::vector<int>& lg) -> Coro<void> {
      auto guard = co_await s.scoped();  // handed a permit, then cancelled
      lg.push_back(1);
      co_await sleep(1s);  // the deferred cancel lands here; the guard gives it back
      lg.push_back(99);
    };
    Task<void> a = create_task(victim(sem, log));
    Task<void> b = create_task(worker(sem, log, 2, 0s));
    Task<void> c = create_task(worker(sem, log, 3, 0s));
    co_await sleep(1ms);
    sem.release();  // exactly one permit exists
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    co_await b;
    co_await c;
    EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(sem.value(), 1);
  };
  run_bounded(main());
}

TEST_P(SemaphoreTest, BoundedSemaphoreRejectsAReleaseAboveItsInitialValue) {
  auto main = []() -> Coro<void> {
    BoundedSemaphore sem(2);
    EXPECT_THROW(sem.release(), std::invalid_argument);
    co_await sem.acquire();
    sem.release();
    EXPECT_THROW(sem.release(), std::invalid_argument);
    EXPECT_EQ(sem.value(), 2);
    Semaphore& base = sem;  // the bound holds through the base class too
    EXPECT_THROW(base.release(), std::invalid_argument);
    BoundedSemaphore zero(0);
    EXPECT_THROW(zero.release(), std::invalid_argument);
  };
  run_bounded(main());
}

TEST_P(SemaphoreTest, BoundedSemaphoreAllowsReleasesThatHandPermitsToWaiters) {
  auto main = []() -> Coro<void> {
    BoundedSemaphore sem(1);
    std::vector<int> log;
    co_await sem.acquire();
    Task<void> a = create_task(worker(sem, log, 0, 1s));
    co_await sleep(1ms);
    sem.release();  // handed to a: value stays 0, within the bound
    co_await a;
    EXPECT_EQ(sem.value(), 1);
    EXPECT_THROW(sem.release(), std::invalid_argument);
  };
  run_bounded(main());
}

TEST_P(SemaphoreTest, AThousandWaitersShareThreePermitsInOrder) {
  auto main = []() -> Coro<void> {
    Semaphore sem(3);
    std::vector<int> log;
    int inside = 0;
    int most = 0;
    auto user = [](Semaphore& s, std::vector<int>& lg, int& in, int& mx, int id) -> Coro<void> {
      auto guard = co_await s.scoped();
      lg.push_back(id);
      mx = std::max(mx, ++in);
      co_await sleep(1ms);
      --in;
    };
    std::vector<Coro<void>> cs;
    for (int i = 0; i < 1000; ++i)
      cs.push_back(user(sem, log, inside, most, i));
    co_await gather(std::move(cs));
    std::vector<int> expected(1000);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(log, expected);
    EXPECT_EQ(most, 3);
    EXPECT_EQ(sem.value(), 3);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 334ms);  // ceil(1000 / 3) rounds of 1 ms
}

CORIO_INSTANTIATE_BACKEND_SUITE(SemaphoreTest);

}  // namespace
}  // namespace corio
