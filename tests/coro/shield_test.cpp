// shield(): the waiter's cancellation stops at the shield.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <string>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/shield.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::after;
using testing::BackendTest;
using testing::Boom;
using testing::fail_after;

class ShieldTest : public BackendTest {};

TEST_P(ShieldTest, PassesTheResultThrough) {
  auto main = []() -> Coro<int> { co_return co_await shield(after(1s, 8)); };
  EXPECT_EQ(run_virtual(main()), 8);
}

TEST_P(ShieldTest, PassesTheInnerExceptionThrough) {
  auto main = []() -> Coro<void> { co_await shield(fail_after(1s)); };
  EXPECT_THROW(run_virtual(main()), Boom);
}

TEST_P(ShieldTest, CancellingTheWaiterLeavesTheInnerWorkRunning) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> inner = create_task(after(5s, 42));
    auto waiter = [](Task<int> t) -> Coro<int> { co_return co_await shield(t); };
    Task<int> w = create_task(waiter(inner));
    co_await sleep(1s);
    w.cancel();
    EXPECT_THROW(co_await w, CancelledError);
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);  // the waiter stopped at once
    EXPECT_FALSE(inner.done());
    EXPECT_EQ(co_await inner, 42);  // and the work finished untouched
    EXPECT_FALSE(inner.cancelled());
  };
  run_virtual(main(clock_));
}

TEST_P(ShieldTest, CancellingTheInnerWorkStillCancelsIt) {
  auto main = []() -> Coro<void> {
    Task<int> inner = create_task(after(1h, 1));
    auto killer = [](Task<int> t) -> Coro<void> {
      co_await sleep(1s);
      t.cancel();
    };
    spawn(killer(inner));
    EXPECT_THROW(co_await shield(inner), CancelledError);
    EXPECT_TRUE(inner.cancelled());
  };
  run_virtual(main());
}

TEST_P(ShieldTest, WaitForOverAShieldTimesOutWithoutCancellingTheWork) {
  auto main = []() -> Coro<void> {
    Task<int> inner = create_task(after(3s, 7));
    EXPECT_THROW(co_await wait_for(shield(inner), 1s), TimeoutError);
    EXPECT_EQ(co_await inner, 7);
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 3s);
}

TEST_P(ShieldTest, AShieldedFutureSurvivesTheWaitersCancellation) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Future<int> f;
    auto waiter = [](Future<int> fut) -> Coro<int> { co_return co_await shield(fut); };
    Task<int> w = create_task(waiter(f));
    co_await sleep(1s);
    w.cancel();
    EXPECT_THROW(co_await w, CancelledError);
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);  // the waiter stopped at once
    EXPECT_FALSE(f.done());                    // the future was not cancelled
    EXPECT_FALSE(f.cancelled());
    f.set_result(42);  // and can still be set and awaited
    EXPECT_EQ(co_await f, 42);
  };
  run_virtual(main(clock_));
}

TEST_P(ShieldTest, PassesAFuturesResultAndExceptionThrough) {
  auto main = []() -> Coro<void> {
    Future<std::string> ok;
    testing::set_later(ok, 1s, std::string("shielded"));
    std::string v = co_await shield(ok);
    EXPECT_EQ(v, "shielded");
    Future<int> bad;
    bad.set_exception(std::make_exception_ptr(Boom(2)));
    EXPECT_THROW(co_await shield(bad), Boom);
  };
  run_virtual(main());
}

TEST_P(ShieldTest, CancellingAShieldedFutureItselfStillCancelsTheWaiter) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    (void)EventLoop::running().call_later(1s, [f]() mutable { f.cancel(); });
    EXPECT_THROW(co_await shield(f), CancelledError);
    EXPECT_TRUE(f.cancelled());
  };
  run_virtual(main());
}

TEST_P(ShieldTest, WaitForOverAShieldedFutureTimesOutWithoutCancellingIt) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    testing::set_later(f, 3s, 9);
    EXPECT_THROW(co_await wait_for(shield(f), 1s), TimeoutError);
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(co_await f, 9);
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 3s);
}

CORIO_INSTANTIATE_BACKEND_SUITE(ShieldTest);

}  // namespace
}  // namespace corio
