#include "corio/coro/runtime.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "corio/coro/errors.hpp"
#include "corio/coro/event.hpp"
#include "corio/coro/task.hpp"
#include "coro/affinity.hpp"

namespace corio {

// What the loop threads of one run share. The mutex guards everything except the
// fields marked "loop thread only", which only loop i's own thread touches (through
// callbacks posted with call_soon_threadsafe), so they need no lock.
struct Runtime::Shared {
  struct Slot {
    std::unique_ptr<EventLoop> loop;      // set before the start latch, destroyed after join
    bool finished = false;                // its main has ended (or never will)
    detail::PromiseBase* main = nullptr;  // loop thread only: the main task while it runs
    Event* all_done = nullptr;            // loop thread only: host()'s "every main ended"
  };

  std::mutex mutex;
  std::vector<Slot> slots;
  std::exception_ptr error;   // the first failure other than cancellation
  bool cancelled = false;     // some main ended by CancelledError
  bool setup_failed = false;  // a thread or loop could not start: no main runs
  std::size_t unfinished = 0;
  bool running = false;
  bool stop_requested = false;
};

Runtime::Runtime(RunOptions options)
    : options_(std::move(options)),
      size_(options_.threads != 0 ? options_.threads : detail::usable_cpu_count()),
      shared_(std::make_unique<Shared>()) {}

Runtime::~Runtime() = default;

EventLoop& Runtime::loop(std::size_t i) {
  std::lock_guard lock(shared_->mutex);
  if (!shared_->running) throw InvalidStateError("corio: the runtime is not running");
  if (i >= size_) {
    std::string what = "corio: the runtime has no loop ";
    what.append(std::to_string(i));
    throw std::out_of_range(what);
  }
  EventLoop* loop = shared_->slots[i].loop.get();
  if (loop == nullptr) throw InvalidStateError("corio: the runtime's loops are still starting");
  return *loop;
}

// Where the loop threads meet before any main runs. Not std::latch: libstdc++ 12's latch
// on targets without futexes (mingw-w64) could miss the wake-up of the last arrival,
// leaving a loop thread asleep in arrive_and_wait for good (seen under Wine).
struct Runtime::StartGate {
  explicit StartGate(std::size_t n) noexcept : left(n) {}
  /// Counts `n` arrivals that will never wait (threads that could not be started).
  void count_down(std::size_t n) {
    std::lock_guard lock(mutex);
    left -= std::min(n, left);
    if (left == 0) all_here.notify_all();
  }
  void arrive_and_wait() {
    std::unique_lock lock(mutex);
    if (left > 0) --left;
    if (left == 0) {
      all_here.notify_all();
      return;
    }
    all_here.wait(lock, [this] { return left == 0; });
  }

  std::mutex mutex;
  std::condition_variable all_here;
  std::size_t left;
};

void Runtime::stop() noexcept {
  std::lock_guard lock(shared_->mutex);
  shared_->stop_requested = true;
  if (!shared_->running) return;
  for (std::size_t j = 0; j < size_; ++j) {
    Shared::Slot& slot = shared_->slots[j];
    if (slot.loop == nullptr || slot.finished) continue;
    post_locked(j, [this, j] {
      if (detail::PromiseBase* main = shared_->slots[j].main) main->request_cancel();
    });
  }
}

// Called with the mutex held. Losing a post is harmless here: the loop it was for is
// closed (so its main ended) or out of memory (and the run is failing anyway).
void Runtime::post_locked(std::size_t i, std::function<void()> fn) noexcept {
  try {
    shared_->slots[i].loop->call_soon_threadsafe(std::move(fn));
  } catch (...) {
  }
}

void Runtime::run_erased(const MainFactory& make_main) {
  if (EventLoop::current() != nullptr) {
    throw InvalidStateError("corio: Runtime::run() cannot be called from a running event loop");
  }
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->running) throw InvalidStateError("corio: the runtime is already running");
    shared_->running = true;
    shared_->slots = std::vector<Shared::Slot>(size_);
    shared_->error = nullptr;
    shared_->cancelled = false;
    shared_->setup_failed = false;
    shared_->unfinished = size_;
  }
  std::vector<std::thread> threads;
  StartGate started(size_);
  std::exception_ptr spawn_error;
  try {
    threads.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) {
      threads.emplace_back([this, i, &make_main, &started] { thread_main(i, make_main, started); });
    }
  } catch (...) {
    // No thread for some loops: the ones started must not wait for them at the latch.
    spawn_error = std::current_exception();
    {
      std::lock_guard lock(shared_->mutex);
      if (!shared_->error) shared_->error = spawn_error;
      shared_->setup_failed = true;
    }
    started.count_down(size_ - threads.size());
  }
  for (std::thread& t : threads)
    t.join();

  std::exception_ptr error;
  bool cancelled = false;
  {
    std::lock_guard lock(shared_->mutex);
    error = shared_->error;
    cancelled = shared_->cancelled;
    shared_->running = false;
    shared_->stop_requested = false;
  }
  shared_->slots.clear();  // the loops are closed; destroying them touches no thread state
  if (error) std::rethrow_exception(error);
  if (cancelled) throw CancelledError();
}

