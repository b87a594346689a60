// as_completed(): completion order, timeouts, cancellation and early destruction.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::after;
using testing::BackendTest;
using testing::Boom;

class AsCompletedTest : public BackendTest {};

Duration since_start(const ManualClock& clock) {
  return clock.now() - TimePoint{};
}

TEST_P(AsCompletedTest, YieldsResultsInCompletionOrderNotInputOrder) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(3s, 1)), create_task(after(1s, 2)),
                                 create_task(after(2s, 3))};
    auto ac = as_completed(tasks);
    EXPECT_EQ(ac.remaining(), 3u);
    std::vector<int> got;
    std::vector<Duration> when;
    while (ac.has_next()) {
      got.push_back(co_await ac.next());
      when.push_back(since_start(clock));
    }
    EXPECT_EQ(got, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(when, (std::vector<Duration>{1s, 2s, 3s}));
    EXPECT_EQ(ac.remaining(), 0u);
  };
  run_bounded(main(clock_));
}

TEST_P(AsCompletedTest, TasksAlreadyDoneComeFirstInInputOrder) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> a = create_task(after(2s, 1));
    Task<int> b = create_task(after(1s, 2));
    Task<int> pending = create_task(after(5s, 3));
    co_await a;  // b finished first, a second
    std::vector<Task<int>> tasks{pending, a, b};
    auto ac = as_completed(tasks);
    EXPECT_EQ(co_await ac.next(), 1);
    EXPECT_EQ(co_await ac.next(), 2);
    EXPECT_EQ(since_start(clock), 2s);  // neither suspended
    EXPECT_EQ(co_await ac.next(), 3);
    EXPECT_EQ(since_start(clock), 5s);
  };
  run_bounded(main(clock_));
}

TEST_P(AsCompletedTest, AnExceptionIsRaisedAtItsTurnAndTheOthersStillArrive) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(3s, 3)),
                                 create_task(testing::fail_after<int>(2s, 7)),
                                 create_task(after(1s, 1))};
    auto ac = as_completed(std::move(tasks));
    EXPECT_EQ(co_await ac.next(), 1);
    int code = -1;
    try {
      co_await ac.next();
      ADD_FAILURE() << "no Boom";
    } catch (const Boom& e) {
      code = e.code;
    }
    EXPECT_EQ(code, 7);
    EXPECT_EQ(co_await ac.next(), 3);
    EXPECT_FALSE(ac.has_next());
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, ACancelledTaskRaisesCancelledErrorAtItsTurn) {
  auto main = []() -> Coro<void> {
    Task<int> victim = create_task(after(1h, 0));
    std::vector<Task<int>> tasks{victim, create_task(after(2s, 2))};
    auto ac = as_completed(tasks);
    co_await sleep(1s);
    victim.cancel();
    EXPECT_THROW(co_await ac.next(), CancelledError);
    EXPECT_EQ(co_await ac.next(), 2);
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, NextTaskReturnsTheOriginalTaskHandles) {
  auto main = []() -> Coro<void> {
    Task<int> slow = create_task(after(2s, 1));
    Task<int> failing = create_task(testing::fail_after<int>(1s));
    std::vector<Task<int>> tasks{slow, failing};
    auto ac = as_completed(tasks);
    Task<int> first = co_await ac.next_task();
    EXPECT_TRUE(first == failing);
    EXPECT_THROW(co_await first, Boom);  // the exception stays in the task
    Task<int> second = co_await ac.next_task();
    EXPECT_TRUE(second == slow);
    EXPECT_EQ(second.result(), 1);
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, TimeoutRaisesTimeoutErrorForEachUnfinishedTaskAndLeavesThemRunning) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> slow = create_task(after(5s, 2));
    Task<int> slower = create_task(after(9s, 3));
    std::vector<Task<int>> tasks{slower, create_task(after(1s, 1)), slow};
    auto ac = as_completed(tasks, 3s);
    EXPECT_EQ(co_await ac.next(), 1);
    EXPECT_THROW(co_await ac.next(), TimeoutError);
    EXPECT_EQ(since_start(clock), 3s);
    EXPECT_TRUE(ac.has_next());  // one TimeoutError per unfinished task, like asyncio
    EXPECT_EQ(ac.remaining(), 1u);
    EXPECT_THROW(co_await ac.next(), TimeoutError);
    EXPECT_EQ(since_start(clock), 3s);
    EXPECT_FALSE(ac.has_next());
    EXPECT_THROW(co_await ac.next(), InvalidStateError);
    EXPECT_FALSE(slow.done());
    EXPECT_FALSE(slower.done());
    EXPECT_EQ(co_await slow, 2);  // not cancelled
    EXPECT_EQ(co_await slower, 3);
    EXPECT_EQ(since_start(clock), 9s);
  };
  run_bounded(main(clock_));
}

