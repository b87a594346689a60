// Queue, LifoQueue, PriorityQueue: order, waiting, nowait errors, join, shutdown, and
// cancellation that never loses or duplicates an item.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "corio/coro/queue.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class QueueTest : public BackendTest {};

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The buffered items in the order get() gives them. Tests compare its result through a
// named local: g++ 12 rejects a braced list in a full-expression that has a co_await.
template <class Q>
Coro<std::vector<int>> drain(Q& q) {
  std::vector<int> out;
  while (!q.empty())
    out.push_back(co_await q.get());
  co_return out;
}

Coro<int> get_one(Queue<int>& q) {
  co_return co_await q.get();
}

// Logs what it got, then awaits once more: a cancel deferred by the hand-off lands there.
Coro<void> get_then_yield(Queue<int>& q, std::vector<int>& got) {
  got.push_back(co_await q.get());
  co_await sleep(0s);
}

Coro<void> put_and_log(Queue<int>& q, int v, std::vector<int>& log) {
  co_await q.put(v);
  log.push_back(v);
}

Coro<void> produce(Queue<int>& q, int first, int count) {
  for (int i = first; i < first + count; ++i)
    co_await q.put(i);
}

// Takes items until the queue is shut down and empty, marking each done.
Coro<void> consume(Queue<int>& q, std::vector<int>& got) {
  try {
    for (;;) {
      got.push_back(co_await q.get());
      q.task_done();
    }
  } catch (const QueueShutDown&) {
  }
}

// Awaits every task, counting those that ended cancelled.
Coro<int> await_all(std::vector<Task<void>>& tasks) {
  int cancelled = 0;
  for (auto& t : tasks) {
    try {
      co_await t;
    } catch (const CancelledError&) {
      ++cancelled;
    }
  }
  co_return cancelled;
}

TEST_P(QueueTest, QueueReturnsItemsInTheOrderTheyWerePut) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    const std::vector<int> in{3, 1, 2};
    for (int v : in)
      co_await q.put(v);
    EXPECT_EQ(q.qsize(), 3u);
    const std::vector<int> out = co_await drain(q);
    EXPECT_EQ(out, (std::vector<int>{3, 1, 2}));
  };
  run_bounded(main());
}

TEST_P(QueueTest, LifoQueueReturnsTheNewestItemFirst) {
  auto main = []() -> Coro<void> {
    LifoQueue<int> q;
    const std::vector<int> in{3, 1, 2};
    for (int v : in)
      co_await q.put(v);
    const std::vector<int> out = co_await drain(q);
    EXPECT_EQ(out, (std::vector<int>{2, 1, 3}));
  };
  run_bounded(main());
}

TEST_P(QueueTest, PriorityQueueReturnsTheSmallestItemFirst) {
  auto main = []() -> Coro<void> {
    std::vector<int> in = iota(500);
    std::shuffle(in.begin(), in.end(), std::mt19937(3));
    PriorityQueue<int> q;
    PriorityQueue<int, std::greater<int>> largest_first;
    for (int v : in) {
      co_await q.put(v);
      largest_first.put_nowait(v);
    }
    EXPECT_EQ(co_await drain(q), iota(500));
    std::vector<int> down = iota(500);
    std::reverse(down.begin(), down.end());
    EXPECT_EQ(co_await drain(largest_first), down);
  };
  run_bounded(main());
}

TEST_P(QueueTest, PutWaitsWhileFullAndWaitingPuttersResumeInFifoOrder) {
  auto main = []() -> Coro<void> {
    Queue<int> q(2);
    EXPECT_EQ(q.maxsize(), 2u);
    co_await q.put(0);
    co_await q.put(1);
    EXPECT_TRUE(q.full());
    std::vector<int> log;
    std::vector<Task<void>> putters;
    for (int v = 2; v < 5; ++v)
      putters.push_back(create_task(put_and_log(q, v, log)));
    co_await sleep(1s);
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(q.get_nowait(), 0);
    EXPECT_TRUE(q.full());  // the oldest putter's item took the freed slot at once
    co_await sleep(0s);
    EXPECT_EQ(log, (std::vector<int>{2}));
    std::vector<int> out;
    for (int i = 0; i < 4; ++i)
      out.push_back(co_await q.get());
    EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(co_await await_all(putters), 0);
    EXPECT_EQ(log, (std::vector<int>{2, 3, 4}));
  };
  run_bounded(main());
}

