// libFuzzer target: the scheduler. The input is a program: a main coroutine's steps
// (spawn a worker, sleep, cancel / await / wait_for a task, gather, wait, set an event,
// put or get without waiting) and each worker's own steps (sleep, yield, queue put/get,
// get under a timeout, event wait/set/clear, raise, cancel or await an older task).
// It runs on a loop with a virtual clock, so sleeps cost nothing. Main's own waits are
// bounded (a worker may wait for an event nobody sets); at the end it cancels every
// task and awaits them all. Invariants:
//  - the loop ends (a hang is a libFuzzer timeout) and no task is left on it;
//  - every task finishes exactly once: its body ends once (value, exception or
//    cancellation, matching what awaiting the task says), or never starts when it was
//    cancelled first; its frame is destroyed exactly once;
//  - no queue item is lost or duplicated, cancelled waits included: the items put are
//    exactly the items got plus the items left in the queue;
//  - no leak and no use-after-free (ASan and LeakSanitizer in the fuzz preset).
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <set>
#include <stdexcept>
#include <vector>

#include "corio/corio.hpp"

namespace {

using namespace std::chrono_literals;

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer saves the program that broke an invariant
}

struct Fault : std::runtime_error {
  Fault() : std::runtime_error("worker raised") {}
};

// What one task did, kept outside its frame so it can be checked after the frame is gone.
struct Record {
  int started = 0;
  int ended_ok = 0;
  int ended_error = 0;
  int ended_cancelled = 0;
  int frames_destroyed = 0;
};

struct World {
  std::deque<Record> records;  // a deque: workers keep references while main adds more
  std::vector<corio::Task<int>> tasks;
  corio::Queue<int> queue;
  corio::Event event;
  std::set<int> offered;  // items a put was started with
  std::set<int> put;      // items whose put returned (a getter may have them before)
  std::set<int> got;      // items a get returned
  int next_item = 0;
  explicit World(std::size_t maxsize) : queue(maxsize) {}

  void took(int item) {
    check(offered.count(item) == 1);  // never an item nobody put
    check(got.insert(item).second);   // never the same item twice
  }
};

// Lives in a worker's frame (a by-value parameter): counts the frame's destruction, which
// happens whether or not the body ever ran.
struct FrameLease {
  std::deque<Record>* records;
  std::size_t index;
  FrameLease(std::deque<Record>* r, std::size_t i) noexcept : records(r), index(i) {}
  FrameLease(FrameLease&& o) noexcept
      : records(std::exchange(o.records, nullptr)), index(o.index) {}
  FrameLease& operator=(FrameLease&&) = delete;
  ~FrameLease() {
    if (records != nullptr) ++(*records)[index].frames_destroyed;
  }
};

enum class WorkerOp : std::uint8_t {
  sleep,
  yield,
  put,
  get,
  get_with_timeout,
  event_wait,
  event_set,
  event_clear,
  raise,
  cancel_older,
  await_older,
  count
};

struct Step {
  WorkerOp op;
  std::uint8_t arg;
};

corio::Duration ms(std::uint8_t arg) {
  return std::chrono::milliseconds(arg % 8);
}

// SCHEDULER_FUZZ_TRACE=1 prints the program as it runs (to read a crash input).
const bool trace = std::getenv("SCHEDULER_FUZZ_TRACE") != nullptr;

corio::Coro<void> run_step(World& w, std::size_t self, Step s) {
  if (trace)
    std::fprintf(stderr, "  task %zu: op %d arg %d\n", self, static_cast<int>(s.op), s.arg);
  switch (s.op) {
    case WorkerOp::sleep:
      co_await corio::sleep(ms(s.arg));
      break;
    case WorkerOp::yield:
      co_await corio::sleep(0ms);
      break;
    case WorkerOp::put: {
      const int item = w.next_item++;
      w.offered.insert(item);
      co_await w.queue.put(item);  // CancelledError: the item did not enter
      check(w.put.insert(item).second);
      break;
    }
    case WorkerOp::get: {
      const int item = co_await w.queue.get();
      w.took(item);
      break;
    }
    case WorkerOp::get_with_timeout: {
      // The timeout cancels the get; an item handed over at the same moment must still
      // come out (delivered) or stay in the queue, never vanish.
      bool timed_out = false;
      int item = -1;
      try {
        item = co_await corio::timeout(ms(s.arg)).run(w.queue.get());
      } catch (const corio::TimeoutError&) {
        timed_out = true;
      }
      if (!timed_out) w.took(item);
      break;
    }
    case WorkerOp::event_wait:
      co_await w.event.wait();
      break;
    case WorkerOp::event_set:
      w.event.set();
      break;
    case WorkerOp::event_clear:
      w.event.clear();
      break;
    case WorkerOp::raise:
      throw Fault();
    case WorkerOp::cancel_older:
      // Any task, itself included (asyncio allows a task to cancel itself).
      if (trace) std::fprintf(stderr, "  task %zu cancels task %zu\n", self, s.arg % (self + 1));
      w.tasks[s.arg % (self + 1)].cancel();
      break;
    case WorkerOp::await_older:
      if (self > 0) {
        // Only older tasks, so waits never form a cycle.
        corio::Task<int> t = w.tasks[s.arg % self];
        if (trace) std::fprintf(stderr, "  task %zu awaits task %zu\n", self, s.arg % self);
        try {
          (void)co_await t;
        } catch (const Fault&) {
        }
      }
      break;
    case WorkerOp::count:
      break;
  }
}

