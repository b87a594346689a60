#include "corio/coro/loop.hpp"

#include <cstdio>
#include <exception>
#include <system_error>
#include <utility>

#include "corio/coro/errors.hpp"
#include "coro/debug.hpp"

namespace corio {
namespace detail {
constinit thread_local EventLoop* t_current_loop = nullptr;
}  // namespace detail
using detail::t_current_loop;

namespace {
// The loop inside a run_* call on this thread. Not t_current_loop: a loop is current
// from its construction, so a loop made inside another's task would hide the running one.
thread_local EventLoop* t_running_loop = nullptr;
}  // namespace

// One run_* call: refuses a closed loop and nested runs, marks the loop running and
// current for awaiters, and leaves it stopped-and-idle however the run ends. A stop()
// lasts for one run, as asyncio's run_forever resets _stopping when it returns.
class EventLoop::RunScope {
 public:
  explicit RunScope(EventLoop& loop) : loop_(loop), outer_(t_current_loop) {
    loop.check_runnable();
    loop.running_ = true;
    t_running_loop = &loop;
    t_current_loop = &loop;
    if (loop.debug_on_ && !loop.announced_) {
      loop.announced_ = true;
      std::fprintf(stderr, "corio: debug mode: backend %s%s%s%s\n", loop.backend_name_.c_str(),
                   loop.selection_note_.empty() ? "" : " (", loop.selection_note_.c_str(),
                   loop.selection_note_.empty() ? "" : ")");
    }
  }
  ~RunScope() {
    loop_.running_ = false;
    loop_.stopping_ = false;
    t_running_loop = nullptr;  // runs never nest: check_runnable() saw none
    t_current_loop = outer_;
  }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  EventLoop& loop_;
  EventLoop* outer_;
};

EventLoop::EventLoop(const RunOptions& options)
    : slow_duration_(options.slow_callback_duration.value_or(detail::debug_env_slow_duration())) {
  ReactorOptions ro;
  ro.backend = options.backend;
  ro.backend_options.queue_depth = options.queue_depth;
  ro.clock = options.clock;
  std::error_code ec;
  std::string message;
  thread_pool_size_ = options.thread_pool_size;
  reactor_ = Reactor::open(ro, ec, message);
  if (!reactor_) throw BackendError(ec, message);
  clock_ = &reactor_->clock();
  backend_name_ = reactor_->backend_name();
  selection_note_ = std::move(message);
  if (options.debug || detail::debug_env_enabled()) set_debug(true);
  previous_ = t_current_loop;
  t_current_loop = this;
}

EventLoop::~EventLoop() {
  teardown();
}

void EventLoop::close() {
  if (running_) throw InvalidStateError("corio: cannot close a running event loop");
  teardown();
}

void EventLoop::teardown() noexcept {
  if (closed_) return;
  // Workers may still post results; join them before anything they could touch goes.
  if (pool_) pool_->shutdown();
  // Destroying a task's frame may release locks or drop handles, which find the loop
  // through the thread's current loop.
  EventLoop* const outer = t_current_loop;
  t_current_loop = this;
  while (detail::PromiseBase* t = tasks_.front())
    t->abandon_task();
  // Callbacks that never ran are dropped (asyncio's close() clears _ready and
  // _scheduled); their handles stay valid and cancel() on them does nothing harmful.
  while (!ready_.empty()) {
    Callback c = ready_.pop();
    if (c.fn == &run_user_callback) {
      auto* s = static_cast<detail::CallbackState*>(c.arg);
      s->loop = nullptr;
      s->fn = nullptr;
      s->release();
    }
  }
  while (detail::CallbackState* s = timer_handles_.pop_front()) {
    s->forget();  // the timer wheel goes with the reactor below
    s->loop = nullptr;
    s->fn = nullptr;
    s->release();
  }
  std::vector<std::function<void()>> dropped;
  {
    // After this, call_soon_threadsafe throws instead of touching the backend: it
    // wakes the loop under this lock, so no thread is still inside wake() below.
    std::lock_guard lock(inbox_mutex_);
    closed_ = true;
    dropped.swap(inbox_);
  }
  // Destroyed outside the lock: a dropped callback may own something whose destructor
  // posts to another loop (run_on's reply when its coroutine never started), and that
  // loop may be closing too, posting back to this one.
  dropped.clear();
  inbox_pending_.store(false, std::memory_order_relaxed);
  reactor_.reset();
  t_current_loop = outer == this ? previous_ : outer;
}

EventLoop& EventLoop::running() {
  if (t_current_loop == nullptr) throw InvalidStateError("corio: no running event loop");
  return *t_current_loop;
}

std::string_view current_backend() {
  return EventLoop::running().backend_name();
}

void EventLoop::check_open() const {
  if (closed_) throw InvalidStateError("corio: event loop is closed");
}

void EventLoop::check_runnable() const {
  check_open();
  if (running_) throw InvalidStateError("corio: this event loop is already running");
  if (t_running_loop != nullptr) {
    throw InvalidStateError("corio: another event loop is running on this thread");
  }
}

void EventLoop::ReadyQueue::resize(std::size_t capacity) {
  std::vector<Callback> fresh(capacity);
  const std::size_t n = size();
  for (std::size_t i = 0; i < n; ++i)
    fresh[i] = pop();
  items_.swap(fresh);
  head_ = 0;
  tail_ = n;
}

void EventLoop::call_soon_threadsafe(std::function<void()> fn) {
  std::lock_guard lock(inbox_mutex_);
  if (closed_) throw InvalidStateError("corio: event loop is closed");
  inbox_.push_back(std::move(fn));
  // Only the first post since the loop last looked needs to interrupt its wait.
  if (!inbox_pending_.exchange(true, std::memory_order_acq_rel)) reactor_->wake();
}

ThreadPool& EventLoop::thread_pool() {
  if (!pool_) {
    check_open();
    pool_ = std::make_unique<ThreadPool>(thread_pool_size_);
  }
  return *pool_;
}

void EventLoop::run_inbox() {
  if (!inbox_pending_.exchange(false, std::memory_order_acq_rel)) return;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.swap(inbox_spare_);
  }
  detail::DebugMonitor* const monitor = debug_on_ ? monitor_.get() : nullptr;
  for (std::function<void()>& fn : inbox_spare_) {
    if (monitor != nullptr) monitor->begin_step();
    try {
      fn();
    } catch (...) {
      detail::report_callback_exception(std::current_exception());
    }
    if (monitor != nullptr) monitor->end_step();
  }
  inbox_spare_.clear();
}

