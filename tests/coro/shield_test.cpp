// shield(): the waiter's cancellation stops at the shield.
#include <gtest/gtest.h>

#include <chrono>

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

CORIO_INSTANTIATE_BACKEND_SUITE(ShieldTest);

}  // namespace
}  // namespace corio
