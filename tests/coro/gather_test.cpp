// gather(): argument order, first exception, return_exceptions, cancellation; any
// awaitable as an argument (Future, user awaiters), and what counts as one.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class GatherTest : public BackendTest {};

using testing::after;
using testing::Boom;
using testing::fail_after;

TEST_P(GatherTest, ReturnsResultsInArgumentOrderNotCompletionOrder) {
  auto main = []() -> Coro<void> {
    auto [a, b, c] =
        co_await gather(after(30ms, 1), after(10ms, std::string("two")), after(20ms, 3.0));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "two");
    EXPECT_EQ(c, 3.0);
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 30ms);  // concurrently, not one after another
}

TEST_P(GatherTest, VoidChildrenContributeMonostate) {
  auto main = []() -> Coro<void> {
    auto nothing = []() -> Coro<void> { co_await sleep(1ms); };
    auto r = co_await gather(nothing(), after(1ms, 5));
    static_assert(std::is_same_v<decltype(r), std::tuple<std::monostate, int>>);
    EXPECT_EQ(std::get<1>(r), 5);
  };
  run_virtual(main());
}

TEST_P(GatherTest, OverAVectorKeepsTheOrder) {
  auto main = []() -> Coro<void> {
    std::vector<Coro<int>> cs;
    for (int i = 0; i < 50; ++i)
      cs.push_back(after(std::chrono::milliseconds(50 - i), i));
    std::vector<int> r = co_await gather(std::move(cs));
    for (int i = 0; i < 50; ++i)
      EXPECT_EQ(r[static_cast<std::size_t>(i)], i);
  };
  run_virtual(main());
}

TEST_P(GatherTest, OfNothingReturnsAtOnce) {
  auto main = []() -> Coro<void> {
    std::tuple<> r = co_await gather();
    (void)r;
    std::vector<int> v = co_await gather(std::vector<Coro<int>>{});
    EXPECT_TRUE(v.empty());
  };
  run(main());
}

TEST_P(GatherTest, FirstExceptionPropagatesAtOnceAndTheOthersKeepRunning) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    bool finished = false;
    auto slow = [](bool& f) -> Coro<void> {
      co_await sleep(5s);
      f = true;
    };
    const TimePoint start = clock.now();
    EXPECT_THROW(co_await gather(fail_after(1s), slow(finished)), Boom);
    EXPECT_EQ(clock.now() - start, 1s);
    EXPECT_FALSE(finished);
    co_await sleep(10s);
    EXPECT_TRUE(finished);  // not cancelled
  };
  run_virtual(main(clock_));
}

TEST_P(GatherTest, ReturnExceptionsTurnsExceptionsIntoResults) {
  auto main = []() -> Coro<void> {
    Task<int> cancelled = create_task(after(1h, 0));
    auto r = co_await gather(return_exceptions, after(2ms, 1), fail_after(1ms), cancelled,
                             [](Task<int> t) -> Coro<void> {
                               co_await sleep(1ms);
                               t.cancel();
                             }(cancelled));
    EXPECT_EQ(std::get<0>(r).value(), 1);
    EXPECT_FALSE(std::get<1>(r).has_value());
    EXPECT_THROW(std::rethrow_exception(std::get<1>(r).error()), Boom);
    EXPECT_THROW(std::rethrow_exception(std::get<2>(r).error()), CancelledError);
    EXPECT_TRUE(std::get<3>(r).has_value());
  };
  ::testing::internal::CaptureStderr();
  run_virtual(main());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // all retrieved
}

TEST_P(GatherTest, ACancelledChildMakesGatherRaiseCancelledErrorWithoutCancellingIt) {
  auto main = []() -> Coro<void> {
    Task<int> victim = create_task(after(1h, 0));
    Task<int> survivor = create_task(after(10ms, 2));
    auto killer = [](Task<int> t) -> Coro<void> {
      co_await sleep(1ms);
      t.cancel();
    };
    spawn(killer(victim));
    EXPECT_THROW(co_await gather(victim, survivor), CancelledError);
    EXPECT_EQ(co_await survivor, 2);
  };
  run_virtual(main());
}

