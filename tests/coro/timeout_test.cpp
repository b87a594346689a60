// timeout() / timeout_at(): deadline scopes in the current task.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
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
using testing::fail_after;

class TimeoutTest : public BackendTest {};

TEST_P(TimeoutTest, ReturnsTheBodysValueWhenItFinishesInTime) {
  auto main = []() -> Coro<void> {
    Timeout t = timeout(5s);
    EXPECT_EQ(co_await t.run(after(1s, 7)), 7);
    EXPECT_FALSE(t.expired());
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, ExpiryCancelsTheBodyAndRaisesTimeoutErrorAfterItsCleanup) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<std::string> log;
    auto body = [](std::vector<std::string>& log) -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        log.push_back("cleanup");
        throw;
      }
    };
    Timeout t = timeout(2s);
    bool timed_out = false;
    try {
      co_await t.run(body(log));
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
    EXPECT_TRUE(t.expired());
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
    // The scope withdrew its own cancellation: the task is not left cancelling.
    co_await sleep(1s);
  };
  run_bounded(main(clock_));
}

TEST_P(TimeoutTest, TheTaskIsNotLeftCancelling) {
  auto main = []() -> Coro<void> {
    auto inner = []() -> Coro<unsigned> {
      try {
        co_await timeout(1s).run(sleep(1h));
      } catch (const TimeoutError&) {
      }
      co_await sleep(1s);  // no stray CancelledError here
      co_return 0;
    };
    Task<unsigned> t = create_task(inner());
    co_await t;
    EXPECT_EQ(t.cancelling(), 0u);
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, ABodyExceptionPassesThroughUnchanged) {
  auto main = []() -> Coro<void> { co_await timeout(5s).run(fail_after(1s, 3)); };
  EXPECT_THROW(run_bounded(main()), Boom);
}

TEST_P(TimeoutTest, RescheduleExtendsTheDeadlineFromInsideTheBody) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Timeout t = timeout(1s);
    auto body = [](Timeout& t) -> Coro<int> {
      co_await sleep(500ms);
      t.reschedule(*t.when() + 3s);  // now 4 s from the start
      co_await sleep(2s);
      co_return 5;
    };
    EXPECT_EQ(co_await t.run(body(t)), 5);
    EXPECT_EQ(clock.now() - TimePoint{}, 2500ms);
  };
  run_bounded(main(clock_));
}

TEST_P(TimeoutTest, RescheduleCanShortenAndRemoveTheDeadline) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Timeout t = timeout(std::nullopt);
    auto body = [](Timeout& t) -> Coro<void> {
      t.reschedule(EventLoop::running().now() + 1s);
      co_await sleep(10s);
    };
    EXPECT_THROW(co_await t.run(body(t)), TimeoutError);
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);

    Timeout never = timeout(1s);
    auto unbounded = [](Timeout& t) -> Coro<void> {
      t.reschedule(std::nullopt);
      co_await sleep(10s);
    };
    co_await never.run(unbounded(never));
    EXPECT_FALSE(never.expired());
    EXPECT_EQ(clock.now() - TimePoint{}, 11s);
  };
  run_bounded(main(clock_));
}

TEST_P(TimeoutTest, RescheduleOutsideTheScopeIsAnError) {
  auto main = []() -> Coro<void> {
    Timeout t = timeout(1s);
    EXPECT_THROW(t.reschedule(std::nullopt), RuntimeError);  // not entered
    co_await t.run(sleep(10ms));
    EXPECT_THROW(t.reschedule(std::nullopt), RuntimeError);   // exited
    EXPECT_THROW(co_await t.run(sleep(10ms)), RuntimeError);  // entered twice
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, APastDeadlineStillLetsTheBodyStart) {
  auto main = []() -> Coro<void> {
    bool started = false;
    auto body = [](bool& started) -> Coro<void> {
      started = true;
      co_await sleep(1s);
    };
    EXPECT_THROW(co_await timeout_at(EventLoop::running().now() - 1s).run(body(started)),
                 TimeoutError);
    EXPECT_TRUE(started);
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, NestedInnerExpiryIsTheInnerScopesTimeout) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Timeout outer = timeout(10s);
    auto body = [](bool& inner_timed_out) -> Coro<void> {
      try {
        co_await timeout(1s).run(sleep(1h));
      } catch (const TimeoutError&) {
        inner_timed_out = true;
      }
      co_await sleep(1s);  // the outer scope is still live and not cancelled
    };
    bool inner_timed_out = false;
    co_await outer.run(body(inner_timed_out));
    EXPECT_TRUE(inner_timed_out);
    EXPECT_FALSE(outer.expired());
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
  };
  run_bounded(main(clock_));
}

TEST_P(TimeoutTest, NestedOuterExpiryPassesThroughTheInnerScopeAsCancellation) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Timeout outer = timeout(1s);
    auto body = [](bool& inner_saw_cancel) -> Coro<void> {
      try {
        co_await timeout(10s).run(sleep(1h));
      } catch (const CancelledError&) {
        inner_saw_cancel = true;  // the inner scope did not claim it
        throw;
      }
    };
    bool inner_saw_cancel = false;
    EXPECT_THROW(co_await outer.run(body(inner_saw_cancel)), TimeoutError);
    EXPECT_TRUE(inner_saw_cancel);
    EXPECT_TRUE(outer.expired());
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);
  };
  run_bounded(main(clock_));
}

