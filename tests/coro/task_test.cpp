// Coro and Task: laziness, results, exceptions, ownership, cancellation, reports.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class TaskTest : public BackendTest {};

using testing::after;
using testing::Boom;
using testing::fail_after;

Coro<int> value(int v) {
  co_return v;
}
TEST_P(TaskTest, CoroReturnsItsValueThroughCoAwait) {
  auto main = []() -> Coro<int> { co_return co_await value(41) + 1; };
  EXPECT_EQ(run(main()), 42);
}

TEST_P(TaskTest, CoroIsLazyUntilAwaited) {
  auto main = []() -> Coro<void> {
    bool ran = false;
    auto body = [](bool& flag) -> Coro<void> {
      flag = true;
      co_return;
    };
    Coro<void> c = body(ran);
    co_await sleep(0s);
    EXPECT_FALSE(ran);
    co_await c;
    EXPECT_TRUE(ran);
  };
  run(main());
}

TEST_P(TaskTest, ExceptionPropagatesThroughCoAwaitUnchanged) {
  auto main = []() -> Coro<int> {
    try {
      co_await fail_after(1ms, 7);
    } catch (const Boom& b) {
      co_return b.code;
    }
    co_return 0;
  };
  EXPECT_EQ(run_virtual(main()), 7);
}

TEST_P(TaskTest, ExceptionPropagatesOutOfRunUnchanged) {
  try {
    run_virtual(fail_after(5ms, 3));
    FAIL() << "run() returned";
  } catch (const Boom& b) {
    EXPECT_EQ(b.code, 3);
  }
}

Coro<long> depth(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}

TEST_P(TaskTest, DeepAwaitChainsDoNotGrowTheStack) {
  // 200k nested frames would need far more than the 8 MiB stack if resumption were
  // recursive; symmetric transfer keeps it flat.
  EXPECT_EQ(run(depth(200'000)), 200'000);
}

TEST_P(TaskTest, MillionsOfSynchronousAwaitsInALoopDoNotGrowTheStack) {
  auto main = []() -> Coro<long> {
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i)
      sum += co_await value(1);
    co_return sum;
  };
  EXPECT_EQ(run(main()), 1'000'000);
}

TEST_P(TaskTest, CreateTaskSchedulesWithoutYielding) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    auto bg = [](std::vector<std::string>& l) -> Coro<void> {
      l.push_back("running");
      co_return;
    };
    Task<void> t = create_task(bg(log));
    log.push_back("continuing immediately");
    co_await t;
    EXPECT_EQ(log, (std::vector<std::string>{"continuing immediately", "running"}));
  };
  run(main());
}

TEST_P(TaskTest, ReadyTasksRunInCreationOrder) {
  auto main = []() -> Coro<void> {
    std::vector<int> order;
    auto body = [](std::vector<int>& o, int id) -> Coro<void> {
      o.push_back(id);
      co_return;
    };
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 5; ++i)
      tasks.push_back(create_task(body(order, i)));
    for (auto& t : tasks)
      co_await t;
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  };
  run(main());
}

TEST_P(TaskTest, YieldingTasksInterleaveRoundRobin) {
  auto main = []() -> Coro<void> {
    std::string trace;
    auto body = [](std::string& tr, char c) -> Coro<void> {
      for (int i = 0; i < 3; ++i) {
        tr += c;
        co_await sleep(0s);
      }
    };
    co_await gather(body(trace, 'a'), body(trace, 'b'), body(trace, 'c'));
    EXPECT_EQ(trace, "abcabcabc");
  };
  run(main());
}

TEST_P(TaskTest, DroppedTaskHandleDoesNotStopTheTask) {
  auto main = []() -> Coro<void> {
    int done = 0;
    auto bg = [](int& d) -> Coro<void> {
      co_await sleep(10ms);
      d = 1;
    };
    { (void)create_task(bg(done)); }  // handle gone at once
    spawn(bg(done));
    co_await sleep(1s);
    EXPECT_EQ(done, 1);
  };
  run_virtual(main());
}

TEST_P(TaskTest, SeveralAwaitersOfOneTaskAllGetItsResult) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(after(10ms, 5));
    auto wait_on = [](Task<int> task) -> Coro<int> { co_return co_await task; };
    auto [a, b] = co_await gather(wait_on(t), wait_on(t));
    EXPECT_EQ(a, 5);
    EXPECT_EQ(b, 5);
    EXPECT_EQ(co_await t, 5);  // and again after it finished
    EXPECT_EQ(t.result(), 5);
  };
  run_virtual(main());
}

TEST_P(TaskTest, ResultOfAnUnfinishedTaskIsAnInvalidStateError) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(after(1s, 1));
    EXPECT_FALSE(t.done());
    EXPECT_THROW((void)t.result(), InvalidStateError);
    EXPECT_THROW((void)t.exception(), InvalidStateError);
    co_await t;
  };
  run_virtual(main());
}

TEST_P(TaskTest, CancelThrowsAtTheAwaitPointAndCleanupRuns) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    struct Guard {
      std::vector<std::string>& l;
      ~Guard() { l.push_back("destructor"); }
    };
    auto body = [](std::vector<std::string>& l) -> Coro<void> {
      Guard g{l};
      try {
        co_await sleep(1h);
        l.push_back("not reached");
      } catch (const CancelledError&) {
        l.push_back("catch");
        throw;
      }
    };
    Task<void> t = create_task(body(log));
    co_await sleep(1s);
    EXPECT_TRUE(t.cancel());
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_TRUE(t.cancelled());
    EXPECT_EQ(log, (std::vector<std::string>{"catch", "destructor"}));
  };
  run_virtual(main());
  EXPECT_LT(virtual_elapsed(), 2s);
}