TEST_P(QueueTest, GetWaitsUntilAnItemIsPut) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    Task<int> getter = create_task(get_one(q));
    co_await sleep(5s);
    EXPECT_FALSE(getter.done());
    co_await q.put(7);
    EXPECT_EQ(co_await getter, 7);
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 5s);
}

TEST_P(QueueTest, WaitingGettersAreServedInFifoOrder) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    std::vector<Task<int>> getters;
    for (int i = 0; i < 5; ++i)
      getters.push_back(create_task(get_one(q)));
    co_await sleep(0s);
    for (int v = 10; v < 15; ++v)
      q.put_nowait(v);
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(co_await getters[static_cast<std::size_t>(i)], 10 + i);
  };
  run_bounded(main());
}

TEST_P(QueueTest, NowaitCallsThrowQueueFullAndQueueEmpty) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    EXPECT_THROW(q.get_nowait(), QueueEmpty);
    q.put_nowait(1);
    EXPECT_THROW(q.put_nowait(2), QueueFull);
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_THROW(q.get_nowait(), QueueEmpty);
    Queue<int> unbounded;
    for (int i = 0; i < 1000; ++i)
      unbounded.put_nowait(i);
    EXPECT_FALSE(unbounded.full());
    co_return;
  };
  run_bounded(main());
}

TEST_P(QueueTest, NowaitCallsDoNotOvertakeWaitingTasks) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    Task<int> getter = create_task(get_one(q));
    co_await sleep(0s);
    q.put_nowait(1);                           // handed to the waiting getter...
    EXPECT_THROW(q.get_nowait(), QueueEmpty);  // ...so it is not ours to take
    EXPECT_EQ(co_await getter, 1);

    q.put_nowait(2);
    std::vector<int> log;
    Task<void> putter = create_task(put_and_log(q, 3, log));
    co_await sleep(0s);
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_THROW(q.put_nowait(4), QueueFull);  // the slot went to the waiting putter
    co_await putter;
    EXPECT_EQ(q.get_nowait(), 3);
  };
  run_bounded(main());
}

TEST_P(QueueTest, JoinWaitsUntilEveryItemIsMarkedDone) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    co_await q.join();  // nothing unfinished: returns at once
    for (int i = 0; i < 3; ++i)
      q.put_nowait(i);
    auto joiner = [](Queue<int>& q) -> Coro<void> { co_await q.join(); };
    Task<void> j = create_task(joiner(q));
    for (int i = 0; i < 3; ++i) {
      (void)q.get_nowait();
      co_await sleep(1s);
      EXPECT_FALSE(j.done());
      q.task_done();
    }
    co_await sleep(0s);
    EXPECT_TRUE(j.done());
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 3s);
}

TEST_P(QueueTest, TaskDoneCalledMoreOftenThanItemsWerePutThrows) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    EXPECT_THROW(q.task_done(), std::invalid_argument);
    q.put_nowait(1);
    (void)q.get_nowait();
    EXPECT_NO_THROW(q.task_done());
    EXPECT_THROW(q.task_done(), std::invalid_argument);
    co_return;
  };
  run_bounded(main());
}

TEST_P(QueueTest, ShutdownWakesWaitingGettersWithQueueShutDown) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    std::vector<Task<int>> getters;
    for (int i = 0; i < 3; ++i)
      getters.push_back(create_task(get_one(q)));
    co_await sleep(1s);
    q.shutdown();
    for (auto& g : getters)
      EXPECT_THROW(co_await g, QueueShutDown);
  };
  run_bounded(main());
}

TEST_P(QueueTest, ShutdownLetsGettersDrainTheRemainingItemsThenThrows) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    q.shutdown();
    EXPECT_TRUE(q.is_shut_down());
    EXPECT_THROW(q.put_nowait(3), QueueShutDown);
    EXPECT_THROW(co_await q.put(3), QueueShutDown);
    EXPECT_EQ(co_await q.get(), 1);
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_THROW(co_await q.get(), QueueShutDown);
    EXPECT_THROW(q.get_nowait(), QueueShutDown);
  };
  run_bounded(main());
}

