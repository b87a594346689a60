// to_thread, call_soon_threadsafe and run_coroutine_threadsafe: work across threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
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

class ThreadsTest : public BackendTest {};

TEST_P(ThreadsTest, ToThreadRunsElsewhereWithoutBlockingTheLoop) {
  auto main = []() -> Coro<void> {
    int ticks = 0;
    auto ticker = [](int& t) -> Coro<void> {
      for (;;) {
        ++t;
        co_await sleep(1ms);
      }
    };
    Task<void> tick = create_task(ticker(ticks));
    const auto loop_thread = std::this_thread::get_id();
    auto [id, v] = co_await to_thread([] {
      std::this_thread::sleep_for(30ms);
      return std::make_pair(std::this_thread::get_id(), 7);
    });
    EXPECT_NE(id, loop_thread);
    EXPECT_EQ(v, 7);
    EXPECT_GE(ticks, 3);  // the loop kept running meanwhile
    tick.cancel();
    EXPECT_THROW(co_await tick, CancelledError);
  };
  run(main());
}

TEST_P(ThreadsTest, ToThreadPassesArgumentsAndExceptionsBack) {
  auto main = []() -> Coro<void> {
    EXPECT_EQ(co_await to_thread([](int a, int b) { return a * b; }, 6, 7), 42);
    EXPECT_THROW(co_await to_thread([] { throw Boom(2); }), Boom);
    co_await to_thread([] {});  // void works too
  };
  run(main());
}

TEST_P(ThreadsTest, CancellingToThreadReturnsAtOnceAndDropsTheLateResult) {
  auto main = []() -> Coro<void> {
    auto release = std::make_shared<std::promise<void>>();
    std::shared_future<void> gate = release->get_future().share();
    auto blocked = [](std::shared_future<void> g) -> Coro<int> {
      // Named first: g++ 12 destroys a by-value capture of a lambda that is a temporary
      // in a co_await expression one time too many (a double release of the future's
      // shared state, which corrupted the heap under mingw; clang is right).
      auto wait_for_gate = [g] {
        g.wait();
        return 1;
      };
      co_return co_await to_thread(std::move(wait_for_gate));
    };
    Task<int> t = create_task(blocked(gate));
    co_await sleep(5ms);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    release->set_value();  // the thread finishes after its waiter is gone
    co_await sleep(20ms);
    EXPECT_EQ(co_await to_thread([] { return 2; }), 2);  // and the pool still works
  };
  run(main());
}

TEST_P(ThreadsTest, ThePoolSizeBoundsHowManyJobsRunAtOnce) {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  auto main = [](std::atomic<int>& r, std::atomic<int>& p) -> Coro<void> {
    auto job = [&r, &p]() -> Coro<void> {
      co_await to_thread([&r, &p] {
        int now = ++r;
        int seen = p.load();
        while (now > seen && !p.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(5ms);
        --r;
      });
    };
    std::vector<Coro<void>> jobs;
    for (int i = 0; i < 8; ++i)
      jobs.push_back(job());
    co_await gather(std::move(jobs));
  };
  RunOptions o = options();
  o.thread_pool_size = 2;
  corio::run(main(running, peak), o);
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
}

TEST_P(ThreadsTest, CallSoonThreadsafeWakesALoopBlockedInTheBackend) {
  auto main = []() -> Coro<int> {
    Future<int> f;
    EventLoop& loop = EventLoop::running();
    // The loop has no timers and no I/O: it blocks in the backend until woken.
    std::thread helper([&loop, f]() mutable {
      std::this_thread::sleep_for(20ms);
      loop.call_soon_threadsafe([f]() mutable { f.set_result(11); });
    });
    int v = co_await f;
    helper.join();
    co_return v;
  };
  EXPECT_EQ(run(main()), 11);
}

TEST_P(ThreadsTest, ManyThreadsPostingAtOnceLoseNothing) {
  auto main = []() -> Coro<int> {
    constexpr int kThreads = 4, kPosts = 2000;
    int received = 0;
    Future<void> all_in;
    EventLoop& loop = EventLoop::running();
    std::vector<std::thread> posters;
    for (int t = 0; t < kThreads; ++t) {
      posters.emplace_back([&loop, &received, all_in]() {
        for (int i = 0; i < kPosts; ++i) {
          loop.call_soon_threadsafe([&received, all_in]() mutable {
            if (++received == kThreads * kPosts) all_in.set_result();
          });
        }
      });
    }
    co_await all_in;
    for (auto& p : posters)
      p.join();
    co_return received;
  };
  EXPECT_EQ(run(main()), 4 * 2000);
}

TEST_P(ThreadsTest, RunCoroutineThreadsafeServesAPlainThread) {
  auto main = []() -> Coro<int> {
    EventLoop& loop = EventLoop::running();
    Future<int> answer;
    std::promise<int> from_thread;
    std::future<int> thread_result = from_thread.get_future();
    std::thread client([&loop, &from_thread, answer] {
      auto work = [](int x) -> Coro<int> {
        co_await sleep(1ms);
        co_return x * 2;
      };
      std::future<int> r = run_coroutine_threadsafe(work(21), loop);
      int v = r.get();  // blocks this plain thread, not the loop
      from_thread.set_value(v);
      loop.call_soon_threadsafe([answer, v]() mutable { answer.set_result(v); });
    });
    int v = co_await answer;
    client.join();
    EXPECT_EQ(thread_result.get(), 42);
    co_return v;
  };
  EXPECT_EQ(run(main()), 42);
}

CORIO_INSTANTIATE_BACKEND_SUITE(ThreadsTest);

}  // namespace
}  // namespace corio
