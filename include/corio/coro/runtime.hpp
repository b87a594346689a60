// Thread-per-core: N event loops on N threads, each with its own backend instance, run
// together like a TaskGroup spread over loops. Loops share nothing; work crosses between
// them only through call_soon_threadsafe, run_on() and Channel.
#pragma once

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "corio/coro/coro.hpp"
#include "corio/coro/loop.hpp"

namespace corio {
namespace detail {

/// What Runtime::run() takes: `fn(i)` gives loop i's main coroutine.
template <class Fn>
concept LoopMainFactory = std::invocable<Fn&, std::size_t> && requires(Fn& fn, std::size_t i) {
  typename std::invoke_result_t<Fn&, std::size_t>::value_type;
  requires std::same_as<std::invoke_result_t<Fn&, std::size_t>,
                        Coro<typename std::invoke_result_t<Fn&, std::size_t>::value_type>>;
};

template <class T>
Coro<void> store_result(Coro<T> main, std::optional<T>& out) {
  T value = co_await std::move(main);
  out.emplace(std::move(value));
}

}  // namespace detail

/// N event loops, one per thread (RunOptions::threads; 0 means one per CPU), each with
/// its own backend chosen by the same RunOptions. run(fn) runs `fn(i)` as the main task of
/// loop i on every loop at once and returns when all have finished. Loops exist only
/// during run(); each run makes fresh threads and loops and closes them at the end. No
/// asyncio counterpart: asyncio has one loop per process.
class Runtime {
 public:
  /// Checks the options; the threads and loops start with run(). Pinning
  /// (RunOptions::pin_cpus) happens on each thread as it starts.
  explicit Runtime(RunOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Number of loops (threads).
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Runs `fn(i)`, a coroutine, as the main task of loop i on each of the size() loops
  /// and waits (blocking the calling thread) until every one has finished. Like a
  /// TaskGroup across loops: the first main to fail makes the others be cancelled and
  /// its exception is rethrown once all have ended. Each loop then ends like
  /// corio::run(): remaining tasks are cancelled and drained, the loop closes. A loop
  /// keeps running after its main returns until every main has, so run_on() and Channel
  /// between loops work for as long as any main does.
  /// Returns the mains' results in loop order (nothing for Coro<void>). `fn` is called
  /// once per loop, on that loop's thread, concurrently. Throws BackendError if a
  /// backend cannot open (no main runs then), CancelledError if stop() ended a main,
  /// InvalidStateError if called from a running loop or while already running.
  template <detail::LoopMainFactory Fn>
  auto run(Fn fn) {
    using T = typename std::invoke_result_t<Fn&, std::size_t>::value_type;
    if constexpr (std::is_void_v<T>) {
      run_erased([&fn](std::size_t i) { return fn(i); });
    } else {
      std::vector<std::optional<T>> results(size_);
      run_erased(
          [&fn, &results](std::size_t i) { return detail::store_result(fn(i), results[i]); });
      std::vector<T> out;
      out.reserve(size_);
      for (std::optional<T>& r : results)
        out.push_back(std::move(*r));
      return out;
    }
  }

  /// Loop i, from any thread, while run() is running; InvalidStateError otherwise. Only
  /// its thread-safe calls (call_soon_threadsafe, run_coroutine_threadsafe, run_on) may
  /// be used from other threads. The object stays valid until run() returns.
  [[nodiscard]] EventLoop& loop(std::size_t i);

  /// Cancels every loop's main task (thread-safe; not async-signal-safe: from a signal,
  /// use add_signal_handler on one of the loops). Before run() it cancels the next run's
  /// mains as they start.
  void stop() noexcept;

 private:
  using MainFactory = std::function<Coro<void>(std::size_t)>;
  struct Shared;

  void run_erased(const MainFactory& make_main);
  struct StartGate;
  void thread_main(std::size_t i, const MainFactory& make_main, StartGate& started);
  Coro<void> host(std::size_t i, const MainFactory& make_main);
  void finish(std::size_t i, std::exception_ptr error) noexcept;
  void post_locked(std::size_t i, std::function<void()> fn) noexcept;

  RunOptions options_;
  std::size_t size_;
  std::unique_ptr<Shared> shared_;
};

/// asyncio.run()'s shape for several loops: makes a Runtime with `options` (threads,
/// backend, pinning...) and returns Runtime::run(fn). `corio::run_threads([](std::size_t
/// i) -> corio::Coro<void> {...}, {.threads = 2})`.
template <detail::LoopMainFactory Fn>
auto run_threads(Fn fn, const RunOptions& options = {}) {
  Runtime runtime(options);
  return runtime.run(std::move(fn));
}

}  // namespace corio