void EventLoop::run_once(bool may_block) {
  // asyncio's _run_once: the reactor collects the completions and due timers, whose
  // callbacks only queue their waiters; cross-thread posts are queued likewise; then the
  // ready queue runs once, as it stood at that point. Callbacks queued meanwhile wait
  // for the next turn, so I/O and timers are polled between them and no task, however
  // it waits, can keep a turn going. Ending with the ready queue lets run_until_done see
  // a finished task before it would block again. A pending stop() means this turn must
  // not wait (asyncio: timeout 0 when _stopping).
  const bool inbox_waiting = inbox_pending_.load(std::memory_order_acquire);
  int rc = reactor_->run_once(may_block && ready_.empty() && !inbox_waiting && !stopping_);
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "corio: backend wait failed");
  run_inbox();
  const std::size_t n = ready_.size();
  if (debug_on_) [[unlikely]] {
    run_ready_observed(n);
  } else {
    for (std::size_t i = n; i > 0; --i) {
      Callback c = ready_.pop();
      budget_ = kBudget;
      c.fn(c.arg);
    }
  }
  ready_.shrink_if_idle();
}

// run_once's ready loop in debug mode: each callback is one step, timed.
void EventLoop::run_ready_observed(std::size_t n) {
  detail::DebugMonitor& monitor = *monitor_;
  for (; n > 0; --n) {
    Callback c = ready_.pop();
    budget_ = kBudget;
    monitor.begin_step();
    c.fn(c.arg);
    monitor.end_step();
  }
}

void EventLoop::run_forever() {
  RunScope scope(*this);
  do {
    run_once(true);
  } while (!stopping_);
}

void EventLoop::run_until_done(detail::PromiseBase& task) {
  RunScope scope(*this);
  while (!task.done()) {
    run_once(true);
    if (stopping_ && !task.done()) {
      throw InvalidStateError("corio: the event loop stopped before the task completed");
    }
  }
}

void EventLoop::cancel_all_and_drain() {
  RunScope scope(*this);
  // Every task must end here, so a stop() from one of them is not honoured (it would
  // only make the turns below poll instead of wait).
  auto turn = [this](bool may_block) {
    run_once(may_block);
    stopping_ = false;
  };
  std::vector<detail::PromiseBase*> batch;
  while (!tasks_.empty()) {
    // Tasks created while the others unwind are cancelled in the next round.
    batch.clear();
    for (detail::PromiseBase* t = tasks_.front(); t != nullptr; t = tasks_.next(*t)) {
      t->add_ref();
      batch.push_back(t);
    }
    for (detail::PromiseBase* t : batch)
      t->request_cancel();
    for (detail::PromiseBase* t : batch) {
      while (!t->done())
        turn(true);
    }
    for (detail::PromiseBase* t : batch)
      t->release_ref();
  }
  while (!ready_.empty())
    turn(false);
}

void EventLoop::add_task(detail::PromiseBase& t) noexcept {
  tasks_.push_front(t);
}

void EventLoop::remove_task(detail::PromiseBase& t) noexcept {
  tasks_.remove(t);
}

// --- Debug mode -------------------------------------------------------------------

void EventLoop::set_debug(bool on) {
  // The monitor, once made, lives as long as the loop: a step may switch debug mode
  // off while the reactor or the ready loop is still using it.
  if (on && !monitor_) monitor_ = std::make_unique<detail::DebugMonitor>(slow_duration_);
  if (on && !debug_on_) {
    // Tasks made while it was off get their names now: reports name them, and a task
    // destroyed within a step must be named to keep t_step_task from dangling.
    for (detail::PromiseBase* t = tasks_.front(); t != nullptr; t = tasks_.next(*t))
      detail::name_for_debug(*t);
  }
  debug_on_ = on;
  if (reactor_) reactor_->set_observer(on ? monitor_.get() : nullptr);
}

void EventLoop::set_slow_callback_duration(Duration d) noexcept {
  slow_duration_ = d;
  if (monitor_) monitor_->set_threshold(d);
}

}  // namespace corio
