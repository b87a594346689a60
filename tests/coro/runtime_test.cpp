// Runtime: N loops on N threads, run together like a TaskGroup across loops.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::Boom;

class RuntimeTest : public BackendTest {
 protected:
  [[nodiscard]] RunOptions threaded(std::size_t n) const {
    RunOptions o = options();
    o.threads = n;
    return o;
  }
};

struct Where {
  std::thread::id thread;
  EventLoop* loop;
  std::string backend;
  std::size_t index;
};

TEST_P(RuntimeTest, RunsEachMainOnItsOwnLoopAndThreadAndReturnsResultsInLoopOrder) {
  Runtime rt(threaded(3));
  ASSERT_EQ(rt.size(), 3u);
  std::vector<Where> where = rt.run([&rt](std::size_t i) -> Coro<Where> {
    co_await sleep(1ms);  // a real turn of the loop, not just the first step
    EXPECT_EQ(&rt.loop(i), EventLoop::current());
    co_return Where{std::this_thread::get_id(), EventLoop::current(),
                    std::string(current_backend()), i};
  });
  ASSERT_EQ(where.size(), 3u);
  std::set<std::thread::id> threads;
  std::set<EventLoop*> loops;
  for (std::size_t i = 0; i < where.size(); ++i) {
    EXPECT_EQ(where[i].index, i);
    EXPECT_EQ(where[i].backend, GetParam());
    EXPECT_NE(where[i].thread, std::this_thread::get_id());
    threads.insert(where[i].thread);
    loops.insert(where[i].loop);
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(loops.size(), 3u);
  EXPECT_EQ(EventLoop::current(), nullptr);  // the caller's thread got no loop
}

TEST_P(RuntimeTest, TheFirstFailureIsRethrownAfterTheOtherMainsAreCancelled) {
  std::atomic<int> cancelled{0};
  auto main = [&cancelled](std::size_t i) -> Coro<void> {
    if (i == 1) {
      co_await sleep(5ms);
      throw Boom(1);
    }
    try {
      co_await sleep(std::chrono::hours(1));
    } catch (const CancelledError&) {
      ++cancelled;
      throw;
    }
  };
  EXPECT_THROW(run_threads(main, threaded(3)), Boom);
  EXPECT_EQ(cancelled.load(), 2);
}

TEST_P(RuntimeTest, AMainThatThrowsBeforeItsFirstAwaitFailsTheRun) {
  auto main = [](std::size_t i) -> Coro<int> {
    if (i == 0) throw Boom(7);
    co_await sleep(std::chrono::hours(1));
    co_return 1;
  };
  try {
    run_threads(main, threaded(2));
    ADD_FAILURE() << "no exception";
  } catch (const Boom& e) {
    EXPECT_EQ(e.code, 7);
  }
}

TEST_P(RuntimeTest, StopFromAnotherThreadCancelsEveryMain) {
  Runtime rt(threaded(2));
  std::atomic<int> started{0};
  std::atomic<int> cancelled{0};
  std::thread stopper([&] {
    while (started.load() < 2)
      std::this_thread::sleep_for(1ms);
    rt.stop();
  });
  auto main = [&](std::size_t) -> Coro<void> {
    ++started;
    try {
      co_await sleep(std::chrono::hours(1));
    } catch (const CancelledError&) {
      ++cancelled;
      throw;
    }
  };
  EXPECT_THROW(rt.run(main), CancelledError);
  stopper.join();
  EXPECT_EQ(cancelled.load(), 2);
  // The stop was for that run only: the next one runs to the end.
  auto quick = [](std::size_t i) -> Coro<std::size_t> { co_return i; };
  EXPECT_EQ(rt.run(quick), (std::vector<std::size_t>{0, 1}));
}

TEST_P(RuntimeTest, StopBeforeRunCancelsTheMainsOfTheNextRunAsTheyStart) {
  Runtime rt(threaded(2));
  rt.stop();
  auto main = [](std::size_t) -> Coro<int> {
    co_await sleep(std::chrono::hours(1));
    co_return 1;
  };
  EXPECT_THROW(rt.run(main), CancelledError);
}

TEST_P(RuntimeTest, AMainThatReturnsKeepsItsLoopServingTheOthersUntilAllHaveReturned) {
  Runtime rt(threaded(2));
  auto main = [&rt](std::size_t i) -> Coro<std::thread::id> {
    if (i == 0) co_return std::this_thread::get_id();
    co_await sleep(20ms);  // loop 0's main is long done by now (not required, only likely)
    auto here = []() -> Coro<std::thread::id> { co_return std::this_thread::get_id(); };
    std::thread::id there = co_await run_on(rt.loop(0), here());
    co_return there;
  };
  std::vector<std::thread::id> ids = rt.run(main);
  EXPECT_EQ(ids[0], ids[1]);  // loop 1's coroutine ran on loop 0's thread
}

TEST_P(RuntimeTest, TasksLeftWhenTheMainsEndAreCancelledOnTheirLoop) {
  std::atomic<int> cleaned{0};
  auto main = [&cleaned](std::size_t) -> Coro<void> {
    auto forever = [](std::atomic<int>& c) -> Coro<void> {
      try {
        co_await sleep(std::chrono::hours(1));
      } catch (const CancelledError&) {
        ++c;
        throw;
      }
    };
    spawn(forever(cleaned));
    co_await sleep(1ms);
  };
  run_threads(main, threaded(2));
  EXPECT_EQ(cleaned.load(), 2);
}

TEST_P(RuntimeTest, LoopIsOnlyReachableDuringRun) {
  Runtime rt(threaded(2));
  EXPECT_THROW((void)rt.loop(0), InvalidStateError);
  auto main = [&rt](std::size_t) -> Coro<void> {
    EXPECT_THROW((void)rt.loop(2), std::out_of_range);
    co_return;
  };
  rt.run(main);
  EXPECT_THROW((void)rt.loop(1), InvalidStateError);
}

TEST_P(RuntimeTest, RunFromInsideALoopIsRefused) {
  auto main = [this]() -> Coro<void> {
    Runtime rt(threaded(2));
    auto inner = [](std::size_t) -> Coro<void> { co_return; };
    EXPECT_THROW(rt.run(inner), InvalidStateError);
    co_return;
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(RuntimeTest);

TEST(RuntimeOptionsTest, AnUnknownBackendFailsTheRunBeforeAnyMainRuns) {
  std::atomic<int> ran{0};
  auto main = [&ran](std::size_t) -> Coro<void> {
    ++ran;
    co_return;
  };
  RunOptions o;
  o.backend = "no-such-backend";
  o.threads = 2;
  EXPECT_THROW(run_threads(main, o), BackendError);
  EXPECT_EQ(ran.load(), 0);
}

TEST(RuntimeOptionsTest, ZeroThreadsMeansOneLoopPerUsableCpu) {
  RunOptions o;
  o.threads = 0;
  Runtime rt(o);
  EXPECT_GE(rt.size(), 1u);
  EXPECT_LE(rt.size(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(RuntimeOptionsTest, CorioRunRefusesMoreThanOneThread) {
  auto main = []() -> Coro<void> { co_return; };
  RunOptions o;
  o.threads = 2;
  EXPECT_THROW(corio::run(main(), o), std::invalid_argument);
}

}  // namespace
}  // namespace corio
