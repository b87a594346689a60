// Task life cycle and the cheapest suspension: spawning a trivial task and running it to
// the end (goal: <= 50 ns per task), and sleep(0), the plain yield, alone or with other
// tasks taking turns.
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

corio::Coro<void> trivial() {
  co_return;
}

/// What the untimed probe after the timed loop saw, per task.
struct TaskProbe {
  AllocCounts allocs;
  std::size_t frame_bytes = 0;  // the most frequent allocation size: the coroutine frame
  std::size_t tasks = 0;
};

// Spawns `batch` trivial tasks and lets the loop run them all: they are queued in front
// of this task's own resumption, so one yield runs every one of them to the end.
corio::Coro<void> spawn_batch(std::size_t batch) {
  for (std::size_t i = 0; i < batch; ++i)
    corio::spawn(trivial());
  co_await corio::sleep(0s);
}

TaskProbe probe_spawn(std::size_t batch) {
  // The probe runs in a loop of its own after the timed one, so the counts are those of
  // steady state and nothing of Google Benchmark's bookkeeping gets in.
  TaskProbe p;
  corio::run([](std::size_t n, TaskProbe& out) -> corio::Coro<void> {
    co_await spawn_batch(n);  // warm: the ready queue reaches its working size
    // Calling spawn_batch() allocates its own frame: do it before counting.
    corio::Coro<void> measured = spawn_batch(n);
    clear_sizes();
    record_sizes(true);
    const AllocCounts before = alloc_counts();
    co_await std::move(measured);
    out.allocs = alloc_counts() - before;
    record_sizes(false);
    std::size_t top[1][2] = {};
    if (top_sizes(top, 1) == 1) out.frame_bytes = top[0][0];
    out.tasks = n;
  }(batch, p));
  return p;
}

void report(benchmark::State& state, const TaskProbe& p) {
  const auto n = static_cast<double>(p.tasks);
  state.counters["allocs_per_task"] = per(static_cast<double>(p.allocs.news), n);
  state.counters["bytes_per_task"] = per(static_cast<double>(p.allocs.bytes), n);
  state.counters["frame_bytes"] = static_cast<double>(p.frame_bytes);
}

// Fire and forget: one iteration is one task, spawned and (every `batch` iterations) run.
void BM_TaskSpawn(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  corio::run([](benchmark::State& s, std::size_t b) -> corio::Coro<void> {
    std::size_t pending = 0;
    for (auto _ : s) {
      corio::spawn(trivial());
      if (++pending == b) {
        co_await corio::sleep(0s);
        pending = 0;
      }
    }
    co_await corio::sleep(0s);
  }(state, batch));
  report(state, probe_spawn(batch));
}

// create_task keeping the handle, then awaiting each task: asyncio's
// `tasks = [create_task(f()) for ...]; for t in tasks: await t`.
void BM_TaskCreateAwait(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  corio::run([](benchmark::State& s, std::size_t b) -> corio::Coro<void> {
    std::vector<corio::Task<void>> tasks;
    tasks.reserve(b);
    for (auto _ : s) {
      tasks.push_back(corio::create_task(trivial()));
      if (tasks.size() == b) {
        for (corio::Task<void>& t : tasks)
          co_await t;
        tasks.clear();  // the last references: the frames go here
      }
    }
    for (corio::Task<void>& t : tasks)
      co_await t;
  }(state, batch));
}

/// Yields until told to stop: the other side of the multi-task yield benchmark.
corio::Coro<void> yielder(const bool& stop) {
  while (!stop)
    co_await corio::sleep(0s);
}

struct YieldProbe {
  AllocCounts allocs;
  std::uint64_t syscalls = 0;
  std::size_t yields = 0;
};

// `tasks` tasks (this one plus tasks-1 helpers) each yield once per loop turn, so one
// iteration (one yield of this task) is `tasks` yields in all.
corio::Coro<void> yield_main(benchmark::State& state, int tasks, YieldProbe& probe) {
  bool stop = false;
  std::vector<corio::Task<void>> others;
  for (int i = 1; i < tasks; ++i)
    others.push_back(corio::create_task(yielder(stop)));
  for (int i = 0; i < 100; ++i)  // warm: every helper has started
    co_await corio::sleep(0s);

  for (auto _ : state)
    co_await corio::sleep(0s);

  constexpr std::size_t kProbeTurns = 10000;
  const SyscallCounter sc;
  const AllocCounts before = alloc_counts();
  const std::uint64_t mark = sc.start();
  for (std::size_t i = 0; i < kProbeTurns; ++i)
    co_await corio::sleep(0s);
  probe.syscalls = sc.since(mark);
  probe.allocs = alloc_counts() - before;
  probe.yields = kProbeTurns * static_cast<std::size_t>(tasks);

  stop = true;
  for (corio::Task<void>& t : others)
    co_await t;
}

void BM_Yield(benchmark::State& state, const std::string& backend) {
  const auto tasks = static_cast<int>(state.range(0));
  YieldProbe probe;
  corio::run(yield_main(state, tasks, probe), corio::RunOptions{.backend = backend});
  const auto yields = static_cast<double>(state.iterations()) * tasks;
  // Seconds per yield (shown with an SI prefix: 45n is 45 ns).
  state.counters["per_yield"] =
      benchmark::Counter(yields, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  const auto n = static_cast<double>(probe.yields);
  state.counters["allocs_per_yield"] = per(static_cast<double>(probe.allocs.news), n);
  report_syscalls(state, "syscalls_per_yield", probe.syscalls, probe.yields);
}

}  // namespace

void register_task_benchmarks(const std::vector<std::string>& backends) {
  benchmark::RegisterBenchmark("TaskSpawn", BM_TaskSpawn)->ArgName("batch")->Arg(1000);
  benchmark::RegisterBenchmark("TaskCreateAwait", BM_TaskCreateAwait)->ArgName("batch")->Arg(1000);
  for (const std::string& b : backends) {
    benchmark::RegisterBenchmark(("Yield/" + b).c_str(), BM_Yield, b)
        ->ArgName("tasks")
        ->Arg(1)
        ->Arg(2)
        ->Arg(16);
  }
}

}  // namespace bench
