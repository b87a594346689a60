// corio-bench's shared types: the command line, one backend's result, the progress
// line, and the workloads each subcommand runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "corio/corio.hpp"
#include "histogram.hpp"

namespace corio_bench {

struct Config {
  std::string command;                ///< timer, wake, yield, echo, accept, http
  std::vector<std::string> backends;  ///< resolved: one or every backend that opens
  double duration = 2.0;              ///< measured seconds per backend
  double warmup = 0.2;                ///< seconds run first and not counted
  int conns = 1;                      ///< concurrent connections / tasks / timers
  std::size_t size = 64;              ///< message size (echo)
  int interval_us = 1000;             ///< timer period (timer)
  std::string host = "127.0.0.1";
  int port = 0;  ///< 0: start the server in process (echo, accept) or spawn it (http)
  bool json = false;
  std::string plot;  ///< PNG file to draw latency percentiles into
  bool count_syscalls = true;
  bool quiet = false;  ///< no progress line (the syscall probe runs)
};

struct Result {
  std::string backend;
  std::uint64_t ops = 0;
  double seconds = 0;
  Histogram latency;
  bool has_latency = true;
  double cpu_us_per_op = -1;          ///< <0: not measured
  double syscalls_per_op = -1;        ///< <0: not measurable here
  double allocs_per_op = -1;          ///< server heap allocations per op; <0: not measured
  std::string cpu_scope = "process";  ///< whose CPU: "process" or "server thread"
  std::uint64_t errors = 0;
};

/// Draws "\r[backend] command 1.2/2.0 s, 12345 ops" on stderr, at most 5 times a
/// second (one plain line per second when stderr is not a terminal).
class Progress {
 public:
  Progress(const Config& c, const std::string& backend);
  void update(std::uint64_t ops);
  void done();

 private:
  const Config& config_;
  std::string backend_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
  bool tty_;
};

/// CPU seconds this process has used (user + system, every thread).
double process_cpu_seconds();

/// Runs `run` again briefly with this thread's system calls counted and returns calls
/// per op; -1 where counting is unavailable (needs perf_event access) or disabled.
/// Counting slows every syscall, so it never overlaps the timed run.
double probe_syscalls(const Config& c, Result (*run)(const Config&, const std::string&),
                      const std::string& backend);

/// The measured window: warm-up first, then `duration` seconds.
struct Window {
  explicit Window(const Config& c)
      : start(std::chrono::steady_clock::now()),
        measure_from(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(c.warmup))),
        end(measure_from + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(c.duration))) {}
  /// Counts one op that started at `t0` and took `ns`, unless it started in the warm-up.
  void sample(Result& r, std::chrono::steady_clock::time_point t0, std::uint64_t ns) const {
    if (t0 < measure_from) return;
    r.latency.record(ns);
    ++r.ops;
  }
  std::chrono::steady_clock::time_point start, measure_from, end;
};

/// Reads a running total (allocations so far) of whatever `ctx` is; -1 if unknown.
using CountFn = std::int64_t (*)(const void* ctx);

/// Runs `make(i)` for each of c.conns clients plus measure_window() on a loop of
/// `backend`, then turns the CPU total into CPU per op; `cpu(ctx)` reads whose CPU counts
/// and `allocs(ctx)`, if given, whose heap allocations.
template <class MakeClient>
void run_clients(const Config& c, const std::string& backend, Result& r, Progress& p,
                 double (*cpu)(const void*), const void* ctx, MakeClient make,
                 CountFn allocs = nullptr);

/// Sleeps through the warm-up, then over [measure_from, end) records the elapsed time in
/// `r.seconds` and the CPU seconds `cpu()` reports as the total in `r.cpu_us_per_op`
/// (µs; per_op() divides it once the ops are counted).
corio::Coro<void> measure_window(const Window& w, Result& r, double (*cpu)(const void*),
                                 const void* ctx, CountFn allocs = nullptr);
/// Turns the totals measured by measure_window into per-op figures.
void per_op(Result& r);

template <class MakeClient>
void run_clients(const Config& c, const std::string& backend, Result& r, Progress& p,
                 double (*cpu)(const void*), const void* ctx, MakeClient make, CountFn allocs) {
  auto main = [&]() -> corio::Coro<void> {
    Window w(c);
    std::vector<corio::Coro<void>> all;
    for (int i = 0; i < c.conns; ++i)
      all.push_back(make(i, w));
    all.push_back(measure_window(w, r, cpu, ctx, allocs));
    co_await corio::gather(std::move(all));
  };
  corio::run(main(), corio::RunOptions{.backend = backend});
  p.done();
  per_op(r);
}

inline std::uint64_t ns_between(std::chrono::steady_clock::time_point a,
                                std::chrono::steady_clock::time_point b) {
  return b > a ? static_cast<std::uint64_t>(
                     std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count())
               : 0;
}

Result run_timer(const Config& c, const std::string& backend);
Result run_wake(const Config& c, const std::string& backend);
Result run_yield(const Config& c, const std::string& backend);
Result run_echo(const Config& c, const std::string& backend);
Result run_accept(const Config& c, const std::string& backend);
Result run_http(const Config& c, const std::string& backend);

void print_table(const Config& c, const std::vector<Result>& results);
void print_json(const Config& c, const std::vector<Result>& results);
/// Draws p50/p99/p99.9/max per backend with gnuplot; false (and a message) if it can't.
bool draw_plot(const Config& c, const std::vector<Result>& results);

}  // namespace corio_bench