TEST_P(QueueTest, ShutdownWakesWaitingPuttersWithQueueShutDownWithoutAddingTheirItems) {
  for (bool immediate : {false, true}) {
    auto main = [](bool now) -> Coro<void> {
      Queue<int> q(1);
      q.put_nowait(1);
      std::vector<int> log;
      std::vector<Task<void>> putters;
      for (int v = 2; v < 4; ++v)
        putters.push_back(create_task(put_and_log(q, v, log)));
      co_await sleep(1s);
      q.shutdown(now);
      for (auto& p : putters)
        EXPECT_THROW(co_await p, QueueShutDown);
      EXPECT_TRUE(log.empty());
      EXPECT_EQ(q.qsize(), now ? 0u : 1u);
      if (!now) {
        EXPECT_EQ(q.get_nowait(), 1);
      }
      EXPECT_THROW(q.get_nowait(), QueueShutDown);
    };
    run_bounded(main(immediate));
  }
}

TEST_P(QueueTest, ImmediateShutdownDropsItemsAndCountsThemDoneForJoin) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    for (int i = 0; i < 3; ++i)
      q.put_nowait(i);
    EXPECT_EQ(q.get_nowait(), 0);  // fetched but not yet done
    auto joiner = [](Queue<int>& q) -> Coro<void> { co_await q.join(); };
    Task<void> j = create_task(joiner(q));
    co_await sleep(1s);
    q.shutdown(true);
    EXPECT_TRUE(q.empty());
    EXPECT_THROW(co_await q.get(), QueueShutDown);
    co_await sleep(1s);
    EXPECT_FALSE(j.done());  // the fetched item is still unfinished
    q.task_done();
    co_await j;
    EXPECT_THROW(q.task_done(), std::invalid_argument);
  };
  run_bounded(main());
}

TEST_P(QueueTest, GetterCancelledJustAfterAnItemArrivesStillReturnsIt) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    std::vector<int> got;
    Task<void> getter = create_task(get_then_yield(q, got));
    co_await sleep(0s);
    q.put_nowait(42);
    EXPECT_TRUE(getter.cancel());                   // it was woken but has not run yet
    EXPECT_THROW(co_await getter, CancelledError);  // raised at its next await
    EXPECT_EQ(got, (std::vector<int>{42}));
    EXPECT_TRUE(q.empty());
  };
  run_bounded(main());
}

TEST_P(QueueTest, CancellingGettersAsItemsArriveDeliversEveryItemExactlyOnce) {
  auto main = []() -> Coro<void> {
    constexpr int kItems = 1000;
    Queue<int> q;
    std::vector<int> got;
    std::vector<Task<void>> getters;
    for (int i = 0; i < 2 * kItems; ++i)
      getters.push_back(create_task(get_then_yield(q, got)));
    co_await sleep(0s);
    for (std::size_t i = 0; i < kItems; ++i) {
      q.put_nowait(static_cast<int>(i));
      getters[2 * i].cancel();      // just handed item i
      getters[2 * i + 1].cancel();  // still waiting: must take nothing
    }
    EXPECT_EQ(co_await await_all(getters), 2 * kItems);
    while (!q.empty())  // a design that left items queued would still pass here
      got.push_back(q.get_nowait());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, iota(kItems));
  };
  run_bounded(main());
}

TEST_P(QueueTest, CancelledWaitingGetterTakesNothingAndTheNextGetterGetsTheItem) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    Task<int> first = create_task(get_one(q));
    Task<int> second = create_task(get_one(q));
    co_await sleep(0s);
    first.cancel();
    co_await sleep(0s);
    q.put_nowait(5);
    EXPECT_THROW(co_await first, CancelledError);
    EXPECT_EQ(co_await second, 5);
  };
  run_bounded(main());
}

TEST_P(QueueTest, CancelledWaitingPutterDoesNotInsertItsItem) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    std::vector<int> log;
    Task<void> putter = create_task(put_and_log(q, 2, log));
    co_await sleep(0s);
    putter.cancel();
    EXPECT_THROW(co_await putter, CancelledError);
    const std::vector<int> out = co_await drain(q);
    EXPECT_EQ(out, (std::vector<int>{1}));
    EXPECT_TRUE(log.empty());
  };
  run_bounded(main());
}

