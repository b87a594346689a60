// Cancellation storm (run it under asan): 100,000 tasks waiting in sleeps, queue gets
// and socket reads are cancelled at random points while data and items keep arriving.
// Every task must finish exactly once, and every byte and item sent must be either
// received by a task or still waiting in its socket or queue: nothing lost, nothing
// delivered twice, no use-after-free.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class CancelStormTest : public BackendTest {};

struct Tally {
  std::uint64_t started = 0;    // bodies that began (a task cancelled before its first
                                // step never runs its body, as in asyncio)
  std::uint64_t finished = 0;   // bodies that ended, however
  std::uint64_t cancelled = 0;  // ... of them with CancelledError
  std::uint64_t items_got = 0;
  std::uint64_t bytes_got = 0;
};

Coro<void> sleeper(Duration d, Tally& t) {
  ++t.started;
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    ++t.cancelled;
    ++t.finished;
    throw;
  }
  ++t.finished;
}

Coro<void> getter(Queue<int>& q, Tally& t) {
  ++t.started;
  try {
    (void)co_await q.get();
    ++t.items_got;
  } catch (const CancelledError&) {
    ++t.cancelled;
    ++t.finished;
    throw;
  }
  ++t.finished;
}

Coro<void> reader(const Socket& s, Tally& t) {
  ++t.started;
  char buf[4];
  try {
    const std::size_t n = co_await s.recv(buf, sizeof buf);
    t.bytes_got += n;
  } catch (const CancelledError&) {
    ++t.cancelled;
    ++t.finished;
    throw;
  }
  ++t.finished;
}

TEST_P(CancelStormTest, HundredThousandWaitsCancelledAtRandomLoseNothing) {
  constexpr int kTasks = 100'000;
  constexpr int kPairs = 500;
  constexpr int kQueues = 64;
  auto main = [](int tasks) -> Coro<void> {
    std::mt19937 rng(12345);
    Tally tally;
    std::vector<std::pair<Socket, Socket>> pairs;
    for (int i = 0; i < kPairs; ++i)
      pairs.push_back(Socket::pair());
    std::vector<Queue<int>> queues(kQueues);
    std::vector<Task<void>> all;
    all.reserve(tasks);
    for (int i = 0; i < tasks; ++i) {
      switch (rng() % 3) {
        case 0:
          all.push_back(create_task(sleeper(std::chrono::microseconds(rng() % 50'000), tally)));
          break;
        case 1:
          all.push_back(create_task(getter(queues[rng() % kQueues], tally)));
          break;
        default:
          all.push_back(create_task(reader(pairs[rng() % kPairs].first, tally)));
          break;
      }
    }
    // Interleave: cancel a random slice, feed some data and items, yield, repeat.
    std::uint64_t bytes_sent = 0;
    std::uint64_t items_put = 0;
    std::vector<int> order(tasks);
    for (int i = 0; i < tasks; ++i)
      order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int round = 0, next = 0; next < tasks; ++round) {
      for (int k = 0; k < 5000 && next < tasks; ++k)
        all[order[next++]].cancel();
      for (int k = 0; k < 50; ++k) {
        std::string bytes(1 + rng() % 4, 'b');
        bytes_sent += co_await pairs[rng() % kPairs].second.send(bytes);
        queues[rng() % kQueues].put_nowait(round);
        ++items_put;
      }
      co_await sleep(std::chrono::microseconds(rng() % 2000));
    }
    for (Task<void>& t : all) {
      try {
        co_await t;
      } catch (const CancelledError&) {
      }
    }
    // Every body that began ended exactly once, and every task is done.
    EXPECT_EQ(tally.finished, tally.started);
    EXPECT_GT(tally.started, static_cast<std::uint64_t>(tasks) / 2);
    std::uint64_t done = 0;
    for (Task<void>& t : all)
      done += t.done() ? 1 : 0;
    EXPECT_EQ(done, static_cast<std::uint64_t>(tasks));
    // What was sent and not taken is still there, exactly.
    std::uint64_t items_left = 0;
    for (Queue<int>& q : queues)
      items_left += q.qsize();
    EXPECT_EQ(tally.items_got + items_left, items_put);
    std::uint64_t bytes_left = 0;
    for (auto& [a, b] : pairs) {
      b.shutdown();
      char buf[4096];
      for (;;) {
        const std::size_t n = co_await a.recv(buf, sizeof buf);
        if (n == 0) break;
        bytes_left += n;
      }
    }
    EXPECT_EQ(tally.bytes_got + bytes_left, bytes_sent);
    EXPECT_GT(tally.cancelled, 0u);
  };
  run(main(kTasks));
}

CORIO_INSTANTIATE_BACKEND_SUITE(CancelStormTest);

}  // namespace
}  // namespace corio
