// Future<T>: set once, awaited by many, cancellable, with done callbacks.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/future.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::Boom;

class FutureTest : public BackendTest {};

TEST_P(FutureTest, EveryAwaiterGetsTheResultSetLater) {
  auto main = []() -> Coro<void> {
    Future<std::string> f;
    auto waiter = [](Future<std::string> fut) -> Coro<std::string> { co_return co_await fut; };
    auto setter = [](Future<std::string> fut) -> Coro<void> {
      co_await sleep(1s);
      fut.set_result("ready");
    };
    spawn(setter(f));
    auto [a, b] = co_await gather(waiter(f), waiter(f));
    EXPECT_EQ(a, "ready");
    EXPECT_EQ(b, "ready");
    EXPECT_EQ(co_await f, "ready");  // already done: no suspension
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(FutureTest, AnExceptionReachesEveryAwaiter) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    f.set_exception(std::make_exception_ptr(Boom(4)));
    EXPECT_THROW(co_await f, Boom);
    EXPECT_NE(f.exception(), nullptr);
  };
  run(main());
}

TEST_P(FutureTest, SettingTwiceIsAnInvalidStateError) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    EXPECT_THROW((void)f.result(), InvalidStateError);
    f.set_result(1);
    EXPECT_THROW(f.set_result(2), InvalidStateError);
    EXPECT_THROW(f.set_exception(std::make_exception_ptr(Boom())), InvalidStateError);
    EXPECT_FALSE(f.cancel());
    EXPECT_EQ(f.result(), 1);
    co_return;
  };
  run(main());
}

TEST_P(FutureTest, CancellingTheFutureWakesItsAwaitersWithCancelledError) {
  auto main = []() -> Coro<void> {
    Future<void> f;
    auto waiter = [](Future<void> fut) -> Coro<void> { co_await fut; };
    Task<void> t = create_task(waiter(f));
    co_await sleep(1ms);
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_THROW((void)f.exception(), CancelledError);
  };
  run_virtual(main());
}

TEST_P(FutureTest, CancellingATaskThatAwaitsAFutureCancelsTheFuture) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    auto waiter = [](Future<int> fut) -> Coro<int> { co_return co_await fut; };
    Task<int> a = create_task(waiter(f));
    Task<int> b = create_task(waiter(f));
    co_await sleep(1ms);
    a.cancel();
    EXPECT_THROW(co_await a, CancelledError);
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW(co_await b, CancelledError);  // asyncio: the other waiter sees it too
  };
  run_virtual(main());
}

TEST_P(FutureTest, DoneCallbacksRunFromTheLoopInOrder) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    std::vector<int> calls;
    f.add_done_callback([&](const Future<int>& fut) { calls.push_back(fut.result()); });
    f.add_done_callback([&](const Future<int>&) { calls.push_back(-1); });
    f.set_result(5);
    EXPECT_TRUE(calls.empty());  // not inside set_result
    co_await sleep(0s);
    EXPECT_EQ(calls, (std::vector<int>{5, -1}));
    f.add_done_callback([&](const Future<int>&) { calls.push_back(9); });
    co_await sleep(0s);
    EXPECT_EQ(calls, (std::vector<int>{5, -1, 9}));
  };
  run(main());
}

TEST_P(FutureTest, ACancelledAwaiterOfADoneFutureKeepsTheValue) {
  // The future completed and woke the waiter; a cancel() before it resumes must not
  // lose the value (it is raised at the task's next await instead).
  auto main = []() -> Coro<void> {
    Future<int> f;
    auto waiter = [](Future<int> fut) -> Coro<int> {
      int v = co_await fut;
      co_await sleep(0s);  // the deferred cancellation lands here
      co_return v;
    };
    Task<int> t = create_task(waiter(f));
    co_await sleep(1ms);
    f.set_result(3);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.result(), 3);
  };
  run_virtual(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(FutureTest);

}  // namespace
}  // namespace corio