TEST_P(AsCompletedTest, ResultsThatFinishedBeforeTheDeadlineAreStillDeliveredAfterIt) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(2s, 2)), create_task(after(1s, 1)),
                                 create_task(after(10s, 3))};
    auto ac = as_completed(tasks, 3s);
    co_await sleep(5s);
    EXPECT_EQ(co_await ac.next(), 1);
    EXPECT_EQ(co_await ac.next(), 2);
    EXPECT_THROW(co_await ac.next(), TimeoutError);
    EXPECT_FALSE(ac.has_next());
    Task<int> rest = ac.tasks()[2];  // a copy shares the task
    rest.cancel();
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, ZeroTimeoutDeliversOnlyTasksAlreadyDone) {
  auto main = []() -> Coro<void> {
    Task<int> done = create_task(after(0s, 1));
    co_await done;
    Task<int> running = create_task(after(1s, 2));
    std::vector<Task<int>> tasks{running, done};
    auto ac = as_completed(tasks, std::chrono::duration<double>(0.0));
    EXPECT_EQ(co_await ac.next(), 1);
    EXPECT_THROW(co_await ac.next(), TimeoutError);
    EXPECT_EQ(co_await running, 2);
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, AFractionalTimeoutIsRoundedUp) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(1h, 1))};
    auto ac = as_completed(tasks, std::chrono::duration<double, std::milli>(1.5));
    EXPECT_THROW(co_await ac.next(), TimeoutError);
    EXPECT_EQ(since_start(clock), 1500us);
    Task<int> rest = ac.tasks()[0];
    rest.cancel();
  };
  run_bounded(main(clock_));
}

TEST_P(AsCompletedTest, CancellingTheAwaiterLosesNoCompletion) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> work = create_task(after(2s, 42));
    std::vector<Task<int>> tasks{work};
    auto ac = as_completed(tasks);
    auto consumer = [](AsCompleted<int>& a) -> Coro<int> { co_return co_await a.next(); };
    Task<int> c = create_task(consumer(ac));
    co_await sleep(1s);
    EXPECT_FALSE(ac.has_next());  // claimed by the waiting consumer
    c.cancel();
    EXPECT_THROW(co_await c, CancelledError);
    EXPECT_FALSE(work.done());
    EXPECT_EQ(work.cancelling(), 0u);
    EXPECT_TRUE(ac.has_next());  // given back
    EXPECT_EQ(co_await ac.next(), 42);
    EXPECT_EQ(since_start(clock), 2s);
  };
  run_bounded(main(clock_));
}

TEST_P(AsCompletedTest, AnAwaiterCancelledAfterItWasHandedAResultKeepsIt) {
  auto main = []() -> Coro<void> {
    Task<int> work = create_task(after(1s, 42));
    std::optional<Task<int>> consumer;
    bool cancel_sent = false;
    // Linked to `work` before as_completed, so it runs first when work finishes: the
    // consumer has been handed the result but not resumed yet.
    auto canceller = [](Task<int> w, std::optional<Task<int>>& c, bool& sent) -> Coro<void> {
      co_await w;
      c->cancel();
      sent = true;
    };
    Task<void> k = create_task(canceller(work, consumer, cancel_sent));
    co_await sleep(0s);
    std::vector<Task<int>> tasks{work};
    auto ac = as_completed(tasks);
    auto consume = [](AsCompleted<int>& a, const bool& sent) -> Coro<int> {
      int v = co_await a.next();
      EXPECT_TRUE(sent);  // cancelled while handed, and still returned the result
      EXPECT_EQ(v, 42);
      co_await sleep(0s);  // the cancellation arrives here
      ADD_FAILURE() << "the cancellation was lost";
      co_return v;
    };
    consumer = create_task(consume(ac, cancel_sent));
    co_await k;
    EXPECT_THROW(co_await *consumer, CancelledError);
    EXPECT_FALSE(ac.has_next());
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, SeveralConsumersShareTheResults) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> tasks;
    for (int i = 1; i <= 5; ++i)
      tasks.push_back(create_task(after(i * 1s, i)));
    auto ac = as_completed(std::move(tasks));
    auto worker = [](AsCompleted<int>& a) -> Coro<int> {
      int sum = 0;
      while (a.has_next())
        sum += co_await a.next();
      co_return sum;
    };
    Task<int> w1 = create_task(worker(ac));
    Task<int> w2 = create_task(worker(ac));
    Task<int> w3 = create_task(worker(ac));
    const int total = co_await w1 + co_await w2 + co_await w3;
    EXPECT_EQ(total, 15);
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, DestroyingItEarlyUnlinksItFromTheTasks) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(1s, 1)), create_task(after(2s, 2)),
                                 create_task(after(3s, 3))};
    {
      auto ac = as_completed(tasks, 2500ms);
      EXPECT_EQ(co_await ac.next(), 1);
    }  // the tasks and the timer still point here unless it unlinked itself
    EXPECT_EQ(co_await tasks[1], 2);
    EXPECT_EQ(co_await tasks[2], 3);
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, MovingItBeforeAwaitingKeepsTrackOfTheTasks) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<Task<int>> tasks{create_task(after(2s, 2)), create_task(after(1s, 1)),
                                 create_task(after(1h, 3))};
    auto first = as_completed(tasks, 3s);
    std::optional<AsCompleted<int>> moved;
    moved.emplace(std::move(first));
    EXPECT_FALSE(first.has_next());
    EXPECT_EQ(co_await moved->next(), 1);
    EXPECT_EQ(co_await moved->next(), 2);
    EXPECT_THROW(co_await moved->next(), TimeoutError);
    EXPECT_EQ(since_start(clock), 3s);
    moved.reset();
    tasks[2].cancel();
  };
  run_bounded(main(clock_));
}