TEST_P(GatherTest, CancellingTheAwaiterCancelsEveryUnfinishedChild) {
  auto main = []() -> Coro<void> {
    Task<int> done_early = create_task(after(1ms, 1));
    Task<int> slow1 = create_task(after(1h, 2));
    Task<int> slow2 = create_task(after(2h, 3));
    auto waiter = [](Task<int> a, Task<int> b, Task<int> c) -> Coro<void> {
      co_await gather(a, b, c);
    };
    Task<void> w = create_task(waiter(done_early, slow1, slow2));
    co_await sleep(1s);
    w.cancel();
    EXPECT_THROW(co_await w, CancelledError);
    EXPECT_FALSE(done_early.cancelled());
    EXPECT_TRUE(slow1.cancelled());
    EXPECT_TRUE(slow2.cancelled());
  };
  run_virtual(main());
  EXPECT_LT(virtual_elapsed(), 2s);
}

TEST_P(GatherTest, OfTasksLeavesTheirResultsAwaitable) {
  auto main = []() -> Coro<void> {
    Task<std::string> t = create_task(after(1ms, std::string("kept")));
    auto [a] = co_await gather(t);
    EXPECT_EQ(a, "kept");
    EXPECT_EQ(co_await t, "kept");
  };
  run_virtual(main());
}

TEST_P(GatherTest, AcceptsPlainAwaitersSuchAsSleep) {
  auto main = []() -> Coro<void> {
    auto [s, v] = co_await gather(sleep(2s), after(1s, 9));
    (void)s;
    EXPECT_EQ(v, 9);
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 2s);
}

TEST_P(GatherTest, MoveOnlyResultsAreMovedOut) {
  auto main = []() -> Coro<void> {
    auto make = []() -> Coro<std::unique_ptr<int>> { co_return std::make_unique<int>(4); };
    auto [p] = co_await gather(make());
    EXPECT_TRUE(p != nullptr && *p == 4);
  };
  run(main());
}

using testing::Doubled;
using testing::ReadyValue;
using testing::set_later;
using testing::Wrapped;

// What counts as awaitable, checked at compile time (a non-awaitable argument to gather,
// wait_for, shield or timeout().run fails with the static_assert in refuse_argument()).
static_assert(Awaitable<Coro<int>>);
static_assert(Awaitable<Task<int>&>);
static_assert(Awaitable<Future<int>&>);
static_assert(Awaitable<ReadyValue>);
static_assert(Awaitable<Doubled>);
static_assert(Awaitable<Wrapped&>);
static_assert(!Awaitable<int>);
static_assert(!Awaitable<std::string>);
static_assert(!Awaitable<std::vector<Task<int>>>);
static_assert(std::is_same_v<await_result_t<Future<std::string>&>, std::string>);
static_assert(std::is_same_v<await_result_t<Task<void>>, void>);
static_assert(std::is_same_v<await_result_t<Doubled>, int>);
static_assert(detail::Gatherable<Future<int>&> && detail::Gatherable<Task<int>&>);
static_assert(!detail::Gatherable<Coro<int>&>);  // a Coro must be moved in
static_assert(!detail::Gatherable<int>);

TEST_P(GatherTest, OfFuturesReturnsTheirResultsInArgumentOrder) {
  auto main = []() -> Coro<void> {
    Future<int> a;
    Future<int> b;
    Future<std::string> c;
    set_later(a, 3s, 1);  // set last, listed first
    set_later(b, 1s, 2);
    set_later(c, 2s, std::string("three"));
    auto [x, y, z] = co_await gather(a, b, c);
    EXPECT_EQ(x, 1);
    EXPECT_EQ(y, 2);
    EXPECT_EQ(z, "three");
    EXPECT_EQ(a.result(), 1);  // the futures keep their results
    EXPECT_EQ(c.result(), "three");
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 3s);
}

