// Heap or wheel (issue 16, part 6): the reactor's TimerWheel against the 4-ary heap it
// replaced (bench/timer_heap.hpp), on the same workloads in the same run, so their ratio is
// fair. Figures and the decision: docs/backends.md, "Timers: heap or wheel".
//   TimerQueue/arm_1M, fire_1M: a million timers with random deadlines within an hour,
//     armed into an empty structure, then fired by jumping time to each next deadline
//     as the reactor does with a manual clock (ns_per_timer).
//   TimerQueue/churn: one timer armed and cancelled among N resident ones (the price of
//     every wait_for or timeout that does not expire).
//   TimerQueue/mix: a loop turn every 10 µs arms a 5 s timeout and cancels the one armed
//     64 turns earlier, except 1 in 20 left to expire, among 100k resident sleepers
//     re-armed as they fire: mostly cancelled, as timeouts are.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "bench.hpp"
#include "corio/reactor/timer.hpp"
#include "timer_heap.hpp"

namespace bench {
namespace {

using namespace std::chrono_literals;

// A steady clock's time points count from boot; start days in, not at zero, so a
// structure that keys on absolute time sees realistic values.
constexpr corio::TimePoint kStart = corio::TimePoint(std::chrono::hours(24 * 10));
constexpr std::size_t kMillion = 1'000'000;

// Offsets from kStart in [0, 1 h), drawn once per seed.
const std::vector<corio::Duration>& random_offsets(std::size_t n, std::uint32_t seed) {
  static std::vector<std::vector<corio::Duration>> cache(8);
  std::vector<corio::Duration>& out = cache[seed];
  if (out.size() != n) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> dist(0, corio::Duration(1h).count() - 1);
    out.resize(n);
    for (corio::Duration& d : out)
      d = corio::Duration(dist(rng));
  }
  return out;
}

void forget(HeapTimer& t) noexcept {
  t.heap_index = HeapTimer::not_queued;
}
void forget(corio::Timer& t) noexcept {
  t.forget();
}

// The two contenders: the old heap and the reactor's wheel, each with its own timer type.
struct Heap {
  using Queue = TimerHeap;
  using Node = HeapTimer;
};
struct Wheel {
  using Queue = corio::TimerWheel;
  using Node = corio::Timer;
};

// A fresh structure that has seen the clock at kStart (the reactor calls pop_due every
// turn, so a wheel's notion of "now" is never far behind).
template <class Q>
std::unique_ptr<typename Q::Queue> fresh_queue() {
  auto q = std::make_unique<typename Q::Queue>();
  (void)q->pop_due(kStart);
  return q;
}

template <class Q>
void arm_all(typename Q::Queue& q, std::vector<typename Q::Node>& timers,
             const std::vector<corio::Duration>& offsets) {
  for (std::size_t i = 0; i < timers.size(); ++i) {
    timers[i].deadline = kStart + offsets[i];
    q.push(timers[i]);
  }
}

template <class Q>
std::size_t fire_all(typename Q::Queue& q) {
  std::size_t fired = 0;
  corio::TimePoint now = kStart;
  while (typename Q::Node* next = q.top()) {
    if (next->deadline > now) now = next->deadline;
    while (q.pop_due(now) != nullptr)
      ++fired;
  }
  return fired;
}

void per_timer(benchmark::State& state, std::size_t timers_per_iteration, std::size_t size) {
  state.counters["ns_per_timer"] = benchmark::Counter(
      static_cast<double>(timers_per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["sizeof_timer"] = static_cast<double>(size);
}

template <class Q>
void BM_Arm1M(benchmark::State& state) {
  const std::vector<corio::Duration>& offsets = random_offsets(kMillion, 1);
  std::vector<typename Q::Node> timers(kMillion);
  for (auto _ : state) {
    state.PauseTiming();
    auto q = fresh_queue<Q>();
    state.ResumeTiming();
    arm_all<Q>(*q, timers, offsets);
    state.PauseTiming();
    benchmark::DoNotOptimize(q->size());
    for (auto& t : timers)
      forget(t);
    q.reset();
    state.ResumeTiming();
  }
  per_timer(state, kMillion, sizeof(typename Q::Node));
}

template <class Q>
void BM_Fire1M(benchmark::State& state) {
  const std::vector<corio::Duration>& offsets = random_offsets(kMillion, 1);
  std::vector<typename Q::Node> timers(kMillion);
  std::size_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto q = fresh_queue<Q>();
    arm_all<Q>(*q, timers, offsets);
    state.ResumeTiming();
    fired += fire_all<Q>(*q);
  }
  if (fired != kMillion * state.iterations()) state.SkipWithError("lost a timer");
  per_timer(state, kMillion, sizeof(typename Q::Node));
}

template <class Q>
void BM_Churn(benchmark::State& state) {
  const auto resident_count = static_cast<std::size_t>(state.range(0));
  const std::vector<corio::Duration>& offsets = random_offsets(resident_count, 2);
  std::vector<typename Q::Node> resident(resident_count);
  auto q = fresh_queue<Q>();
  arm_all<Q>(*q, resident, offsets);
  constexpr std::size_t kProbes = 1024;  // a power of two: the index is a mask
  const std::vector<corio::Duration>& probes = random_offsets(kProbes, 3);
  typename Q::Node t;
  std::size_t i = 0;
  for (auto _ : state) {
    t.deadline = kStart + probes[i++ & (kProbes - 1)];
    q->push(t);
    benchmark::DoNotOptimize(q->top());
    q->erase(t);
  }
  state.counters["sizeof_timer"] = static_cast<double>(sizeof(typename Q::Node));
}

template <class Q>
void BM_Mix(benchmark::State& state) {
  constexpr std::size_t kResident = 100'000;
  constexpr std::size_t kRing = std::size_t{1} << 20;  // > 5 s / 10 µs turns in flight
  constexpr std::size_t kCancelAfter = 64;
  constexpr std::size_t kExpireOneIn = 20;
  constexpr corio::Duration kTurn = 10us;
  constexpr corio::Duration kTimeout = 5s;
  const std::vector<corio::Duration>& rearm = random_offsets(kMillion, 4);

  std::vector<typename Q::Node> resident(kResident);
  std::vector<typename Q::Node> timeouts(kRing);
  auto q = fresh_queue<Q>();
  arm_all<Q>(*q, resident, random_offsets(kResident, 5));

  corio::TimePoint now = kStart;
  std::size_t turn = 0;
  std::size_t rearmed = 0;
  std::size_t expired = 0;
  auto one_turn = [&] {
    now += kTurn;
    benchmark::DoNotOptimize(q->top());  // the wait's timeout
    while (typename Q::Node* t = q->pop_due(now)) {
      if (t >= resident.data() && t < resident.data() + kResident) {
        t->deadline = now + rearm[rearmed++ % kMillion];
        q->push(*t);
      } else {
        ++expired;
      }
    }
    typename Q::Node& armed = timeouts[turn % kRing];
    q->erase(armed);  // only if a 1-in-20 one outlived the ring: it cannot, at 5 s
    armed.deadline = now + kTimeout;
    q->push(armed);
    if (turn >= kCancelAfter && (turn - kCancelAfter) % kExpireOneIn != 0)
      q->erase(timeouts[(turn - kCancelAfter) % kRing]);
    ++turn;
  };
  // Warm up past the first expiries, so the timed turns see the steady state.
  while (now < kStart + kTimeout + 1s)
    one_turn();
  expired = 0;
  for (auto _ : state)
    one_turn();
  state.counters["expired_per_turn"] =
      per(static_cast<double>(expired), static_cast<double>(state.iterations()));
  state.counters["sizeof_timer"] = static_cast<double>(sizeof(typename Q::Node));
}

template <class Q>
void register_contender(const char* name) {
  const std::string n = name;
  benchmark::RegisterBenchmark(("TimerQueue/arm_1M/" + n).c_str(), BM_Arm1M<Q>)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5);
  benchmark::RegisterBenchmark(("TimerQueue/fire_1M/" + n).c_str(), BM_Fire1M<Q>)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5);
}

template <class Q>
void register_churn(const char* name) {
  benchmark::RegisterBenchmark((std::string("TimerQueue/churn/") + name).c_str(), BM_Churn<Q>)
      ->ArgName("resident")
      ->Arg(1000)
      ->Arg(100'000)
      ->Arg(1'000'000);
}

}  // namespace

void register_timer_queue_benchmarks() {
  register_contender<Heap>("heap");
  register_contender<Wheel>("wheel");
  register_churn<Heap>("heap");
  register_churn<Wheel>("wheel");
  benchmark::RegisterBenchmark("TimerQueue/mix/heap", BM_Mix<Heap>);
  benchmark::RegisterBenchmark("TimerQueue/mix/wheel", BM_Mix<Wheel>);
}

}  // namespace bench
