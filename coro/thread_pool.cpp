#include "corio/coro/thread_pool.hpp"

#include <algorithm>

#include "corio/coro/errors.hpp"

namespace corio {

ThreadPool::ThreadPool(std::size_t size)
    : max_threads_(size != 0 ? size
                             : std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4)) {
}

ThreadPool::~ThreadPool() {
  shutdown();
}

void ThreadPool::submit(std::function<void()> job) {
  std::unique_lock lock(mutex_);
  if (stopping_) throw InvalidStateError("corio: the thread pool is shut down");
  jobs_.push_back(std::move(job));
  // A new thread only when none is idle: a burst of short jobs reuses the same few.
  if (idle_ == 0 && threads_.size() < max_threads_) {
    threads_.emplace_back([this] { work(); });
  } else {
    ready_.notify_one();
  }
}

void ThreadPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (std::thread& t : threads)
    t.join();
}

void ThreadPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace corio