TEST_P(TimeoutTest, NestedScopesExpiringTogetherReportTheOuterOne) {
  auto main = []() -> Coro<void> {
    Timeout outer = timeout(1s);
    auto body = []() -> Coro<void> { co_await timeout(1s).run(sleep(1h)); };
    // Both fired; the inner one sees a second request and lets the error through.
    EXPECT_THROW(co_await outer.run(body()), TimeoutError);
    EXPECT_TRUE(outer.expired());
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, AnOuterCancelStaysCancelledErrorEvenIfTheDeadlinePassed) {
  auto main = []() -> Coro<void> {
    // The body takes one more step to unwind after the deadline cancelled it; the outer
    // cancel arrives in that step, after the deadline passed and before the scope exits.
    auto slow_to_unwind = []() -> Coro<void> {
      bool cancelled = false;
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        co_await sleep(0s);  // the outer cancel lands here
        throw CancelledError();
      }
    };
    auto worker = [](auto body) -> Coro<void> { co_await timeout(1s).run(body()); };
    Task<void> t = create_task(worker(slow_to_unwind));
    auto killer = [](Task<void> t) -> Coro<void> {
      co_await sleep(1s);  // the same instant as the deadline, queued after it
      t.cancel();
    };
    spawn(killer(t));
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_TRUE(t.cancelled());
  };
  run_bounded(main());
}

// asyncio's order: both timers are due in the same turn, each only queues its waiter,
// and the body unwinds (ending the scope with TimeoutError) before the killer runs.
TEST_P(TimeoutTest, ACancelDueAtTheDeadlinesInstantComesAfterTheTimeoutLikeAsyncio) {
  auto main = []() -> Coro<void> {
    auto worker = []() -> Coro<void> { co_await timeout(1s).run(sleep(1h)); };
    Task<void> t = create_task(worker());
    auto killer = [](Task<void> t) -> Coro<void> {
      co_await sleep(1s);  // the same instant as the deadline, queued after it
      t.cancel();          // too late: t has finished
    };
    spawn(killer(t));
    EXPECT_THROW(co_await t, TimeoutError);
    EXPECT_FALSE(t.cancelled());
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, AnOuterCancelBeforeTheDeadlineIsCancelledError) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    auto worker = []() -> Coro<void> { co_await timeout(10s).run(sleep(1h)); };
    Task<void> t = create_task(worker());
    co_await sleep(1s);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_EQ(clock.now() - TimePoint{}, 1s);
  };
  run_bounded(main(clock_));
}

TEST_P(TimeoutTest, ABodyThatSwallowsTheCancellationReturnsNormally) {
  auto main = []() -> Coro<void> {
    auto stubborn = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      co_return 9;
    };
    Timeout t = timeout(1s);
    EXPECT_EQ(co_await t.run(stubborn()), 9);
    EXPECT_TRUE(t.expired());
    co_await sleep(1s);  // and no cancellation lingers
  };
  run_bounded(main());
}

TEST_P(TimeoutTest, WorksOverRealIo) {
  // A read that never gets data is cut off by the deadline on the real clock.
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    char buf[8];
    bool timed_out = false;
    try {
      co_await timeout(20ms).run(a.recv(buf, sizeof buf));
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
  };
  run(main());
}

TEST_P(TimeoutTest, RunsAFutureSetInTime) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    testing::set_later(f, 1s, 11);
    int v = co_await timeout(2s).run(f);
    EXPECT_EQ(v, 11);
    EXPECT_FALSE(f.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 1s);
}

TEST_P(TimeoutTest, ExpiryCancelsTheFutureItRunsAndRaisesTimeoutError) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Future<std::string> f;
    bool timed_out = false;
    try {
      co_await timeout(2s).run(f);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(clock.now() - TimePoint{}, 2s);
    EXPECT_TRUE(f.cancelled());  // as `async with timeout(2): await fut` does
    co_await sleep(1s);          // and the task is not left cancelled
  };
  run_virtual(main(clock_));
  EXPECT_EQ(virtual_elapsed(), 3s);
}

TEST_P(TimeoutTest, RunsATaskAndCancelsItOnExpiry) {
  auto main = []() -> Coro<void> {
    Task<int> quick = create_task(after(1s, 3));
    int v = co_await timeout(2s).run(quick);
    EXPECT_EQ(v, 3);
    Task<int> slow = create_task(after(1h, 4));
    EXPECT_THROW(co_await timeout(1s).run(slow), TimeoutError);
    EXPECT_TRUE(slow.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 2s);
}

TEST_P(TimeoutTest, RunningATaskByNameLeavesItsResultInIt) {
  auto main = []() -> Coro<void> {
    Task<std::string> t = create_task(after(1s, std::string("kept")));
    std::string v = co_await timeout(2s).run(t);
    EXPECT_EQ(v, "kept");
    std::string again = co_await t;  // copied out, not moved: the task still holds it
    EXPECT_EQ(again, "kept");
  };
  run_virtual(main());
}

TEST_P(TimeoutTest, RunsUserAwaitables) {
  auto main = []() -> Coro<void> {
    Future<int> f;
    testing::set_later(f, 1s, 5);
    // Named: g++ 12 destroys an aggregate temporary with a destructor (these hold a
    // Future) twice when it is made inside a co_await expression (README's traps).
    testing::Doubled twice{f};
    int d = co_await timeout(2s).run(std::move(twice));
    EXPECT_EQ(d, 10);
    Future<std::string> never;
    testing::Wrapped boxed{never};
    EXPECT_THROW(co_await timeout(1s).run(std::move(boxed)), TimeoutError);
    EXPECT_TRUE(never.cancelled());
  };
  run_virtual(main());
  EXPECT_EQ(virtual_elapsed(), 2s);
}

CORIO_INSTANTIATE_BACKEND_SUITE(TimeoutTest);

}  // namespace
}  // namespace corio
