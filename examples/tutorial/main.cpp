// corio tutorial: the classic asyncio walkthrough, step by step, in C++20.
//
//   tutorial [--scale X] [--backend NAME]
//
// Each step prints what happens and how long it took, next to what it should take:
//   elapsed <step>: <measured> s (expected <expected> s)
// --scale multiplies every delay (the tests run it at 0.05).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "corio/corio.hpp"
#include "options.hpp"

namespace {

using Seconds = std::chrono::duration<double>;

/// Turns the lesson's delays (in seconds, at human speed) into the ones we run with.
struct Scale {
  double factor = 1.0;
  Seconds operator()(double seconds) const { return Seconds(seconds * factor); }
};

/// Measures a step with the steady clock: wall time is what concurrency saves.
class Stopwatch {
 public:
  void report(const char* step, Seconds expected) const {
    Seconds measured = std::chrono::steady_clock::now() - start_;
    std::printf("elapsed %s: %.3f s (expected %.3f s)\n", step, measured.count(), expected.count());
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

void heading(int step, const char* title) {
  std::printf("\n%d. %s\n", step, title);
}

// --- 1. A coroutine ------------------------------------------------------------------

// Parameters are taken by value: a coroutine may outlive the expression that called it,
// so it must own what it uses (a reference or string_view could dangle).
corio::Coro<> io_task(std::string name, Seconds delay, int iterations) {
  for (int i = 1; i <= iterations; ++i) {
    std::printf("%s iteration %d\n", name.c_str(), i);
    // Suspends this task and hands the thread back to the loop, which runs the
    // other tasks meanwhile (asyncio.sleep).
    co_await corio::sleep(delay);
  }
}

// The same task written with a blocking call: it never suspends, so nothing else can
// run while it waits. Debug mode (CORIO_DEBUG=1) reports each such step as it happens.
corio::Coro<> blocking_io_task(std::string name, Seconds delay, int iterations) {
  for (int i = 1; i <= iterations; ++i) {
    std::printf("%s iteration %d\n", name.c_str(), i);
    std::this_thread::sleep_for(delay);  // the mistake this step is about
  }
  co_return;  // with no co_await left, this is what still makes it a coroutine
}

constexpr int kIterations = 3;

// --- The steps -----------------------------------------------------------------------

corio::Coro<> step_sequential(Scale s) {
  heading(2, "Awaiting the coroutines one after the other: the delays add up");
  Stopwatch stopwatch;
  co_await io_task("A", s(1.5), kIterations);
  co_await io_task("B", s(1.0), kIterations);
  co_await io_task("C", s(1.2), kIterations);
  stopwatch.report("sequential", kIterations * (s(1.5) + s(1.0) + s(1.2)));
}

corio::Coro<> step_gather(Scale s) {
  heading(3, "gather(): the tasks wait together, so it takes as long as the slowest");
  Stopwatch stopwatch;
  co_await corio::gather(io_task("A", s(1.5), kIterations), io_task("B", s(1.0), kIterations),
                         io_task("C", s(1.2), kIterations));
  stopwatch.report("gather", kIterations * s(1.5));
}

corio::Coro<> step_blocking(Scale s) {
  heading(4, "The pitfall: a blocking call inside a coroutine");
  std::printf(
      "std::this_thread::sleep_for blocks the one thread the loop runs on, so the\n"
      "whole loop stops: gather() cannot overlap anything and the time adds up again.\n");
  Stopwatch stopwatch;
  co_await corio::gather(blocking_io_task("A", s(1.5), kIterations),
                         blocking_io_task("B", s(1.0), kIterations),
                         blocking_io_task("C", s(1.2), kIterations));
  stopwatch.report("blocking", kIterations * (s(1.5) + s(1.0) + s(1.2)));
}

corio::Coro<> background(Seconds delay) {
  std::printf("background: running\n");
  co_await corio::sleep(delay);
  std::printf("background: finishing\n");
}

corio::Coro<> step_create_task(Scale s) {
  heading(5, "create_task(): start work in the background");
  Stopwatch stopwatch;
  // create_task schedules the coroutine and returns at once: the task's first line
  // runs only when this coroutine next suspends.
  corio::Task<> task = corio::create_task(background(s(0.5)));
  std::printf("main: continuing immediately\n");
  co_await task;
  stopwatch.report("create_task", s(0.5));
}

corio::Coro<std::string> job(std::string name, Seconds delay) {
  co_await corio::sleep(delay);
  co_return name;
}

corio::Coro<> step_wait(Scale s) {
  heading(6, "wait(FIRST_COMPLETED): react to whichever task finishes first");
  Stopwatch stopwatch;
  corio::Task<std::string> fast = corio::create_task(job("fast", s(2.0)));
  corio::Task<std::string> slow = corio::create_task(job("slow", s(5.0)));
  // Unlike wait_for, wait() never cancels anything: what is still running comes back
  // in `pending`, and deciding its fate is up to us.
  // A named vector, not `wait(std::vector{fast, slow}, ...)`: g++ 12 rejects a braced
  // list inside a co_await expression ("array used as initializer", a compiler bug seen
  // since 11.2, e.g. github.com/Naios/continuable/issues/67).
  std::vector<corio::Task<std::string>> tasks{fast, slow};
  auto [done, pending] = co_await corio::wait(std::move(tasks), corio::FIRST_COMPLETED);
  for (corio::Task<std::string>& t : done)
    std::printf("finished: %s\n", t.result().c_str());
  for (corio::Task<std::string>& t : pending) {
    const char* name = t == fast ? "fast" : "slow";
    std::printf("pending: %s (cancelling it)\n", name);
    t.cancel();
    // cancel() only asks: the task sees CancelledError at its current await and may
    // clean up, so wait until it has really ended.
    try {
      co_await t;
    } catch (const corio::CancelledError&) {
    }
    std::printf("%s cancelled: %s\n", name, t.cancelled() ? "yes" : "no");
  }
  stopwatch.report("wait", s(2.0));
}

corio::Coro<> step_wait_for(Scale s) {
  heading(7, "wait_for(): give up on an operation after a timeout");
  Stopwatch stopwatch;
  try {
    // job() would take 5 s; wait_for cancels it at 2 s, waits for it to end, then throws.
    co_await corio::wait_for(job("slow operation", s(5.0)), s(2.0));
    std::printf("finished in time\n");
  } catch (const corio::TimeoutError&) {
    std::printf("took too long\n");
  }
  stopwatch.report("wait_for", s(2.0));
}

// One loop for the whole lesson, like one asyncio.run(main()).
corio::Coro<> tutorial_main(Scale s) {
  // Asked inside the loop: the backend is chosen when corio::run() opens it.
  std::printf("corio tutorial — backend: %s\n", std::string(corio::current_backend()).c_str());

  heading(1, "A coroutine: io_task(name, delay, iterations)");
  std::printf(
      "io_task prints \"<name> iteration <i>\", then co_awaits corio::sleep(delay).\n"
      "The lesson runs three of them, %d iterations each:\n",
      kIterations);
  std::printf("  A every %.3f s, B every %.3f s, C every %.3f s\n", s(1.5).count(), s(1.0).count(),
              s(1.2).count());

  co_await step_sequential(s);
  co_await step_gather(s);
  co_await step_blocking(s);
  co_await step_create_task(s);
  co_await step_wait(s);
  co_await step_wait_for(s);
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a pipe, so our lines and stderr keep their order.
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);

  tutorial::ParseResult parsed = tutorial::parse_options(argc, argv);
  if (!parsed.options) return parsed.exit_code;

  corio::RunOptions run_options;
  run_options.backend = parsed.options->backend;
  try {
    corio::run(tutorial_main(Scale{parsed.options->scale}), run_options);
  } catch (const corio::BackendError& e) {
    // An unknown name or a backend this machine cannot open; what() lists the valid ones.
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
