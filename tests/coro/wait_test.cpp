// wait() and wait_for(): conditions, timeouts, and cancellation with cleanup; wait_for
// over Futures and user awaitables; wait() over tasks given one by one.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class WaitTest : public BackendTest {};

using testing::after;
using testing::Boom;

Coro<int> fail_after(Duration d) {
  return testing::fail_after<int>(d);
}

TEST_P(WaitTest, FirstCompletedReturnsAsSoonAsOneTaskFinishes) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> fast = create_task(after(2s, 1));
    Task<int> slow = create_task(after(5s, 2));
    std::vector<Task<int>> tasks{fast, slow};
    auto [done, pending] = co_await wait(tasks, FIRST_COMPLETED);
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
    if (done.size() != 1u || pending.size() != 1u) {
      ADD_FAILURE() << "done " << done.size() << ", pending " << pending.size();
      co_return;
    }
    EXPECT_TRUE(done[0] == fast);
    EXPECT_TRUE(pending[0] == slow);
    EXPECT_FALSE(slow.done());  // wait never cancels
    co_await slow;
  };
  run_virtual(main(clock_));
}

TEST_P(WaitTest, FirstExceptionReturnsOnTheFirstFailure) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(1s, 1)), create_task(fail_after(2s)),
                                 create_task(after(9s, 3))};
    auto [done, pending] = co_await wait(tasks, FIRST_EXCEPTION);
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_EQ(pending.size(), 1u);
    for (auto& t : done)
      (void)t.exception();
    pending[0].cancel();
  };
  run_virtual(main(clock_));
}

TEST_P(WaitTest, FirstExceptionIgnoresCancelledTasks) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> victim = create_task(after(1h, 0));
    std::vector<Task<int>> tasks{victim, create_task(after(3s, 1))};
    spawn([](Task<int> v) -> Coro<void> {
      co_await sleep(1s);
      v.cancel();
    }(victim));
    auto [done, pending] = co_await wait(tasks, FIRST_EXCEPTION);
    EXPECT_EQ(clock.now() - TimePoint{}, 3s);  // behaved like ALL_COMPLETED
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
  };
  run_virtual(main(clock_));
}

TEST_P(WaitTest, AllCompletedWaitsForEveryTask) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> tasks;
    for (int i = 1; i <= 5; ++i)
      tasks.push_back(create_task(after(i * 1s, i)));
    auto [done, pending] = co_await wait(tasks);
    EXPECT_EQ(done.size(), 5u);
    EXPECT_TRUE(pending.empty());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 5s);
}

TEST_P(WaitTest, TimeoutReturnsThePendingTasksWithoutCancellingThem) {
  auto main = []() -> Coro<void> {
    Task<int> slow = create_task(after(10s, 1));
    std::vector<Task<int>> tasks{slow};
    auto [done, pending] = co_await wait(tasks, ALL_COMPLETED, 3s);
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(pending.size(), 1u);
    EXPECT_EQ(co_await slow, 1);
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 10s);
}

TEST_P(WaitTest, AlreadyFinishedTasksSatisfyWaitAtOnce) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(after(0s, 1));
    co_await t;
    std::vector<Task<int>> tasks{t, create_task(after(1h, 2))};
    auto [done, pending] = co_await wait(tasks, FIRST_COMPLETED);
    EXPECT_EQ(done.size(), 1u);
    pending[0].cancel();
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 0s);
}

TEST_P(WaitTest, AnEmptySetIsAnError) {
  auto main = []() -> Coro<void> {
    EXPECT_THROW((void)wait(std::vector<Task<int>>{}), std::invalid_argument);
    co_return;
  };
  run(main());
}

TEST_P(WaitTest, CancellingTheWaiterLeavesTheTasksRunning) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(after(5s, 7));
    auto waiter = [](Task<int> x) -> Coro<void> {
      std::vector<Task<int>> tasks{x};
      co_await wait(tasks);
    };
    Task<void> w = create_task(waiter(t));
    co_await sleep(1s);
    w.cancel();
    EXPECT_THROW(co_await w, CancelledError);
    EXPECT_EQ(co_await t, 7);
  };
  run_virtual(main());
}

