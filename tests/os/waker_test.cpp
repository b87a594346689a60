// os/waker: wake-ups from any number of threads coalesce into one signal, and none is
// lost however they race the drain. Built twice, like posix_fd_test: waker_test with the
// capabilities CMake found (an eventfd on Linux), waker_fallback_test with none of them
// (the pipe pair macOS uses), so a Linux run covers both.
#include "os/waker.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <thread>
#include <vector>

namespace corio::sys {
namespace {

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return n == 1 && (p.revents & POLLIN) != 0;
}

void wake_from_threads(Waker& waker, int threads, int wakes_each) {
  std::vector<std::thread> wakers;
  for (int t = 0; t < threads; ++t) {
    wakers.emplace_back([&waker, wakes_each] {
      for (int i = 0; i < wakes_each; ++i)
        waker.wake();
    });
  }
  for (std::thread& t : wakers)
    t.join();
}

class WakerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    waker.open(ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_GE(waker.fd(), 0);
  }
  Waker waker;
};

TEST_F(WakerTest, IsNotReadableUntilWoken) {
  EXPECT_FALSE(readable(waker.fd(), 0));
  waker.wake();
  EXPECT_TRUE(readable(waker.fd(), 1000));
}

TEST_F(WakerTest, HundredWakesSendOneSignal) {
  wake_from_threads(waker, 4, 25);
  ASSERT_TRUE(readable(waker.fd(), 1000));
  // Read behind the waker's back: exactly one 8-byte signal is pending.
  std::uint64_t buf[8];
  EXPECT_EQ(::read(waker.fd(), buf, sizeof buf), static_cast<ssize_t>(sizeof(std::uint64_t)));
  EXPECT_FALSE(readable(waker.fd(), 0));
  waker.drain();
}

TEST_F(WakerTest, OneDrainEmptiesAHundredWakes) {
  for (int i = 0; i < 100; ++i)
    waker.wake();
  ASSERT_TRUE(readable(waker.fd(), 1000));
  waker.drain();
  EXPECT_FALSE(readable(waker.fd(), 0));
}

TEST_F(WakerTest, AWakeAfterEachDrainMakesItReadableAgain) {
  for (int round = 0; round < 1000; ++round) {
    waker.wake();
    ASSERT_TRUE(readable(waker.fd(), 1000)) << "round " << round;
    waker.drain();
    ASSERT_FALSE(readable(waker.fd(), 0)) << "round " << round;
  }
}

TEST_F(WakerTest, DrainWithNothingPendingLeavesItWorking) {
  waker.drain();
  waker.wake();
  EXPECT_TRUE(readable(waker.fd(), 1000));
}

// Each waker thread publishes a count, then wakes; the drainer waits for readability,
// drains, and reads the count. A lost wake-up (the flag left up with nothing pending)
// shows as a poll that times out while the last counts are still unseen.
TEST_F(WakerTest, ConcurrentWakesRacingADrainLoopLoseNothing) {
  constexpr int threads = 4;
  constexpr int wakes_each = 20000;
  constexpr std::uint64_t total = std::uint64_t{threads} * wakes_each;
  std::atomic<std::uint64_t> produced{0};
  std::vector<std::thread> wakers;
  for (int t = 0; t < threads; ++t) {
    wakers.emplace_back([&] {
      for (int i = 0; i < wakes_each; ++i) {
        produced.fetch_add(1, std::memory_order_relaxed);
        waker.wake();
      }
    });
  }
  std::uint64_t seen = 0;
  int drains = 0;
  bool lost = false;
  while (seen < total) {
    if (!readable(waker.fd(), 5000)) {
      lost = true;
      break;
    }
    waker.drain();
    ++drains;
    seen = produced.load(std::memory_order_acquire);
  }
  for (std::thread& t : wakers)
    t.join();
  EXPECT_FALSE(lost) << "saw " << seen << " of " << total << " after " << drains << " drains";
  EXPECT_EQ(seen, total);
  waker.drain();
  EXPECT_FALSE(readable(waker.fd(), 0));
}

}  // namespace
}  // namespace corio::sys