corio::Coro<int> worker(World& w, FrameLease lease, std::vector<Step> steps) {
  Record& r = w.records[lease.index];
  ++r.started;
  try {
    for (const Step& s : steps)
      co_await run_step(w, lease.index, s);
  } catch (const corio::CancelledError&) {
    if (trace) std::fprintf(stderr, "  task %zu ends cancelled\n", lease.index);
    ++r.ended_cancelled;
    throw;
  } catch (...) {
    if (trace) std::fprintf(stderr, "  task %zu ends with an exception\n", lease.index);
    ++r.ended_error;
    throw;
  }
  if (trace) std::fprintf(stderr, "  task %zu ends ok\n", lease.index);
  ++r.ended_ok;
  co_return static_cast<int>(lease.index);
}

enum class MainOp : std::uint8_t {
  spawn,
  sleep,
  cancel,
  await_task,
  wait_for_task,
  gather_two,
  wait_first,
  event_set,
  put_nowait,
  get_nowait,
  count
};

// Awaits `t`, however it ends; CancelledError from the task itself is swallowed, but
// only when the task was cancelled (a cancellation of main would be a bug here).
corio::Coro<void> settle(corio::Task<int> t) {
  try {
    (void)co_await t;
  } catch (const Fault&) {
  } catch (const corio::CancelledError&) {
    check(t.cancelled());
  }
}

corio::Coro<void> main_program(World& w, FuzzedDataProvider& in) {
  const auto pick = [&](std::uint8_t arg) -> corio::Task<int>* {
    if (w.tasks.empty()) return nullptr;
    return &w.tasks[arg % w.tasks.size()];
  };
  int budget = 64;
  while (in.remaining_bytes() > 0 && budget-- > 0) {
    const auto op =
        static_cast<MainOp>(in.ConsumeIntegral<std::uint8_t>() % static_cast<int>(MainOp::count));
    const auto arg = in.ConsumeIntegral<std::uint8_t>();
    if (trace) std::fprintf(stderr, "main: op %d arg %d\n", static_cast<int>(op), arg);
    switch (op) {
      case MainOp::spawn: {
        if (w.tasks.size() >= 24) break;
        std::vector<Step> steps(in.ConsumeIntegralInRange(0, 6));
        for (Step& s : steps) {
          s.op = static_cast<WorkerOp>(in.ConsumeIntegral<std::uint8_t>() %
                                       static_cast<int>(WorkerOp::count));
          s.arg = in.ConsumeIntegral<std::uint8_t>();
        }
        const std::size_t index = w.tasks.size();
        w.records.emplace_back();
        w.tasks.push_back(
            corio::create_task(worker(w, FrameLease(&w.records, index), std::move(steps))));
        break;
      }
      case MainOp::sleep:
        co_await corio::sleep(ms(arg));
        break;
      case MainOp::cancel:
        if (corio::Task<int>* t = pick(arg)) t->cancel();
        break;
      case MainOp::await_task:
        // Bounded (a worker may wait for an event nobody sets): asyncio.wait with a
        // timeout, which never cancels; settle() then returns at once if it is done.
        if (corio::Task<int>* t = pick(arg)) {
          std::vector<corio::Task<int>> one{*t};
          auto [done, pending] =
              co_await corio::wait(std::move(one), corio::ALL_COMPLETED, corio::Duration(ms(arg)));
          check(done.size() + pending.size() == 1);
          if (!done.empty()) co_await settle(*t);
        }
        break;
      case MainOp::wait_for_task:
        if (corio::Task<int>* t = pick(arg)) {
          // wait_for cancels the task on expiry and waits for it to unwind.
          bool timed_out = false;
          try {
            (void)co_await corio::wait_for(*t, ms(arg >> 3));
          } catch (const corio::TimeoutError&) {
            timed_out = true;
          } catch (const Fault&) {
          } catch (const corio::CancelledError&) {
            check(t->cancelled());
          }
          if (timed_out) check(t->done());
        }
        break;
      case MainOp::gather_two:
        if (!w.tasks.empty()) {
          // Bounded: on expiry wait_for cancels the gather, which cancels its children.
          std::vector<corio::Task<int>> two{*pick(arg), *pick(arg >> 4)};
          try {
            auto results = co_await corio::wait_for(
                corio::gather(corio::return_exceptions, std::move(two)), ms(arg >> 5) + 1ms);
            check(results.size() == 2);
          } catch (const corio::TimeoutError&) {
          }
        }
        break;
      case MainOp::wait_first:
        if (!w.tasks.empty()) {
          // asyncio.wait takes a set: no task twice.
          std::vector<corio::Task<int>> two{*pick(arg)};
          if (pick(arg >> 4) != pick(arg)) two.push_back(*pick(arg >> 4));
          auto [done, pending] = co_await corio::wait(std::move(two), corio::FIRST_COMPLETED,
                                                      corio::Duration(ms(arg >> 2)));
          for (const auto& t : done)
            check(t.done());
        }
        break;
      case MainOp::event_set:
        w.event.set();
        break;
      case MainOp::put_nowait: {
        const int item = w.next_item++;
        w.offered.insert(item);
        try {
          w.queue.put_nowait(item);
          check(w.put.insert(item).second);
        } catch (const corio::QueueFull&) {
        }
        break;
      }
      case MainOp::get_nowait:
        try {
          w.took(w.queue.get_nowait());
        } catch (const corio::QueueEmpty&) {
        }
        break;
      case MainOp::count:
        break;
    }
  }
  // The end of the program: cancel whatever still runs and wait for all of it. A task
  // may finish a wait that already succeeded (a queue item handed over) and go on to
  // another before it sees a cancel, and one whose cancel was passed on to a task it
  // awaits goes on if that task ends normally (asyncio's rule too): cancel again,
  // within a bound, so a task that can never be stopped is caught.
  for (int round = 0; round < 64; ++round) {
    std::vector<corio::Task<int>> running;
    for (corio::Task<int>& t : w.tasks) {
      if (!t.done()) {
        t.cancel();
        running.push_back(t);
      }
    }
    if (running.empty()) break;
    if (trace) std::fprintf(stderr, "main: round %d cancels %zu tasks\n", round, running.size());
    (void)co_await corio::wait(std::move(running), corio::ALL_COMPLETED, corio::Duration(1s));
  }
  for (corio::Task<int>& t : w.tasks) {
    check(t.done());
    co_await settle(t);
  }
}