TEST_P(WaitTest, WaitForReturnsTheResultWhenInTime) {
  auto main = []() -> Coro<int> { co_return co_await wait_for(after(1s, 5), 2s); };
  EXPECT_EQ(run_virtual(main()), 5);
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(WaitTest, WaitForCancelsTheWorkAndWaitsForItsCleanupBeforeRaising) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<std::string> log;
    auto work = [](std::vector<std::string>& l) -> Coro<int> {
      bool cancelled = false;
      try {
        co_await sleep(5s);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        l.push_back("cleanup started");
        co_await sleep(1s);  // cleanup may itself await
        l.push_back("cleanup done");
        throw CancelledError();
      }
      co_return 1;
    };
    try {
      co_await wait_for(work(log), 2s);
      ADD_FAILURE() << "no TimeoutError";
    } catch (const TimeoutError&) {
      log.push_back("timeout");
    }
    EXPECT_EQ(clock.now() - TimePoint{}, 3s);
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup started", "cleanup done", "timeout"}));
  };
  run_virtual(main(clock_));
}

TEST_P(WaitTest, WaitForWithZeroTimeoutTimesOutAtOnceUnlessDone) {
  auto main = []() -> Coro<void> {
    bool ran = false;
    auto body = [](bool& r) -> Coro<int> {
      r = true;
      co_return 1;
    };
    EXPECT_THROW(co_await wait_for(body(ran), 0s), TimeoutError);
    EXPECT_FALSE(ran);  // cancelled before it started
    Task<int> finished = create_task(after(0s, 3));
    co_await finished;
    EXPECT_EQ(co_await wait_for(finished, -1s), 3);
  };
  run_virtual(main());
}

TEST_P(WaitTest, WaitForReturnsTheValueOfWorkThatSwallowsItsCancellation) {
  auto main = []() -> Coro<int> {
    auto stubborn = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        co_return 42;
      }
      co_return 0;
    };
    co_return co_await wait_for(stubborn(), 1s);
  };
  EXPECT_EQ(run_virtual(main()), 42);
}

TEST_P(WaitTest, WaitForPassesTheWorksOwnExceptionThrough) {
  auto main = []() -> Coro<void> { co_await wait_for(fail_after(1s), 5s); };
  EXPECT_THROW(run_virtual(main()), Boom);
}