TEST_P(AsCompletedTest, CoroutinesBecomeTasksAtOnce) {
  auto main = []() -> Coro<void> {
    std::vector<Coro<int>> coros;
    coros.push_back(after(2s, 1));
    coros.push_back(after(1s, 2));
    auto ac = as_completed(std::move(coros));
    EXPECT_EQ(ac.tasks().size(), 2u);
    co_await sleep(0s);  // the tasks run without anyone awaiting next()
    co_await sleep(3s);
    EXPECT_TRUE(ac.tasks()[0].done());
    Task<int> first = co_await ac.next_task();
    EXPECT_TRUE(first == ac.tasks()[1]);
    EXPECT_EQ(co_await ac.next(), 1);
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, WorksForVoidTasks) {
  auto main = []() -> Coro<void> {
    auto ok = [](Duration d, int& order, int& seen) -> Coro<void> {
      co_await sleep(d);
      seen = ++order;
    };
    int order = 0, a = 0, b = 0;
    std::vector<Coro<void>> coros;
    coros.push_back(ok(3s, order, a));
    coros.push_back(testing::fail_after<void>(2s, 5));
    coros.push_back(ok(1s, order, b));
    auto ac = as_completed(std::move(coros), 10s);
    co_await ac.next();
    EXPECT_EQ(b, 1);
    EXPECT_THROW(co_await ac.next(), Boom);
    co_await ac.next();
    EXPECT_EQ(a, 2);
    EXPECT_FALSE(ac.has_next());
  };
  run_bounded(main());
}

TEST_P(AsCompletedTest, AnEmptyListHasNothingNext) {
  auto main = []() -> Coro<void> {
    auto ac = as_completed(std::vector<Task<int>>{}, 1s);
    EXPECT_FALSE(ac.has_next());
    EXPECT_THROW(co_await ac.next(), InvalidStateError);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 0s);
}

TEST_P(AsCompletedTest, TakesTasksOneByOneWithoutABracedVector) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> a = create_task(after(3s, 1));
    Task<int> b = create_task(after(1s, 2));
    Task<int> c = create_task(after(2s, 3));
    auto ac = as_completed(a, b, c);
    std::vector<int> order;
    while (ac.has_next()) {
      int v = co_await ac.next();
      order.push_back(v);
    }
    EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(co_await a, 1);  // results are copied: the tasks stay awaitable

    Task<int> quick = create_task(after(1s, 4));
    Task<int> late = create_task(after(1h, 5));
    auto timed = as_completed(late, quick, 2s);
    int first = co_await timed.next();
    EXPECT_EQ(first, 4);
    EXPECT_THROW(co_await timed.next(), TimeoutError);
    EXPECT_EQ(since_start(clock), 5s);
    EXPECT_FALSE(late.done());  // not cancelled
    late.cancel();
  };
  run_virtual(main(clock_));
}

CORIO_INSTANTIATE_BACKEND_SUITE(AsCompletedTest);

}  // namespace
}  // namespace corio
