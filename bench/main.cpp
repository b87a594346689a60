// corio_micro: the micro-benchmarks. Run with no arguments for the full set (about a
// minute), or --benchmark_filter=REGEX for one topic (PingPong, Yield, Task, Timer,
// TimerQueue, Sleepers).
#include <cstdio>

#include "bench.hpp"
#include "corio/corio.hpp"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::vector<std::string> backends = corio::available_backends();
  benchmark::AddCustomContext("corio_backends", [&] {
    std::string s;
    for (const std::string& b : backends)
      s += (s.empty() ? "" : ",") + b;
    return s;
  }());
  benchmark::AddCustomContext("syscall_counter",
                              bench::SyscallCounter().available() ? "perf tracepoint" : "none");

  bench::register_task_benchmarks(backends);
  bench::register_timer_benchmarks();
  bench::register_timer_queue_benchmarks();
  bench::register_io_benchmarks(backends);
  bench::register_tls_benchmarks(backends);
  // Last: it leaves the heap hundreds of MB larger than the others need.
  bench::register_sleeper_benchmarks();

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
