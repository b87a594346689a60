// Timers: the reactor's timing wheel on its own (insert + cancel at several heap sizes),
// and the same work reached through the loop the way users reach it: a sleep cancelled
// by Task::cancel(), and wait_for() around a task that finishes before its deadline.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

// Untimed iterations after the timed loop, for the syscall and allocation counts.
constexpr std::uint64_t kProbe = 10000;

// Random deadlines within an hour, so an inserted timer lands anywhere (for the heap
// this wheel replaced, a deadline later than every other made insert O(1)).
std::vector<std::int64_t> random_deadlines(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(0, std::chrono::nanoseconds(1h).count());
  std::vector<std::int64_t> out(n);
  for (std::int64_t& d : out)
    d = dist(rng);
  return out;
}

// One iteration: push one timer into a wheel already holding `range(0)` timers, then
// erase it again.
void BM_TimerWheelPushErase(benchmark::State& state) {
  const auto background = static_cast<std::size_t>(state.range(0));
  corio::TimerWheel heap;
  std::vector<corio::Timer> resident(background);
  const std::vector<std::int64_t> keys = random_deadlines(background, 1);
  for (std::size_t i = 0; i < background; ++i) {
    resident[i].deadline = corio::TimePoint(corio::Duration(keys[i]));
    heap.push(resident[i]);
  }
  constexpr std::size_t kProbes = 1024;  // a power of two: the index is a mask
  const std::vector<std::int64_t> probes = random_deadlines(kProbes, 2);
  corio::Timer t;
  std::size_t i = 0;
  for (auto _ : state) {
    t.deadline = corio::TimePoint(corio::Duration(probes[i++ & (kProbes - 1)]));
    heap.push(t);
    benchmark::DoNotOptimize(heap.top());
    heap.erase(t);
  }
}

/// Sleeps for an hour over and over; each cancellation ends one sleep.
corio::Coro<void> cancelled_sleeper(const bool& stop) {
  while (!stop) {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::CancelledError&) {
      // Expected: the benchmark cancels every sleep. Keep sleeping.
    }
  }
}

// One iteration: the sleeper's timer is armed, Task::cancel() disarms it, and the
// sleeper resumes with CancelledError, catches it and arms the next one. This is the
// full price of cancelling a sleep: wheel insert + erase, two trips through the ready
// queue, and one C++ exception thrown and caught.
void BM_SleepCancel(benchmark::State& state) {
  corio::run([](benchmark::State& s) -> corio::Coro<void> {
    bool stop = false;
    corio::Task<void> sleeper = corio::create_task(cancelled_sleeper(stop));
    co_await corio::sleep(0s);  // it now sleeps
    for (auto _ : s) {
      sleeper.cancel();
      co_await corio::sleep(0s);  // the sleeper catches and sleeps again before we resume
    }

    const SyscallCounter sc;
    const AllocCounts before = alloc_counts();
    const std::uint64_t mark = sc.start();
    for (std::uint64_t i = 0; i < kProbe; ++i) {
      sleeper.cancel();
      co_await corio::sleep(0s);
    }
    const std::uint64_t calls = sc.since(mark);
    const AllocCounts allocs = alloc_counts() - before;  // before the counters map allocates
    report_syscalls(s, "syscalls_per_iter", calls, kProbe);
    s.counters["allocs_per_iter"] = per(static_cast<double>(allocs.news), kProbe);

    stop = true;
    sleeper.cancel();
    co_await sleeper;
  }(state));
}

corio::Coro<int> quick() {
  co_return 1;
}

// One iteration: wait_for(quick(), 1h): a task is created, the timeout timer armed, and
// when the task finishes first the timer is disarmed. Compare with TaskCreateAwait for
// the timer's share.
void BM_WaitForFastTask(benchmark::State& state) {
  corio::run([](benchmark::State& s) -> corio::Coro<void> {
    int sum = 0;
    for (auto _ : s)
      sum += co_await corio::wait_for(quick(), 1h);

    const SyscallCounter sc;
    const AllocCounts before = alloc_counts();
    const std::uint64_t mark = sc.start();
    for (std::uint64_t i = 0; i < kProbe; ++i)
      sum += co_await corio::wait_for(quick(), 1h);
    const std::uint64_t calls = sc.since(mark);
    const AllocCounts allocs = alloc_counts() - before;  // before the counters map allocates
    report_syscalls(s, "syscalls_per_iter", calls, kProbe);
    s.counters["allocs_per_iter"] = per(static_cast<double>(allocs.news), kProbe);
    benchmark::DoNotOptimize(sum);
  }(state));
}

}  // namespace

void register_timer_benchmarks() {
  benchmark::RegisterBenchmark("TimerWheel/push_erase", BM_TimerWheelPushErase)
      ->ArgName("timers")
      ->Arg(0)
      ->Arg(1 << 10)
      ->Arg(1 << 20);
  benchmark::RegisterBenchmark("Timer/sleep_cancel", BM_SleepCancel);
  benchmark::RegisterBenchmark("Timer/wait_for_fast_task", BM_WaitForFastTask);
}

}  // namespace bench