TEST_P(TaskTest, CancelOfAFinishedTaskReturnsFalse) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(value(3));
    EXPECT_EQ(co_await t, 3);
    EXPECT_FALSE(t.cancel());
    EXPECT_FALSE(t.cancelled());
  };
  run(main());
}

TEST_P(TaskTest, TaskCancelledBeforeItStartsNeverRunsItsBody) {
  auto main = []() -> Coro<void> {
    bool ran = false;
    auto body = [](bool& r) -> Coro<void> {
      r = true;
      co_return;
    };
    Task<void> t = create_task(body(ran));
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_FALSE(ran);
    EXPECT_TRUE(t.cancelled());
  };
  run(main());
}

TEST_P(TaskTest, ATaskMaySwallowCancellationAndReturnAValue) {
  auto main = []() -> Coro<void> {
    auto stubborn = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        co_return 99;
      }
      co_return 0;
    };
    Task<int> t = create_task(stubborn());
    co_await sleep(1ms);
    t.cancel();
    EXPECT_EQ(co_await t, 99);
    EXPECT_FALSE(t.cancelled());
    EXPECT_EQ(t.cancelling(), 1u);
    EXPECT_EQ(t.uncancel(), 0u);
  };
  run_virtual(main());
}

TEST_P(TaskTest, CancelWhileRunningIsDeliveredAtTheNextAwait) {
  auto main = []() -> Coro<void> {
    Task<void>* self = nullptr;
    int steps = 0;
    auto body = [](Task<void>*& me, int& s) -> Coro<void> {
      me->cancel();  // cancelling itself: nothing to interrupt yet
      ++s;
      co_await sleep(0s);
      ++s;
    };
    Task<void> t = create_task(body(self, steps));
    self = &t;
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_EQ(steps, 1);
  };
  run(main());
}

TEST_P(TaskTest, SeveralCancelsBeforeTheTaskResumesRaiseOneCancelledError) {
  auto main = []() -> Coro<void> {
    auto body = []() -> Coro<int> {
      int caught = 0;
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        ++caught;
      }
      co_await sleep(1ms);  // the extra cancel() calls must not strike again here
      co_return caught;
    };
    Task<int> t = create_task(body());
    co_await sleep(1s);
    EXPECT_TRUE(t.cancel());
    EXPECT_TRUE(t.cancel());
    EXPECT_TRUE(t.cancel());
    EXPECT_EQ(co_await t, 1);
    EXPECT_EQ(t.cancelling(), 3u);
  };
  run_virtual(main());
}

TEST_P(TaskTest, CancellingTheAwaiterOfATaskCancelsThatTaskToo) {
  auto main = []() -> Coro<void> {
    Task<int> inner = create_task(after(1h, 1));
    auto outer_body = [](Task<int> t) -> Coro<int> { co_return co_await t; };
    Task<int> outer = create_task(outer_body(inner));
    co_await sleep(1s);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    EXPECT_TRUE(inner.cancelled());
  };
  run_virtual(main());
}

TEST_P(TaskTest, AnExceptionNobodyRetrievedIsReportedOnStderr) {
  ::testing::internal::CaptureStderr();
  auto main = []() -> Coro<void> {
    spawn(fail_after(1ms, 1));
    co_await sleep(1s);
  };
  run_virtual(main());
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Task exception was never retrieved"), std::string::npos) << err;
  EXPECT_NE(err.find("boom"), std::string::npos) << err;
}

TEST_P(TaskTest, RetrievedAndCancelledExceptionsAreNotReported) {
  ::testing::internal::CaptureStderr();
  auto main = []() -> Coro<void> {
    Task<void> failed = create_task(fail_after(1ms, 1));
    Task<int> cancelled = create_task(after(1h, 1));
    co_await sleep(1s);
    EXPECT_NE(failed.exception(), nullptr);
    cancelled.cancel();
    co_await sleep(1s);
  };
  run_virtual(main());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_P(TaskTest, RunCancelsTasksStillPendingWhenMainReturns) {
  bool cleaned = false;
  auto main = [](bool& c) -> Coro<int> {
    auto forever = [](bool& flag) -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        flag = true;
        throw;
      }
    };
    spawn(forever(c));
    co_await sleep(1ms);
    co_return 5;
  };
  EXPECT_EQ(run_virtual(main(cleaned)), 5);
  EXPECT_TRUE(cleaned);
}

// Regression (fuzz/scheduler_fuzz): cancelling a task that awaits another passes the
// cancel on; when that one finishes anyway (its queue get had already won the item, so
// its cancel waits for a next await that never comes), the waiter used to run on as if
// never cancelled, and a wait_for() on it waited forever.
TEST_P(TaskTest, AWaiterWhoseCancelWasPassedOnEndsCancelledEvenIfTheTaskFinishes) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    Event never;
    auto getter = [](Queue<int>& q) -> Coro<int> { co_return co_await q.get(); };
    Task<int> inner = create_task(getter(q));
    auto waiter = [](Task<int> t, Event& never) -> Coro<int> {
      const int v = co_await t;
      co_await never.wait();  // only a cancel gets past this
      co_return v;
    };
    Task<int> outer = create_task(waiter(inner, never));
    co_await sleep(0s);  // both wait
    q.put_nowait(7);     // inner wins the item; its wake-up is queued
    EXPECT_THROW(co_await wait_for(outer, 0s), TimeoutError);
    EXPECT_TRUE(outer.cancelled());
    EXPECT_EQ(co_await inner, 7);  // the item was not lost
  };
  run_bounded(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(TaskTest);

}  // namespace
}  // namespace corio