void Runtime::thread_main(std::size_t i, const MainFactory& make_main, StartGate& started) {
  EventLoop* loop = nullptr;
  try {
    if (options_.pin_cpus) detail::pin_current_thread(i);
    // Made on this thread: a loop belongs to the thread that constructs it.
    auto made = std::make_unique<EventLoop>(options_);
    loop = made.get();
    std::lock_guard lock(shared_->mutex);
    shared_->slots[i].loop = std::move(made);
  } catch (...) {
    std::lock_guard lock(shared_->mutex);
    if (!shared_->error) shared_->error = std::current_exception();
    shared_->setup_failed = true;
  }
  // Every loop exists before any main runs, so a main may reach any loop(j) at once.
  started.arrive_and_wait();
  bool go;
  {
    // Not `error`: a fast loop's main may already have failed, and this loop must still
    // run its main (to be cancelled) and count itself finished, or the others would
    // wait for it forever. Setup failures are all known at the latch.
    std::lock_guard lock(shared_->mutex);
    go = loop != nullptr && !shared_->setup_failed;
  }
  if (go) {
    try {
      loop->run_until_complete(host(i, make_main));
    } catch (...) {
      finish(i, std::current_exception());  // the loop itself failed (backend wait)
    }
    try {
      loop->cancel_all_and_drain();
    } catch (...) {
      finish(i, std::current_exception());
    }
  }
  if (loop != nullptr) loop->close();
}

Coro<void> Runtime::host(std::size_t i, const MainFactory& make_main) {
  Event all_done;
  Shared::Slot& slot = shared_->slots[i];
  // Cleared on the way out however host ends, so a late "all done" post finds nothing.
  struct Forget {
    Shared::Slot& slot;
    ~Forget() {
      slot.main = nullptr;
      slot.all_done = nullptr;
    }
  } forget{slot};
  slot.all_done = &all_done;
  std::exception_ptr error;
  try {
    Task<void> main = create_task(make_main(i));
    slot.main = &main.promise();
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stop_requested || shared_->error) main.cancel();
    }
    try {
      co_await main;
    } catch (...) {
      error = std::current_exception();
    }
    slot.main = nullptr;
  } catch (...) {
    error = std::current_exception();  // make_main (the user's fn) threw
  }
  finish(i, error);
  co_await all_done.wait();
}

void Runtime::finish(std::size_t i, std::exception_ptr error) noexcept {
  std::lock_guard lock(shared_->mutex);
  Shared::Slot& slot = shared_->slots[i];
  if (slot.finished) return;
  slot.finished = true;
  bool first_failure = false;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const CancelledError&) {
      shared_->cancelled = true;
    } catch (...) {
      first_failure = !shared_->error;
      if (first_failure) shared_->error = error;
    }
  }
  for (std::size_t j = 0; j < size_; ++j) {
    if (j == i || shared_->slots[j].loop == nullptr) continue;
    if (first_failure && !shared_->slots[j].finished) {
      post_locked(j, [this, j] {
        if (detail::PromiseBase* main = shared_->slots[j].main) main->request_cancel();
      });
    }
  }
  if (--shared_->unfinished > 0) return;
  for (std::size_t j = 0; j < size_; ++j) {
    if (shared_->slots[j].loop == nullptr) continue;
    post_locked(j, [this, j] {
      if (Event* done = shared_->slots[j].all_done) done->set();
    });
  }
}

}  // namespace corio