TEST_P(GatherTest, OfFuturesSetByAnotherTaskAsRvalues) {
  auto main = []() -> Coro<void> {
    Future<int> a;
    Future<void> b;
    auto setter = [](Future<int> fa, Future<void> fb) -> Coro<void> {
      co_await sleep(1s);
      fb.set_result();
      co_await sleep(1s);
      fa.set_result(7);
    };
    Task<void> s = create_task(setter(a, b));
    auto r = co_await gather(Future<int>(a), std::move(b));
    static_assert(std::is_same_v<decltype(r), std::tuple<int, std::monostate>>);
    EXPECT_EQ(std::get<0>(r), 7);
    co_await s;
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 2s);
}

TEST_P(GatherTest, OfFuturesPropagatesTheFirstExceptionAndLeavesTheOthersPending) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Future<int> ok;
    Future<int> bad;
    (void)EventLoop::running().call_later(
        1s, [bad]() mutable { bad.set_exception(std::make_exception_ptr(Boom(3))); });
    set_later(ok, 2s, 5);
    int code = -1;
    try {
      co_await gather(ok, bad);
    } catch (const Boom& e) {
      code = e.code;
    }
    EXPECT_EQ(code, 3);
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);  // at once, not when the others finish
    EXPECT_FALSE(ok.done());                   // not cancelled: asyncio leaves it running
    EXPECT_EQ(co_await ok, 5);
    EXPECT_FALSE(ok.cancelled());
  };
  run_virtual(main(clock_));
}

TEST_P(GatherTest, OfFuturesWithReturnExceptionsGivesEachOutcome) {
  auto main = []() -> Coro<void> {
    Future<int> ok;
    Future<int> bad;
    set_later(ok, 1s, 4);
    bad.set_exception(std::make_exception_ptr(Boom(9)));
    auto [r1, r2] = co_await gather(return_exceptions, ok, bad);
    EXPECT_EQ(r1.value(), 4);
    EXPECT_FALSE(r2.has_value());
    EXPECT_THROW(r2.value(), Boom);
  };
  run_virtual(main());
}

TEST_P(GatherTest, MixesCorosTasksFuturesAndUserAwaitables) {
  auto main = []() -> Coro<void> {
    Task<std::string> task = create_task(after(2s, std::string("task")));
    Future<int> fut;
    Future<int> doubled;
    Future<std::string> wrapped;
    set_later(fut, 3s, 30);
    set_later(doubled, 1s, 21);
    set_later(wrapped, 4s, std::string("wrapped"));
    // Named: g++ 12 destroys an aggregate temporary with a destructor (these hold a
    // Future) twice when it is made inside a co_await expression (README's traps).
    Doubled twice{doubled};
    Wrapped boxed{wrapped};
    auto r = co_await gather(after(1s, 1.5), task, fut, ReadyValue{6}, std::move(twice),
                             std::move(boxed), sleep(500ms));
    static_assert(std::is_same_v<decltype(r), std::tuple<double, std::string, int, int, int,
                                                         std::string, std::monostate>>);
    auto& [c, t, f, ready, d, w, s] = r;
    (void)s;
    EXPECT_EQ(c, 1.5);
    EXPECT_EQ(t, "task");
    EXPECT_EQ(f, 30);
    EXPECT_EQ(ready, 6);
    EXPECT_EQ(d, 42);
    EXPECT_EQ(w, "wrapped");
    EXPECT_EQ(co_await task, "task");  // a Task passed by name stays awaitable
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 4s);
}

TEST_P(GatherTest, CancellingAGatherOfFuturesCancelsTheFuturesNotYetDone) {
  auto main = []() -> Coro<void> {
    Future<int> done_early;
    Future<int> pending;
    set_later(done_early, 1s, 1);
    auto waiter = [](Future<int> a, Future<int> b) -> Coro<void> { co_await gather(a, b); };
    Task<void> w = create_task(waiter(done_early, pending));
    co_await sleep(2s);
    w.cancel();
    EXPECT_THROW(co_await w, CancelledError);
    EXPECT_TRUE(pending.cancelled());  // asyncio: cancelling gather cancels its children
    EXPECT_FALSE(done_early.cancelled());
    EXPECT_EQ(done_early.result(), 1);
  };
  run_virtual(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(GatherTest);

}  // namespace
}  // namespace corio
