// A million sleeping tasks (goals: <= 0.5 s to spawn them and run one loop turn so all are
// suspended; <= 200 bytes per task). The benchmark's time is that spawn phase alone
// (manual timing); the other phases and the memory figures are counters:
//   alloc_bytes_per_task   bytes requested from operator new while spawning, per task
//   allocs_per_task        operator new calls per task
//   malloc_bytes_per_task  growth of what glibc has handed out (mallinfo2), per task:
//                          the requested bytes plus the allocator's chunk overhead
//   steady_bytes_per_task  the same one turn later, once the drained ready queue shrank
//   rss_bytes_per_task     growth of the resident set (/proc/self/statm), per task
//   frame_bytes            the most frequent allocation size: one sleeping task's frame
//   other_bytes_per_task   the requested bytes that are not frames: the ready queue and
//                          the timer heap growing (by doubling) to a million entries
//   spawn_cpu_s            the spawn phase in this thread's CPU time: on a shared machine
//                          the wall time above also counts time we were not running
//   cancel_s, destroy_s    cancelling all and letting them finish; dropping the handles
// The handles (8 bytes each, a std::vector<Task> reserved before measuring) are not
// counted: they are the benchmark's, not the library's.
#include <time.h>

#include <chrono>
#include <cstddef>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

corio::Coro<void> sleeper() {
  co_await corio::sleep(1h);
}

struct Phases {
  double spawn_s = 0;
  double spawn_cpu_s = 0;
  double cancel_s = 0;
  double destroy_s = 0;
  AllocCounts allocs;
  double malloc_bytes = 0;
  double steady_malloc_bytes = 0;  // after one more turn: the ready queue has shrunk back
  double rss_bytes = 0;
  std::size_t sizes[4][2] = {};
  std::size_t size_kinds = 0;
  bool all_suspended = false;  // every sleeper had armed its timer after the one turn
};

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

corio::Coro<void> million(std::size_t n, Phases& out) {
  std::vector<corio::Task<void>> tasks;
  tasks.reserve(n);

  trim_heap();
  const std::size_t malloc0 = malloc_in_use();
  const std::size_t rss0 = rss_bytes();
  clear_sizes();
  record_sizes(true);
  const AllocCounts allocs0 = alloc_counts();
  const auto t0 = Clock::now();
  const double cpu0 = thread_cpu_s();

  for (std::size_t i = 0; i < n; ++i)
    tasks.push_back(corio::create_task(sleeper()));
  // One turn: every first step was queued before this task's resumption, so when we run
  // again each sleeper has armed its timer and suspended.
  co_await corio::sleep(0s);

  const auto t1 = Clock::now();
  out.spawn_cpu_s = thread_cpu_s() - cpu0;
  out.allocs = alloc_counts() - allocs0;
  out.all_suspended = corio::EventLoop::running().reactor().timer_count() == n;
  record_sizes(false);
  out.malloc_bytes = static_cast<double>(malloc_in_use()) - static_cast<double>(malloc0);
  out.rss_bytes = static_cast<double>(rss_bytes()) - static_cast<double>(rss0);
  out.size_kinds = top_sizes(out.sizes, 4);
  co_await corio::sleep(0s);
  out.steady_malloc_bytes = static_cast<double>(malloc_in_use()) - static_cast<double>(malloc0);

  for (corio::Task<void>& t : tasks)
    t.cancel();
  // Each cancellation queued its sleeper's resumption ahead of ours, so one turn finishes
  // them all; the loop below only guards that assumption.
  co_await corio::sleep(0s);
  while (!tasks.back().done())
    co_await corio::sleep(0s);
  const auto t2 = Clock::now();
  tasks.clear();
  tasks.shrink_to_fit();
  const auto t3 = Clock::now();

  out.spawn_s = seconds(t1 - t0);
  out.cancel_s = seconds(t2 - t1);
  out.destroy_s = seconds(t3 - t2);
}

void BM_Sleepers(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Phases sum;
  std::size_t runs = 0;
  Phases last;
  for (auto _ : state) {
    Phases p;
    corio::run(million(n, p));
    if (!p.all_suspended) {
      state.SkipWithError("one loop turn did not suspend every sleeper");
      return;
    }
    state.SetIterationTime(p.spawn_s);
    sum.spawn_cpu_s += p.spawn_cpu_s;
    sum.cancel_s += p.cancel_s;
    sum.destroy_s += p.destroy_s;
    sum.malloc_bytes += p.malloc_bytes;
    sum.steady_malloc_bytes += p.steady_malloc_bytes;
    sum.rss_bytes += p.rss_bytes;
    ++runs;
    last = p;
  }
  const auto r = static_cast<double>(runs);
  const auto tasks = static_cast<double>(n);
  state.counters["spawn_cpu_s"] = sum.spawn_cpu_s / r;
  state.counters["cancel_s"] = sum.cancel_s / r;
  state.counters["destroy_s"] = sum.destroy_s / r;
  state.counters["alloc_bytes_per_task"] = static_cast<double>(last.allocs.bytes) / tasks;
  state.counters["allocs_per_task"] = static_cast<double>(last.allocs.news) / tasks;
  state.counters["malloc_bytes_per_task"] = sum.malloc_bytes / r / tasks;
  state.counters["steady_bytes_per_task"] = sum.steady_malloc_bytes / r / tasks;
  state.counters["rss_bytes_per_task"] = sum.rss_bytes / r / tasks;
  if (last.size_kinds > 0) {
    // The frames, and everything else (the ready queue and the timer heap growing to a
    // million entries), so the report can say where the bytes go.
    const double frames = static_cast<double>(last.sizes[0][0] * last.sizes[0][1]);
    state.counters["frame_bytes"] = static_cast<double>(last.sizes[0][0]);
    state.counters["other_bytes_per_task"] =
        (static_cast<double>(last.allocs.bytes) - frames) / tasks;
  }
}

}  // namespace

void register_sleeper_benchmarks() {
  benchmark::RegisterBenchmark("Sleepers", BM_Sleepers)
      ->ArgName("tasks")
      ->Arg(1'000'000)
      ->UseManualTime()
      ->Iterations(3)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace bench
