// The loop API: call_soon / call_later / call_at and their handles, run_forever and
// stop, run_until_complete, close (asyncio's loop methods of the same names).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::Boom;
using Log = std::vector<std::string>;

/// How often `needle` occurs in `text`.
std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

Coro<void> sleep_forever() {
  co_await sleep(24h);
}

Coro<void> pause(Duration d) {
  co_await sleep(d);
}

// --- call_soon ---------------------------------------------------------------------

class CallSoonTest : public BackendTest {};

TEST_P(CallSoonTest, RunsCallbacksInTheOrderTheyWereQueued) {
  EventLoop loop(options());
  std::vector<int> order;
  for (int i = 0; i < 5; ++i)
    loop.call_soon([&order, i] { order.push_back(i); });
  loop.call_soon([&loop] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_P(CallSoonTest, ACancelledCallbackNeverRuns) {
  EventLoop loop(options());
  bool ran = false;
  Handle h = loop.call_soon([&ran] { ran = true; });
  EXPECT_FALSE(h.cancelled());
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  loop.stop();
  loop.run_forever();
  EXPECT_FALSE(ran);
}

TEST_P(CallSoonTest, CancelAfterTheCallbackRanDoesNothing) {
  EventLoop loop(options());
  int runs = 0;
  Handle h = loop.call_soon([&runs] { ++runs; });
  loop.stop();
  loop.run_forever();
  h.cancel();
  EXPECT_FALSE(h.cancelled());
  EXPECT_EQ(runs, 1);
}

TEST_P(CallSoonTest, ACallbackCancellingItsOwnHandleStillCompletes) {
  EventLoop loop(options());
  Handle self;
  bool finished = false;
  self = loop.call_soon([&] {
    self.cancel();  // already running: too late, like cancelling after it ran
    finished = true;
  });
  loop.stop();
  loop.run_forever();
  EXPECT_TRUE(finished);
  EXPECT_FALSE(self.cancelled());
}

TEST_P(CallSoonTest, CancelDropsWhatTheCallbackCapturedAtOnce) {
  EventLoop loop(options());
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  Handle h = loop.call_soon([token = std::move(token)] {});
  h.cancel();
  EXPECT_TRUE(watch.expired());
}

TEST_P(CallSoonTest, DroppingTheHandleDoesNotCancel) {
  EventLoop loop(options());
  bool ran = false;
  (void)loop.call_soon([&ran] { ran = true; });
  loop.stop();
  loop.run_forever();
  EXPECT_TRUE(ran);
}

TEST_P(CallSoonTest, CopiesOfAHandleShareIt) {
  EventLoop loop(options());
  bool ran = false;
  Handle a = loop.call_soon([&ran] { ran = true; });
  Handle b = a;
  b.cancel();
  EXPECT_TRUE(a.cancelled());
  loop.stop();
  loop.run_forever();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(Handle().valid());
  EXPECT_TRUE(a.valid());
}

TEST_P(CallSoonTest, ACallbackQueuedByACallbackWaitsForTheNextTurn) {
  EventLoop loop(options());
  Log log;
  loop.call_soon([&] {
    log.push_back("first");
    loop.call_soon([&log] { log.push_back("queued by first"); });
    loop.stop();  // the turn still runs what was queued before it began
  });
  loop.call_soon([&log] { log.push_back("second"); });
  loop.run_forever();
  EXPECT_EQ(log, (Log{"first", "second"}));
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(log, (Log{"first", "second", "queued by first"}));
}

TEST_P(CallSoonTest, CallbacksAndTaskStepsShareOneQueue) {
  auto main = []() -> Coro<Log> {
    Log log;
    EventLoop& loop = get_running_loop();
    loop.call_soon([&log] { log.push_back("callback"); });
    log.push_back("task before yield");
    co_await sleep(0s);  // queued behind the callback
    log.push_back("task after yield");
    co_return log;
  };
  EXPECT_EQ(run(main()), (Log{"task before yield", "callback", "task after yield"}));
}

TEST_P(CallSoonTest, AnExceptionIsReportedAndTheLoopGoesOn) {
  EventLoop loop(options());
  bool after = false;
  loop.call_soon([] { throw std::runtime_error("callback failed"); });
  loop.call_soon([] { throw Boom(); });
  loop.call_soon([&] {
    after = true;
    loop.stop();
  });
  ::testing::internal::CaptureStderr();
  loop.run_forever();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(after);
  EXPECT_EQ(count(err, "corio: exception in callback: "), 2U) << err;
  EXPECT_NE(err.find("callback failed"), std::string::npos) << err;
}

TEST_P(CallSoonTest, ThreadsafeCallbacksReportExceptionsToo) {
  EventLoop loop(options());
  loop.call_soon_threadsafe([] { throw std::runtime_error("from the inbox"); });
  loop.call_soon_threadsafe([&loop] { loop.stop(); });
  ::testing::internal::CaptureStderr();
  loop.run_forever();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("corio: exception in callback: "), std::string::npos) << err;
  EXPECT_NE(err.find("from the inbox"), std::string::npos) << err;
}

CORIO_INSTANTIATE_BACKEND_SUITE(CallSoonTest);

// --- call_later / call_at ------------------------------------------------------------

class CallLaterTest : public BackendTest {
 protected:
  [[nodiscard]] RunOptions virtual_time() {
    RunOptions o = options();
    o.clock = &clock_;
    return o;
  }
};

TEST_P(CallLaterTest, CallbacksRunInDeadlineOrderAtTheirDeadlines) {
  EventLoop loop(virtual_time());
  const TimePoint start = loop.now();
  std::vector<std::pair<std::string, Duration>> fired;
  auto note = [&](std::string name) {
    return [&fired, &loop, start, name] { fired.emplace_back(name, loop.now() - start); };
  };
  loop.call_later(30ms, note("c"));
  loop.call_later(10ms, note("a"));
  loop.call_later(20ms, note("b"));
  loop.call_later(40ms, [&loop] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(fired.size(), 3U);
  EXPECT_EQ(fired[0], std::make_pair(std::string("a"), Duration(10ms)));
  EXPECT_EQ(fired[1], std::make_pair(std::string("b"), Duration(20ms)));
  EXPECT_EQ(fired[2], std::make_pair(std::string("c"), Duration(30ms)));
}

TEST_P(CallLaterTest, EqualDeadlinesRunInCallOrder) {
  EventLoop loop(virtual_time());
  const TimePoint when = loop.now() + 5ms;
  std::vector<int> order;
  for (int i = 0; i < 8; ++i)
    loop.call_at(when, [&order, i] { order.push_back(i); });
  loop.call_at(when, [&loop] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_P(CallLaterTest, WhenIsTheDeadlineOnTheLoopsClock) {
  EventLoop loop(virtual_time());
  const TimePoint now = loop.now();
  EXPECT_EQ(loop.call_later(250ms, [] {}).when(), now + 250ms);
  EXPECT_EQ(loop.call_at(now + 1s, [] {}).when(), now + 1s);
  // A fractional delay is rounded up: a timer never fires early.
  EXPECT_EQ(loop.call_later(std::chrono::duration<double>(1.5e-9), [] {}).when(), now + 2ns);
}

TEST_P(CallLaterTest, ADueTimerRunsAfterTheCallbacksAlreadyQueued) {
  EventLoop loop(virtual_time());
  Log log;
  loop.call_soon([&log] { log.push_back("soon 1"); });
  loop.call_later(0s, [&log] { log.push_back("later 0"); });
  loop.call_soon([&log] { log.push_back("soon 2"); });
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(log, (Log{"soon 1", "soon 2", "later 0"}));
}

TEST_P(CallLaterTest, ACancelledTimerNeverRunsAndLeavesTheHeapAtOnce) {
  EventLoop loop(virtual_time());
  bool ran = false;
  TimerHandle h = loop.call_later(10ms, [&ran] { ran = true; });
  EXPECT_EQ(loop.reactor().timer_count(), 1U);
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(loop.reactor().timer_count(), 0U);
  loop.call_later(20ms, [&loop] { loop.stop(); });
  loop.run_forever();
  EXPECT_FALSE(ran);
}

TEST_P(CallLaterTest, ManyCancelledTimersLeaveNothingBehind) {
  EventLoop loop(virtual_time());
  std::vector<TimerHandle> handles;
  for (int i = 0; i < 10000; ++i)
    handles.push_back(loop.call_later(1h + i * 1ms, [] {}));
  EXPECT_EQ(loop.reactor().timer_count(), 10000U);
  for (TimerHandle& h : handles)
    h.cancel();
  EXPECT_EQ(loop.reactor().timer_count(), 0U);
  handles.clear();  // the last references: the states go (ASan would see a leak)
  loop.stop();
  loop.run_forever();
}

TEST_P(CallLaterTest, ATimerCancelledAfterItCameDueStillNeverRuns) {
  EventLoop loop(virtual_time());
  bool ran = false;
  TimerHandle late;
  // Queued first, so it runs after the timer came due but before its callback.
  loop.call_soon([&late] { late.cancel(); });
  late = loop.call_later(0s, [&ran] { ran = true; });
  loop.stop();
  loop.run_forever();
  EXPECT_FALSE(ran);
  EXPECT_TRUE(late.cancelled());
}

TEST_P(CallLaterTest, CallbacksCanScheduleCallbacks) {
  EventLoop loop(virtual_time());
  const TimePoint start = loop.now();
  int hops = 0;
  std::function<void()> hop = [&] {
    if (++hops == 5) {
      loop.stop();
    } else {
      loop.call_later(10ms, hop);
    }
  };
  loop.call_later(10ms, hop);
  loop.run_forever();
  EXPECT_EQ(hops, 5);
  EXPECT_EQ(loop.now() - start, Duration(50ms));
}

TEST_P(CallLaterTest, OnTheRealClockACallbackNeverRunsEarly) {
  EventLoop loop(options());
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  loop.call_later(20ms, [&] {
    waited = std::chrono::steady_clock::now() - start;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_GE(waited, 20ms);
}

CORIO_INSTANTIATE_BACKEND_SUITE(CallLaterTest);

// --- run_forever / stop --------------------------------------------------------------

class RunForeverTest : public BackendTest {};

TEST_P(RunForeverTest, StopBeforehandMakesItRunOneTurn) {
  EventLoop loop(options());
  Log log;
  loop.call_soon([&] {
    log.push_back("queued before");
    loop.call_soon([&log] { log.push_back("queued during"); });
  });
  loop.stop();
  loop.run_forever();  // would block for ever without the stop: nothing else is pending
  EXPECT_EQ(log, (Log{"queued before"}));
  EXPECT_FALSE(loop.is_running());
}

TEST_P(RunForeverTest, StopFromATaskReturnsAndTheTaskCanGoOnLater) {
  EventLoop loop(options());
  int steps = 0;
  auto worker = [](int& n) -> Coro<void> {
    ++n;
    get_running_loop().stop();
    co_await sleep(1ms);
    ++n;
  };
  Task<void> t = create_task(worker(steps));
  loop.run_forever();
  EXPECT_EQ(steps, 1);
  EXPECT_FALSE(t.done());
  loop.run_until_complete(t);
  EXPECT_EQ(steps, 2);
}

TEST_P(RunForeverTest, StopFromAnotherThreadWakesTheBlockedLoop) {
  EventLoop loop(options());
  std::thread other([&loop] {
    std::this_thread::sleep_for(20ms);  // most likely the loop is blocked by now
    loop.call_soon_threadsafe([&loop] { loop.stop(); });
  });
  loop.run_forever();  // no timers, no I/O: only the wake-up ends the wait
  other.join();
  EXPECT_FALSE(loop.is_running());
}

TEST_P(RunForeverTest, IsRunningOnlyWhileARunIsUnderWay) {
  EventLoop loop(options());
  bool inside = false;
  EXPECT_FALSE(loop.is_running());
  loop.call_soon([&] {
    inside = loop.is_running();
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(inside);
  EXPECT_FALSE(loop.is_running());
}

TEST_P(RunForeverTest, RunningALoopFromInsideItselfIsAnError) {
  EventLoop loop(options());
  int refused = 0;
  loop.call_soon([&] {
    try {
      loop.run_forever();
    } catch (const InvalidStateError&) {
      ++refused;
    }
    try {
      loop.run_until_complete(sleep_forever());
    } catch (const InvalidStateError&) {
      ++refused;
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(loop.task_count(), 0U) << "the refused coroutine must not become a task";
}

TEST_P(RunForeverTest, RunningAnotherLoopInsideARunningOneIsAnError) {
  auto main = [](RunOptions o) -> Coro<void> {
    EventLoop& outer = get_running_loop();
    {
      EventLoop inner(o);
      EXPECT_THROW(inner.run_forever(), InvalidStateError);
    }
    EXPECT_EQ(&get_running_loop(), &outer);
    co_await sleep(1ms);  // the outer loop still works
  };
  run(main(options()));
}

CORIO_INSTANTIATE_BACKEND_SUITE(RunForeverTest);

// --- run_until_complete --------------------------------------------------------------

class RunUntilCompleteTest : public BackendTest {};

TEST_P(RunUntilCompleteTest, ReturnsTheCoroutinesValue) {
  EventLoop loop(options());
  EXPECT_EQ(loop.run_until_complete(testing::after(2ms, 42)), 42);
  EXPECT_EQ(loop.run_until_complete(testing::after(1ms, std::string("again"))), "again");
}

TEST_P(RunUntilCompleteTest, RethrowsTheCoroutinesException) {
  EventLoop loop(options());
  EXPECT_THROW(loop.run_until_complete(testing::fail_after<int>(1ms, 3)), Boom);
  EXPECT_EQ(loop.run_until_complete(testing::after(1ms, 5)), 5) << "the loop is still usable";
}

TEST_P(RunUntilCompleteTest, TakesATaskAndLeavesItsResultForOthers) {
  EventLoop loop(options());
  Task<std::string> t = create_task(testing::after(1ms, std::string("shared")));
  EXPECT_EQ(loop.run_until_complete(t), "shared");
  EXPECT_EQ(t.result(), "shared");
}

TEST_P(RunUntilCompleteTest, OtherTasksRunMeanwhileAndStayPendingAfterwards) {
  EventLoop loop(options());
  int ticks = 0;
  auto ticker = [](int& n) -> Coro<void> {
    for (;;) {
      ++n;
      co_await sleep(1ms);
    }
  };
  Task<void> background = create_task(ticker(ticks));
  loop.run_until_complete(pause(10ms));
  EXPECT_GE(ticks, 2);
  EXPECT_FALSE(background.done());
  background.cancel();
  EXPECT_THROW(loop.run_until_complete(background), CancelledError);
}

TEST_P(RunUntilCompleteTest, StoppedBeforeTheTaskFinishedIsAnError) {
  EventLoop loop(options());
  auto stops = []() -> Coro<int> {
    get_running_loop().stop();
    co_await sleep(1ms);
    co_return 7;
  };
  Task<int> t = create_task(stops());
  EXPECT_THROW(loop.run_until_complete(t), InvalidStateError);
  EXPECT_FALSE(t.done());
  EXPECT_EQ(loop.run_until_complete(t), 7) << "a second run finishes it";
}

TEST_P(RunUntilCompleteTest, StopInsideRunEndsItAndCancelsWhatIsLeft) {
  auto main = []() -> Coro<void> {
    spawn(sleep_forever());
    get_running_loop().stop();
    co_await sleep_forever();
  };
  ::testing::internal::CaptureStderr();
  EXPECT_THROW(run(main()), InvalidStateError);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "") << "everything was cancelled and awaited, nothing destroyed pending";
}

CORIO_INSTANTIATE_BACKEND_SUITE(RunUntilCompleteTest);

// --- get_running_loop, close ---------------------------------------------------------

class LoopControlTest : public BackendTest {};

TEST_P(LoopControlTest, GetRunningLoopIsTheLoopRunningTheTask) {
  auto main = []() -> Coro<bool> {
    EventLoop& loop = get_running_loop();
    co_return &loop == EventLoop::current() && loop.is_running() && !loop.is_closed();
  };
  EXPECT_TRUE(run(main()));
}

TEST_P(LoopControlTest, CloseWhileRunningIsAnError) {
  EventLoop loop(options());
  bool refused = false;
  loop.call_soon([&] {
    try {
      loop.close();
    } catch (const InvalidStateError&) {
      refused = true;
    }
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(refused);
  EXPECT_FALSE(loop.is_closed());
}

TEST_P(LoopControlTest, CloseDestroysPendingTasksReportingEach) {
  EventLoop loop(options());
  auto starter = []() -> Coro<void> {
    for (int i = 0; i < 3; ++i)
      spawn(sleep_forever());
    co_await sleep(1ms);  // they have all started sleeping
  };
  loop.run_until_complete(starter());
  EXPECT_EQ(loop.task_count(), 3U);
  ::testing::internal::CaptureStderr();
  loop.close();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(err, "corio: Task was destroyed but it is pending!"), 3U) << err;
  EXPECT_EQ(loop.task_count(), 0U);
  EXPECT_TRUE(loop.is_closed());
}

TEST_P(LoopControlTest, CloseDropsCallbacksThatNeverRan) {
  EventLoop loop(options());
  auto soon_token = std::make_shared<int>(1);
  auto later_token = std::make_shared<int>(2);
  std::weak_ptr<int> soon_watch = soon_token;
  std::weak_ptr<int> later_watch = later_token;
  Handle soon = loop.call_soon([t = std::move(soon_token)] {});
  TimerHandle later = loop.call_later(1h, [t = std::move(later_token)] {});
  loop.close();
  EXPECT_TRUE(soon_watch.expired());
  EXPECT_TRUE(later_watch.expired());
  later.cancel();  // harmless: the loop no longer holds it
  soon.cancel();
}

TEST_P(LoopControlTest, CloseIsIdempotentAndTheDestructorAfterItIsFine) {
  auto loop = std::make_unique<EventLoop>(options());
  EXPECT_FALSE(loop->is_closed());
  loop->close();
  EXPECT_TRUE(loop->is_closed());
  loop->close();
  EXPECT_EQ(loop->backend_name(), GetParam()) << "still answers after close";
  loop.reset();
}

TEST_P(LoopControlTest, EveryRunAndCallAfterCloseThrows) {
  EventLoop loop(options());
  loop.close();
  auto expect_closed = [](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "no exception";
    } catch (const InvalidStateError& e) {
      EXPECT_NE(std::string(e.what()).find("event loop is closed"), std::string::npos) << e.what();
    }
  };
  expect_closed([&] { loop.run_forever(); });
  expect_closed([&] { (void)loop.run_until_complete(testing::after(1ms, 1)); });
  expect_closed([&] { loop.call_soon([] {}); });
  expect_closed([&] { loop.call_later(1ms, [] {}); });
  expect_closed([&] { loop.call_at(loop.now(), [] {}); });
  expect_closed([&] { loop.call_soon_threadsafe([] {}); });
  expect_closed([&] { (void)loop.thread_pool(); });
}

TEST_P(LoopControlTest, AClosedLoopIsNoLongerCurrent) {
  EventLoop loop(options());
  EXPECT_EQ(EventLoop::current(), &loop);
  loop.close();
  EXPECT_EQ(EventLoop::current(), nullptr);
  // So corio::run works while the closed loop object still exists.
  EXPECT_EQ(run(testing::after(1ms, 9)), 9);
}

TEST_P(LoopControlTest, CloseJoinsTheThreadPool) {
  EventLoop loop(options());
  auto main = []() -> Coro<int> { co_return co_await to_thread([] { return 6; }); };
  EXPECT_EQ(loop.run_until_complete(main()), 6);
  loop.close();
  EXPECT_THROW(loop.thread_pool().submit([] {}), InvalidStateError);
}

TEST_P(LoopControlTest, ATaskHandleKeptPastCloseCanStillBeCancelledAndDropped) {
  EventLoop loop(options());
  Task<void> t = create_task(sleep_forever());
  loop.run_until_complete(pause(1ms));
  loop.close();  // the loop lets go; our handle keeps the frame
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(t.cancel());  // nothing left to interrupt: only marks it
  ::testing::internal::CaptureStderr();
  t = Task<void>();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Task was destroyed but it is pending!"), std::string::npos) << err;
}

CORIO_INSTANTIATE_BACKEND_SUITE(LoopControlTest);

TEST(LoopControlWithoutALoopTest, GetRunningLoopThrows) {
  EXPECT_THROW((void)get_running_loop(), InvalidStateError);
}

}  // namespace
}  // namespace corio
