// run_on: a coroutine run on another loop, awaited from this one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::Boom;

class RunOnTest : public BackendTest {
 protected:
  [[nodiscard]] RunOptions two_loops() const {
    RunOptions o = options();
    o.threads = 2;
    return o;
  }
};

Coro<std::pair<std::thread::id, EventLoop*>> whereabouts() {
  co_await sleep(1ms);
  co_return std::make_pair(std::this_thread::get_id(), EventLoop::current());
}

TEST_P(RunOnTest, RunsOnTheTargetLoopAndResumesTheCallerOnItsOwn) {
  Runtime rt(two_loops());
  // Both directions at once: loop 0 calls into loop 1 while loop 1 calls into loop 0.
  auto main = [&rt](std::size_t i) -> Coro<bool> {
    EventLoop& other = rt.loop(1 - i);
    auto [thread, loop] = co_await run_on(other, whereabouts());
    const bool ran_there = loop == &other && thread != std::this_thread::get_id();
    const bool back_here = EventLoop::current() == &rt.loop(i);
    co_return ran_there&& back_here;
  };
  EXPECT_EQ(rt.run(main), (std::vector<bool>{true, true}));
}

TEST_P(RunOnTest, PassesResultsAndExceptionsBack) {
  Runtime rt(two_loops());
  auto main = [&rt](std::size_t i) -> Coro<void> {
    if (i == 1) co_return;
    auto answer = []() -> Coro<int> {
      co_await sleep(1ms);
      co_return 42;
    };
    EXPECT_EQ(co_await run_on(rt.loop(1), answer()), 42);
    EXPECT_THROW(co_await run_on(rt.loop(1), testing::fail_after(1ms, 3)), Boom);
    auto nothing = []() -> Coro<void> { co_return; };
    co_await run_on(rt.loop(1), nothing());
  };
  rt.run(main);
}

// Polls (on the loop) until `flag` is set by another thread.
Coro<void> until_set(const std::atomic<bool>& flag) {
  for (;;) {
    const bool set = flag.load();
    if (set) break;
    co_await sleep(1ms);
  }
}

TEST_P(RunOnTest, CancellingTheCallerCancelsTheRemoteTaskAndWaitsForIt) {
  Runtime rt(two_loops());
  auto main = [&rt](std::size_t i) -> Coro<void> {
    if (i == 1) co_return;
    // Lives in the caller's frame: the remote coroutine may use it because run_on
    // returns only once the remote task has ended.
    bool remote_saw_cancel = false;
    std::atomic<bool> started{false};
    auto stuck = [](std::atomic<bool>& go, bool& saw) -> Coro<int> {
      go = true;
      try {
        co_await sleep(std::chrono::hours(1));
      } catch (const CancelledError&) {
        saw = true;
        throw;
      }
      co_return 0;
    };
    auto caller = [](EventLoop& target, Coro<int> c) -> Coro<int> {
      int v = co_await run_on(target, std::move(c));
      co_return v;
    };
    Task<int> t = create_task(caller(rt.loop(1), stuck(started, remote_saw_cancel)));
    co_await until_set(started);
    t.cancel();
    const bool cancelled = co_await testing::ends_cancelled(t);
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(remote_saw_cancel);
  };
  rt.run(main);
}

TEST_P(RunOnTest, ARemoteTaskThatFinishesAnywayKeepsItsResultAndTheCancelIsNotLost) {
  Runtime rt(two_loops());
  auto main = [&rt](std::size_t i) -> Coro<void> {
    if (i == 1) co_return;
    std::atomic<bool> started{false};
    auto stubborn = [](std::atomic<bool>& go) -> Coro<int> {
      go = true;
      try {
        co_await sleep(std::chrono::hours(1));
      } catch (const CancelledError&) {
      }
      co_return 5;  // swallowed the cancellation
    };
    auto caller = [](EventLoop& target, Coro<int> c, int& got) -> Coro<void> {
      got = co_await run_on(target, std::move(c));
      co_await sleep(std::chrono::hours(1));  // the deferred cancellation lands here
    };
    int got = 0;
    Task<void> t = create_task(caller(rt.loop(1), stubborn(started), got));
    co_await until_set(started);
    t.cancel();
    const bool cancelled = co_await testing::ends_cancelled(t);
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(got, 5);
  };
  rt.run(main);
}

TEST_P(RunOnTest, OnTheCallersOwnLoopItSimplyAwaits) {
  auto main = []() -> Coro<void> {
    auto [thread, loop] = co_await run_on(*EventLoop::current(), whereabouts());
    EXPECT_EQ(thread, std::this_thread::get_id());
    EXPECT_EQ(loop, EventLoop::current());
  };
  run(main());
}

TEST_P(RunOnTest, AClosedTargetLoopIsAnInvalidStateError) {
  std::unique_ptr<EventLoop> closed;
  RunOptions o = options();
  std::thread([&closed, o] {
    closed = std::make_unique<EventLoop>(o);
    closed->close();
  }).join();
  auto main = [&closed]() -> Coro<void> {
    auto never = []() -> Coro<int> { co_return 1; };
    EXPECT_THROW(co_await run_on(*closed, never()), InvalidStateError);
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(RunOnTest);

}  // namespace
}  // namespace corio
