// Channel: a bounded MPMC queue between loops and threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class ChannelTest : public BackendTest {
 protected:
  [[nodiscard]] RunOptions loops(std::size_t n) const {
    RunOptions o = options();
    o.threads = n;
    return o;
  }
};

TEST_P(ChannelTest, ProducersAndConsumersOnSeveralLoopsMoveEveryItemExactlyOnce) {
  constexpr std::size_t kLoops = 3;
  constexpr int kProducersPerLoop = 2;
  constexpr int kItemsPerProducer = 3000;
  constexpr int kProducers = static_cast<int>(kLoops) * kProducersPerLoop;
  Channel<int> ch(4);  // small, so senders often wait for room
  std::atomic<int> producers_left{kProducers};

  auto produce = [](Channel<int>& c, std::atomic<int>& left, int first) -> Coro<void> {
    for (int n = 0; n < kItemsPerProducer; ++n)
      co_await c.send(first + n);
    if (--left == 0) c.close();  // the last producer done: consumers drain and stop
  };
  auto consume = [](Channel<int>& c, std::vector<int>& got) -> Coro<void> {
    for (;;) {
      int v = 0;
      try {
        v = co_await c.recv();
      } catch (const ChannelClosed&) {
        break;
      }
      got.push_back(v);
    }
  };
  auto main = [&](std::size_t i) -> Coro<std::vector<int>> {
    std::vector<int> got_a, got_b;
    std::vector<Task<void>> tasks;
    for (int p = 0; p < kProducersPerLoop; ++p) {
      const int id = static_cast<int>(i) * kProducersPerLoop + p;
      tasks.push_back(create_task(produce(ch, producers_left, id * kItemsPerProducer)));
    }
    tasks.push_back(create_task(consume(ch, got_a)));
    tasks.push_back(create_task(consume(ch, got_b)));
    for (Task<void>& t : tasks)
      co_await t;
    got_a.insert(got_a.end(), got_b.begin(), got_b.end());
    co_return got_a;
  };
  std::vector<std::vector<int>> per_loop = run_threads(main, loops(kLoops));
  std::vector<int> all;
  for (const std::vector<int>& got : per_loop)
    all.insert(all.end(), got.begin(), got.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kProducers * kItemsPerProducer));
  for (int n = 0; n < kProducers * kItemsPerProducer; ++n)
    ASSERT_EQ(all[static_cast<std::size_t>(n)], n);
}

TEST_P(ChannelTest, ItemsFromOneProducerArriveInOrder) {
  Channel<int> ch(2);
  auto main = [&ch](std::size_t i) -> Coro<bool> {
    if (i == 0) {
      for (int n = 0; n < 1000; ++n)
        co_await ch.send(n);
      ch.close();
      co_return true;
    }
    int expect = 0;
    for (;;) {
      int v = -1;
      try {
        v = co_await ch.recv();
      } catch (const ChannelClosed&) {
        break;
      }
      if (v != expect) co_return false;
      ++expect;
    }
    co_return expect == 1000;
  };
  EXPECT_EQ(run_threads(main, loops(2)), (std::vector<bool>{true, true}));
}

TEST_P(ChannelTest, CloseWakesReceiversAndSendersWaitingOnOtherLoops) {
  Channel<int> empty(1);
  Channel<int> full(1);
  std::atomic<int> waiting{0};
  auto main = [&](std::size_t i) -> Coro<int> {
    if (i == 0) {
      while (waiting.load() < 2)  // both are about to wait (or waiting): close either way
        co_await sleep(1ms);
      co_await sleep(5ms);  // likely suspended by now, so the wake-up path is exercised
      empty.close();
      full.close();
      co_return 0;
    }
    co_await full.send(1);  // fills it
    int closed = 0;
    auto recv_one = [](Channel<int>& c, std::atomic<int>& w) -> Coro<int> {
      ++w;
      co_return co_await c.recv();
    };
    auto send_one = [](Channel<int>& c, std::atomic<int>& w) -> Coro<void> {
      ++w;
      co_await c.send(2);
    };
    Task<int> r = create_task(recv_one(empty, waiting));
    Task<void> s = create_task(send_one(full, waiting));
    try {
      co_await r;
    } catch (const ChannelClosed&) {
      ++closed;
    }
    try {
      co_await s;
    } catch (const ChannelClosed&) {
      ++closed;
    }
    co_return closed;
  };
  std::vector<int> closed = run_threads(main, loops(2));
  EXPECT_EQ(closed[1], 2);
}

