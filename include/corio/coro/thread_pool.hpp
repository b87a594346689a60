// The loop's pool of worker threads for blocking work (asyncio's default executor).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace corio {

/// A bounded set of threads running jobs FIFO. Threads start on demand, up to `size`;
/// shutdown() lets queued jobs finish and joins every thread.
class ThreadPool {
 public:
  /// `size` 0 means min(32, hardware threads + 4), Python's default executor size.
  explicit ThreadPool(std::size_t size = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Queues `job` (thread-safe). Throws InvalidStateError after shutdown().
  void submit(std::function<void()> job);
  /// Runs what is queued, then joins the threads. Idempotent.
  void shutdown();

  [[nodiscard]] std::size_t max_threads() const noexcept { return max_threads_; }

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  std::size_t max_threads_;
  bool stopping_ = false;
};

}  // namespace corio
