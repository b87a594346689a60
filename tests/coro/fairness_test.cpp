// A turn serves timers, I/O and ready tasks alike (design.md, "The loop"): no waiter,
// however it waits, keeps a turn going or starves the others. On every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>

#include "backend_param.hpp"
#include "corio/corio.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class FairnessTest : public BackendTest {};

// The periodic ticker of the issue: ten seconds behind, it has 10,000 ticks to catch up.
constexpr int kCatchUpTicks = 10000;

Coro<void> catch_up_ticker(int& ticks, const bool& stop) {
  TimePoint next = EventLoop::running().now() - 10s;
  while (!stop && ticks < kCatchUpTicks) {
    next += 1ms;
    co_await sleep_until(next);
    ++ticks;
  }
}

TEST_P(FairnessTest, ACatchUpTickerAndAReadyTaskAlternate) {
  auto main = []() -> Coro<void> {
    int ticks = 0;
    bool stop = false;
    Task<void> ticker = create_task(catch_up_ticker(ticks, stop));
    co_await sleep(0s);  // the ticker takes its first step
    int widest_gap = 0;
    int last = ticks;
    for (int i = 0; i < 200; ++i) {
      co_await sleep(0s);
      widest_gap = std::max(widest_gap, ticks - last);
      last = ticks;
    }
    stop = true;
    co_await ticker;
    // Before the fix the ticker's 10,000 ticks all ran in one turn.
    EXPECT_LE(widest_gap, 2);
    EXPECT_LT(ticks, kCatchUpTicks);
  };
  run(main());
}

TEST_P(FairnessTest, AnAlreadyDueSleepUntilYieldsInsteadOfKeepingTheTurn) {
  auto main = []() -> Coro<void> {
    int spins = 0;
    bool stop = false;
    auto spinner = [](int& n, const bool& done) -> Coro<void> {
      const TimePoint past = EventLoop::running().now() - 1s;
      while (!done) {
        co_await sleep_until(past);  // `for (;;) co_await sleep_until(past)`
        ++n;
      }
    };
    Task<void> t = create_task(spinner(spins, stop));
    for (int i = 0; i < 50; ++i)
      co_await sleep(0s);
    stop = true;
    co_await t;
    // One spin per turn: this task's 50 yields saw about 50 of them, not an endless turn.
    EXPECT_GE(spins, 40);
    EXPECT_LE(spins, 52);
  };
  run(main());
}

// Ping-pong over a socket pair while a ticker catches up: each round trip needs the
// backend to deliver completions, which must happen between the ticks.
TEST_P(FairnessTest, IoCompletionsAreDeliveredWhileATickerCatchesUp) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto echo = [](Socket& s) -> Coro<void> {
      char buf[64];
      for (;;) {
        std::size_t n = co_await s.recv(buf, sizeof buf);
        if (n == 0) co_return;
        co_await s.send_all(std::string_view(buf, n));
      }
    };
    Task<void> echoer = create_task(echo(b));
    int ticks = 0;
    bool stop = false;
    Task<void> ticker = create_task(catch_up_ticker(ticks, stop));
    constexpr int kRoundTrips = 100;
    int widest = 0;
    for (int i = 0; i < kRoundTrips; ++i) {
      const int before = ticks;
      co_await a.send_all("ping");
      char buf[4];
      std::size_t got = 0;
      while (got < sizeof buf) {
        std::size_t n = co_await a.recv(buf + got, sizeof buf - got);
        EXPECT_NE(n, 0u);
        if (n == 0) break;
        got += n;
      }
      EXPECT_EQ(std::string_view(buf, 4), "ping");
      widest = std::max(widest, ticks - before);
    }
    const int ticks_at_end = ticks;
    stop = true;
    a.shutdown();
    co_await echoer;
    co_await ticker;
    // A round trip takes a few turns (send, the echo's receive, the echo's send, our
    // receive), and each turn may give the ticker one tick.
    EXPECT_LE(widest, 12);
    EXPECT_LT(ticks_at_end, kCatchUpTicks);
  };
  run(main());
}

// The cooperative budget limits a step, so a task whose operations all finish at once
// still lets the others run every kBudget operations, and nothing the task does within
// its step (awaits that finish without suspending, inline I/O) refills it.
TEST_P(FairnessTest, TheBudgetCannotBeResetByTheTaskItLimits) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    constexpr std::size_t kBytes = 4000;
    co_await a.send_all(std::string(kBytes, 'x'));
    co_await sleep(10ms);  // let every byte reach b (io_uring reads it ahead)
    int others = 0;
    bool stop = false;
    auto other = [](int& n, const bool& done) -> Coro<void> {
      while (!done) {
        co_await sleep(0s);
        ++n;
      }
    };
    Task<void> t = create_task(other(others, stop));
    co_await sleep(0s);
    Event ready;
    ready.set();
    Task<int> finished = create_task([]() -> Coro<int> { co_return 1; }());
    co_await finished;
    int widest = 0;
    int run_length = 0;
    int last = others;
    for (std::size_t i = 0; i < kBytes; ++i) {
      char c = 0;
      EXPECT_EQ(co_await b.recv(&c, 1), 1u);
      co_await ready.wait();  // done already: no suspension
      co_await finished;      // likewise
      if (others == last) {
        ++run_length;
      } else {
        run_length = 1;
        last = others;
      }
      widest = std::max(widest, run_length);
    }
    stop = true;
    co_await t;
    // Readiness backends receive each byte inline; io_uring copies from what it read
    // ahead. Either way the other task ran at least every 128 (+1) receives.
    EXPECT_LE(widest, 129);
    EXPECT_GT(others, static_cast<int>(kBytes / 129) - 1);
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(FairnessTest);

}  // namespace
}  // namespace corio
