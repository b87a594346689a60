// Shared by the benchmark sources: each topic file registers its benchmarks from main()
// (not with static BENCHMARK macros) so the order is fixed and names can carry the
// backends that open on this machine.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "syscall_counter.hpp"

namespace bench {

void register_task_benchmarks(const std::vector<std::string>& backends);
void register_timer_benchmarks();
void register_timer_queue_benchmarks();
void register_sleeper_benchmarks();
void register_io_benchmarks(const std::vector<std::string>& backends);
void register_tls_benchmarks(const std::vector<std::string>& backends);

/// `total` spread over `events` (counts from an untimed probe, so no rate: a plain value).
inline benchmark::Counter per(double total, double events) {
  return benchmark::Counter(events > 0 ? total / events : 0.0);
}

/// Reports `calls` syscalls over `n` events as counter `name`, if the counter works here.
/// Count only in an untimed probe, never around a timed loop: while the tracepoint is
/// enabled every syscall of the thread takes the kernel's slow tracing path (measured
/// here: about +130 ns per syscall), which would inflate the very time being measured.
inline void report_syscalls(benchmark::State& state, const char* name, std::uint64_t calls,
                            std::uint64_t n) {
  if (SyscallCounter().available() && n > 0)
    state.counters[name] = static_cast<double>(calls) / static_cast<double>(n);
}

}  // namespace bench