TEST_P(WaitTest, CancellingTheCallerOfWaitForCancelsTheWork) {
  auto main = []() -> Coro<void> {
    Task<int> work = create_task(after(1h, 1));
    auto caller = [](Task<int> w) -> Coro<int> { co_return co_await wait_for(w, 2h); };
    Task<int> c = create_task(caller(work));
    co_await sleep(1s);
    c.cancel();
    EXPECT_THROW(co_await c, CancelledError);
    EXPECT_TRUE(work.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(WaitTest, WaitForOnATaskCancelsItOnTimeout) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(after(1h, 1));
    EXPECT_THROW(co_await wait_for(t, 10ms), TimeoutError);
    EXPECT_TRUE(t.cancelled());
  };
  run_virtual(main());
}

TEST_P(WaitTest, WaitForOnAFutureSetInTimeReturnsItsValue) {
  auto main = []() -> Coro<void> {
    Future<std::string> f;
    testing::set_later(f, 1s, std::string("in time"));
    std::string v = co_await wait_for(f, 2s);
    EXPECT_EQ(v, "in time");
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(WaitTest, WaitForOnAFutureThatTimesOutCancelsTheFuture) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Future<int> f;
    bool timed_out = false;
    try {
      co_await wait_for(f, 2s);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
    EXPECT_TRUE(f.cancelled());  // asyncio.wait_for cancels the future it wraps
    EXPECT_THROW(f.set_result(1), InvalidStateError);
    EXPECT_THROW(co_await f, CancelledError);
  };
  run_virtual(main(clock_));
}

TEST_P(WaitTest, WaitForWithZeroTimeoutReturnsAFutureAlreadyDone) {
  auto main = []() -> Coro<void> {
    Future<int> done;
    done.set_result(6);
    int v = co_await wait_for(done, 0s);  // as asyncio.wait_for(fut, 0) does
    EXPECT_EQ(v, 6);
    Future<int> pending;
    EXPECT_THROW(co_await wait_for(pending, 0s), TimeoutError);
    EXPECT_TRUE(pending.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 0s);
}

TEST_P(WaitTest, WaitForOnAFuturePassesItsExceptionThrough) {
  auto main = []() -> Coro<void> {
    Future<void> f;
    (void)EventLoop::running().call_later(
        1s, [f]() mutable { f.set_exception(std::make_exception_ptr(Boom(4))); });
    int code = -1;
    try {
      co_await wait_for(std::move(f), 2s);
    } catch (const Boom& e) {
      code = e.code;
    }
    EXPECT_EQ(code, 4);
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(WaitTest, CancellingTheCallerOfWaitForOnAFutureCancelsTheFuture) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    auto caller = [](Future<int> fut) -> Coro<int> { co_return co_await wait_for(fut, 1h); };
    Task<int> c = create_task(caller(f));
    co_await sleep(1s);
    c.cancel();
    EXPECT_THROW(co_await c, CancelledError);
    EXPECT_TRUE(f.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(WaitTest, WaitForTakesUserAwaitables) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    testing::set_later(f, 1s, 4);
    // Named: g++ 12 destroys an aggregate temporary with a destructor (these hold a
    // Future) twice when it is made inside a co_await expression (README's traps).
    testing::Doubled twice{f};
    int d = co_await wait_for(std::move(twice), 2s);
    EXPECT_EQ(d, 8);
    int r = co_await wait_for(testing::ReadyValue{3}, 1s);
    EXPECT_EQ(r, 3);
    // Like a coroutine in asyncio, it runs in a task that has not started yet, so a zero
    // timeout cancels it first even though it would be ready at once.
    EXPECT_THROW(co_await wait_for(testing::ReadyValue{3}, 0s), TimeoutError);
    Future<std::string> never;
    testing::Wrapped boxed{never};
    EXPECT_THROW(co_await wait_for(std::move(boxed), 1s), TimeoutError);
    EXPECT_TRUE(never.cancelled());  // the awaiter inside was cancelled with its task
  };
  run_virtual(main());
}

TEST_P(WaitTest, WaitForOverAGatherOfFutures) {
  auto main = []() -> Coro<void> {
    Future<int> a;
    Future<int> b;
    testing::set_later(a, 1s, 1);
    EXPECT_THROW(co_await wait_for(gather(a, b), 2s), TimeoutError);
    EXPECT_EQ(a.result(), 1);
    EXPECT_TRUE(b.cancelled());  // the gather was cancelled, and with it its children
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 2s);
}

TEST_P(WaitTest, TakesTasksOneByOneWithoutABracedVector) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> fast = create_task(after(1s, 1));
    Task<int> slow = create_task(after(3s, 2));
    Task<int> failing = create_task(fail_after(2s));
    auto [done, pending] = co_await wait(fast, slow, failing, FIRST_COMPLETED);
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);
    EXPECT_TRUE(done.size() == 1 && done[0] == fast);
    EXPECT_EQ(pending.size(), 2u);

    auto r2 = co_await wait(slow, failing, FIRST_EXCEPTION, 5s);
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
    EXPECT_TRUE(r2.done.size() == 1 && r2.done[0] == failing);
    EXPECT_THROW(co_await failing, Boom);

    auto r3 = co_await wait(slow, 500ms);  // a timeout alone: ALL_COMPLETED
    EXPECT_TRUE(r3.done.empty());
    EXPECT_EQ(r3.pending.size(), 1u);
    EXPECT_FALSE(slow.cancelled());  // wait never cancels

    auto r4 = co_await wait(slow);
    EXPECT_EQ(r4.done.size(), 1u);
    EXPECT_EQ(co_await slow, 2);
  };
  run_virtual(main(clock_));
}

// The variadic wait() takes only Tasks of one type, then an optional mode, then an
// optional timeout.
template <class... Args>
concept WaitCallable = requires(Args&&... args) {
  wait(std::forward<Args>(args)...);
};
static_assert(WaitCallable<Task<int>&, Task<int>&, ReturnWhen, std::chrono::seconds>);
static_assert(!WaitCallable<Task<int>&, Task<long>&>);
static_assert(!WaitCallable<Task<int>&, std::chrono::seconds, ReturnWhen>);
static_assert(!WaitCallable<Task<int>&, ReturnWhen, ReturnWhen>);
static_assert(!WaitCallable<Task<int>&, ReturnWhen, Task<int>&>);

CORIO_INSTANTIATE_BACKEND_SUITE(WaitTest);

}  // namespace
}  // namespace corio
