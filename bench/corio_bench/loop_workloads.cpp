// Workloads on the loop alone: timer wake-up lateness, cross-thread wake-up, yield.
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

namespace corio_bench {

corio::Coro<void> measure_window(const Window& w, Result& r, double (*cpu)(const void*),
                                 const void* ctx, CountFn allocs) {
  co_await corio::sleep(w.measure_from - std::chrono::steady_clock::now());
  const double cpu0 = cpu(ctx);
  const std::int64_t allocs0 = allocs != nullptr ? allocs(ctx) : -1;
  const auto t0 = std::chrono::steady_clock::now();
  co_await corio::sleep(w.end - std::chrono::steady_clock::now());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_us_per_op = (cpu(ctx) - cpu0) * 1e6;
  const std::int64_t allocs1 = allocs != nullptr ? allocs(ctx) : -1;
  if (allocs0 >= 0 && allocs1 >= allocs0) r.allocs_per_op = static_cast<double>(allocs1 - allocs0);
}

void per_op(Result& r) {
  const auto ops = static_cast<double>(r.ops);
  r.cpu_us_per_op = r.ops > 0 ? r.cpu_us_per_op / ops : -1;
  if (r.allocs_per_op >= 0) r.allocs_per_op = r.ops > 0 ? r.allocs_per_op / ops : -1;
}

namespace {

double process_cpu(const void* /*ctx*/) {
  return process_cpu_seconds();
}

using Clock = std::chrono::steady_clock;

corio::Coro<void> sleeper(const Config& c, const Window& w, Result& r, Progress& p) {
  const auto interval = std::chrono::microseconds(c.interval_us);
  for (;;) {
    const auto t0 = Clock::now();
    if (t0 + interval > w.end) break;
    co_await corio::sleep(interval);
    w.sample(r, t0, ns_between(t0 + interval, Clock::now()));
    p.update(r.ops);
  }
}

corio::Coro<void> yielder(const Window& w, Result& r, Progress& p) {
  std::uint64_t n = 0;
  for (;;) {
    co_await corio::sleep(std::chrono::seconds(0));
    // Reading the clock every turn would cost more than the turn: every 256th.
    if ((++n & 255) != 0) continue;
    const auto now = Clock::now();
    if (now >= w.end) break;
    if (now >= w.measure_from) r.ops += 256;
    p.update(r.ops);
  }
}

}  // namespace

Result run_timer(const Config& c, const std::string& backend) {
  Result r;
  Progress p(c, backend);
  run_clients(c, backend, r, p, &process_cpu, nullptr,
              [&](int, const Window& w) { return sleeper(c, w, r, p); });
  r.syscalls_per_op = probe_syscalls(c, &run_timer, backend);
  return r;
}

Result run_wake(const Config& c, const std::string& backend) {
  Result r;
  Progress p(c, backend);
  // Shared with the poster thread and with callbacks that may run after main returns.
  struct Shared {
    Shared(Result* result, const Config& c) : r(result), w(c) {}
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> acked{0};
    Result* r;
    Window w;
  };
  auto main = [&]() -> corio::Coro<void> {
    auto s = std::make_shared<Shared>(&r, c);
    corio::EventLoop& loop = corio::EventLoop::running();
    std::thread poster([s, &loop] {
      std::uint64_t n = 0;
      while (!s->stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        const std::uint64_t want = ++n;
        loop.call_soon_threadsafe([s, t0, want] {
          if (t0 >= s->w.measure_from && t0 < s->w.end && !s->stop.load()) {
            s->r->latency.record(ns_between(t0, Clock::now()));
            ++s->r->ops;
          }
          s->acked.store(want, std::memory_order_release);
        });
        while (s->acked.load(std::memory_order_acquire) < want &&
               !s->stop.load(std::memory_order_relaxed)) {
          std::this_thread::yield();
        }
        // Let the loop go back to sleep: the wake-up of a blocked loop is what counts.
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
    Window& w = s->w;
    auto ticker = [&]() -> corio::Coro<void> {
      while (Clock::now() < w.end) {
        co_await corio::sleep(std::chrono::milliseconds(50));
        p.update(r.ops);
      }
    };
    co_await corio::gather(measure_window(w, r, &process_cpu, nullptr), ticker());
    s->stop = true;
    poster.join();
  };
  corio::run(main(), corio::RunOptions{.backend = backend});
  p.done();
  per_op(r);
  r.syscalls_per_op = probe_syscalls(c, &run_wake, backend);
  return r;
}

Result run_yield(const Config& c, const std::string& backend) {
  Result r;
  r.has_latency = false;
  Progress p(c, backend);
  run_clients(c, backend, r, p, &process_cpu, nullptr,
              [&](int, const Window& w) { return yielder(w, r, p); });
  r.syscalls_per_op = probe_syscalls(c, &run_yield, backend);
  return r;
}

}  // namespace corio_bench
