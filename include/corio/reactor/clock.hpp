// The reactor reads time through a Clock so timer logic can be tested without sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace corio {

/// Durations and time points are nanoseconds on a monotonic time line.
using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

/// A monotonic time source.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const noexcept = 0;
  /// A manual clock never moves by itself: the reactor jumps it to the next deadline
  /// whenever the loop would otherwise sleep (like Tokio's paused clock).
  [[nodiscard]] virtual bool is_manual() const noexcept { return false; }
  /// Moves a manual clock to `t` if `t` is later; no effect on a real clock.
  virtual void advance_to(TimePoint t) noexcept { (void)t; }
};

/// std::chrono::steady_clock: CLOCK_MONOTONIC.
class SteadyClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const noexcept override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  /// The process-wide instance the loop uses unless told otherwise.
  static SteadyClock& instance() noexcept;
};

/// Virtual time for tests: starts at `start` and moves only when advanced, either by the
/// test or by the reactor skipping idle time.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) noexcept : now_(start) {}
  [[nodiscard]] TimePoint now() const noexcept override { return now_; }
  [[nodiscard]] bool is_manual() const noexcept override { return true; }
  void advance_to(TimePoint t) noexcept override {
    if (t > now_) now_ = t;
  }
  /// Moves time forward by `d`.
  void advance(Duration d) noexcept { now_ += d; }

 private:
  TimePoint now_;
};

}  // namespace corio