TEST_P(QueueTest, PutterCancelledAfterItsItemWasQueuedAddsItExactlyOnce) {
  auto main = []() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    std::vector<int> log;
    Task<void> putter = create_task(put_and_log(q, 2, log));
    co_await sleep(0s);
    EXPECT_EQ(q.get_nowait(), 1);
    putter.cancel();  // too late: its item is already in the queue
    co_await putter;  // no await follows the put, so the deferred cancel never lands
    EXPECT_EQ(log, (std::vector<int>{2}));
    const std::vector<int> out = co_await drain(q);
    EXPECT_EQ(out, (std::vector<int>{2}));
  };
  run_bounded(main());
}

TEST_P(QueueTest, WaitForOnAnEmptyQueueTimesOutAndLeavesNoGetterBehind) {
  auto main = []() -> Coro<void> {
    Queue<int> q;
    EXPECT_THROW(co_await wait_for(q.get(), 2s), TimeoutError);
    q.put_nowait(9);
    EXPECT_EQ(q.qsize(), 1u);  // a stale getter would have been handed it
  };
  run_bounded(main());
  EXPECT_EQ(virtual_elapsed(), 2s);
}

TEST_P(QueueTest, TenProducersAndTenConsumersDeliverEveryItemExactlyOnce) {
  auto main = []() -> Coro<void> {
    constexpr int kPerProducer = 1000;
    Queue<int> q(8);
    std::vector<int> got;
    std::vector<Task<void>> consumers;
    for (int i = 0; i < 10; ++i)
      consumers.push_back(create_task(consume(q, got)));
    std::vector<Coro<void>> producers;
    for (int p = 0; p < 10; ++p)
      producers.push_back(produce(q, p * kPerProducer, kPerProducer));
    co_await gather(std::move(producers));
    co_await q.join();
    q.shutdown();
    EXPECT_EQ(co_await await_all(consumers), 0);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, iota(10 * kPerProducer));
  };
  run_bounded(main());
}

TEST_P(QueueTest, RandomlyCancelledConsumersNeverLoseOrDuplicateAnItem) {
  auto main = []() -> Coro<void> {
    constexpr int kItems = 10'000;
    Queue<int> q(4);
    std::vector<int> got;
    Task<void> producer = create_task(produce(q, 0, kItems));
    std::vector<Task<void>> consumers;
    for (int i = 0; i < 10; ++i)
      consumers.push_back(create_task(consume(q, got)));
    std::mt19937 rng(11);
    while (!producer.done()) {
      co_await sleep(0s);
      Task<void>& victim = consumers[rng() % consumers.size()];
      victim.cancel();  // waiting, or woken with an item it has not seen yet
      victim = create_task(consume(q, got));
    }
    co_await q.join();  // a lost item would leave it waiting (the watchdog fails the test)
    q.shutdown();
    co_await await_all(consumers);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, iota(kItems));
  };
  run_bounded(main());
}

TEST_P(QueueTest, MoveOnlyItemsPassThroughEveryKindOfQueue) {
  using Ptr = std::unique_ptr<int>;
  auto main = []() -> Coro<void> {
    Queue<Ptr> q(1);
    auto get_ptr = [](Queue<Ptr>& q) -> Coro<Ptr> { co_return co_await q.get(); };
    Task<Ptr> getter = create_task(get_ptr(q));
    co_await sleep(0s);
    co_await q.put(std::make_unique<int>(1));  // handed to the waiting getter
    EXPECT_EQ(*co_await getter, 1);
    q.put_nowait(std::make_unique<int>(2));
    auto put_ptr = [](Queue<Ptr>& q, int v) -> Coro<void> {
      co_await q.put(std::make_unique<int>(v));
    };
    Task<void> putter = create_task(put_ptr(q, 3));  // waits for room, item in its awaiter
    co_await sleep(0s);
    EXPECT_EQ(*q.get_nowait(), 2);
    co_await putter;
    EXPECT_EQ(*co_await q.get(), 3);

    auto by_value = [](const Ptr& a, const Ptr& b) { return *a < *b; };
    PriorityQueue<Ptr, decltype(by_value)> pq(0, by_value);
    LifoQueue<Ptr> lq;
    const std::vector<int> in{2, 3, 1}, up{1, 2, 3}, lifo{1, 3, 2};
    for (int v : in) {
      co_await pq.put(std::make_unique<int>(v));
      co_await lq.put(std::make_unique<int>(v));
    }
    for (int v : up)
      EXPECT_EQ(*co_await pq.get(), v);
    for (int v : lifo)
      EXPECT_EQ(*co_await lq.get(), v);
  };
  run_bounded(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(QueueTest);

}  // namespace
}  // namespace corio