TEST_P(ChannelTest, ReceiversDrainWhatIsBufferedBeforeTheyHearOfTheClose) {
  auto main = []() -> Coro<void> {
    Channel<int> ch(3);
    co_await ch.send(1);
    co_await ch.send(2);
    ch.close();
    EXPECT_THROW(co_await ch.send(3), ChannelClosed);
    EXPECT_EQ(co_await ch.recv(), 1);
    EXPECT_EQ(co_await ch.recv(), 2);
    EXPECT_THROW(co_await ch.recv(), ChannelClosed);
    EXPECT_THROW(ch.try_recv(), ChannelClosed);
  };
  run(main());
}

TEST_P(ChannelTest, ACancelledReceiverTakesNothing) {
  auto main = []() -> Coro<void> {
    Channel<int> ch(1);
    auto take = [](Channel<int>& c) -> Coro<int> { co_return co_await c.recv(); };
    Task<int> t = create_task(take(ch));
    co_await sleep(1ms);
    t.cancel();
    const bool cancelled = co_await testing::ends_cancelled(t);
    EXPECT_TRUE(cancelled);
    int item = 9;
    EXPECT_TRUE(ch.try_send(item));
    EXPECT_EQ(ch.try_recv(), 9);
  };
  run(main());
}

TEST_P(ChannelTest, ACancelledSenderSendsNothing) {
  auto main = []() -> Coro<void> {
    Channel<int> ch(1);
    co_await ch.send(1);
    auto put = [](Channel<int>& c) -> Coro<void> { co_await c.send(2); };
    Task<void> t = create_task(put(ch));
    co_await sleep(1ms);
    t.cancel();
    const bool cancelled = co_await testing::ends_cancelled(t);
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(co_await ch.recv(), 1);
    EXPECT_FALSE(ch.try_recv().has_value());
  };
  run(main());
}

TEST_P(ChannelTest, APlainThreadCanFeedAReceiverOnALoop) {
  Channel<int> ch(1);
  auto main = [&ch]() -> Coro<int> {
    std::thread feeder([&ch] {
      for (int n = 1; n <= 100;) {
        int item = n;
        if (ch.try_send(item)) {
          ++n;
        } else {
          std::this_thread::yield();
        }
      }
      ch.close();
    });
    int sum = 0;
    for (;;) {
      int v = 0;
      try {
        v = co_await ch.recv();
      } catch (const ChannelClosed&) {
        break;
      }
      sum += v;
    }
    feeder.join();
    co_return sum;
  };
  EXPECT_EQ(run(main()), 5050);
}

TEST(ChannelBasicsTest, TryCallsReportFullAndEmptyAndZeroCapacityIsRefused) {
  EXPECT_THROW(Channel<int>(0), std::invalid_argument);
  Channel<int> ch(1);
  int a = 1, b = 2;
  EXPECT_TRUE(ch.try_send(a));
  EXPECT_FALSE(ch.try_send(b));
  EXPECT_EQ(b, 2);  // not taken
  EXPECT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch.try_recv(), 1);
  EXPECT_EQ(ch.try_recv(), std::nullopt);
  ch.close();
  EXPECT_TRUE(ch.closed());
  EXPECT_THROW(ch.try_send(b), ChannelClosed);
}

CORIO_INSTANTIATE_BACKEND_SUITE(ChannelTest);

}  // namespace
}  // namespace corio