void check_outcomes(World& w) {
  for (std::size_t i = 0; i < w.tasks.size(); ++i) {
    const Record& r = w.records[i];
    corio::Task<int>& t = w.tasks[i];
    check(t.done());
    check(r.started <= 1);
    check(r.ended_ok + r.ended_error + r.ended_cancelled == r.started);
    if (r.started == 0) {
      check(t.cancelled());  // only a cancellation before its first step skips a body
    } else if (r.ended_cancelled == 1) {
      check(t.cancelled());
    } else if (r.ended_ok == 1) {
      check(!t.cancelled() && t.result() == static_cast<int>(i));
    } else {
      check(!t.cancelled());
      bool raised = false;
      try {
        (void)t.result();
      } catch (const Fault&) {
        raised = true;
      }
      check(raised);
    }
  }
}

struct Session {
  corio::ManualClock clock;
  std::unique_ptr<corio::EventLoop> loop;
  Session() { loop = std::make_unique<corio::EventLoop>(options()); }
  corio::RunOptions options() {
    corio::RunOptions o;
    o.backend = std::getenv("SCHEDULER_FUZZ_BACKEND") != nullptr
                    ? std::getenv("SCHEDULER_FUZZ_BACKEND")
                    : "poll";
    o.clock = &clock;
    return o;
  }
};

corio::EventLoop& loop() {
  // One loop for the session; each input leaves it with no task (checked), so inputs
  // stay independent. SCHEDULER_FUZZ_FRESH_LOOP=1 opens one per input instead, to
  // compare (see docs/reliability.md for the measured cost).
  static Session s;
  if (std::getenv("SCHEDULER_FUZZ_FRESH_LOOP") != nullptr) {
    s.loop.reset();
    s.loop = std::make_unique<corio::EventLoop>(s.options());
  }
  return *s.loop;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  World w(in.ConsumeIntegralInRange<std::size_t>(0, 3));
  loop().run_until_complete(main_program(w, in));
  check(loop().task_count() == 0);
  check_outcomes(w);
  // Every item whose put returned was got or is still queued, exactly once; an item
  // whose put was cancelled is in neither.
  std::set<int> accounted = w.got;
  while (!w.queue.empty())
    check(accounted.insert(w.queue.get_nowait()).second);
  check(accounted == w.put);
  w.tasks.clear();  // the last handles: the frames go now
  for (const Record& r : w.records)
    check(r.frames_destroyed == 1);
  return 0;
}
