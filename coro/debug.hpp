// Debug mode's machinery (asyncio's debug mode), private to the library: timing the
// loop's steps, naming tasks and coroutines, and the reports on stderr.
#pragma once

#include <chrono>
#include <exception>
#include <string>
#include <string_view>

#include "corio/coro/promise.hpp"
#include "corio/reactor/clock.hpp"
#include "corio/reactor/reactor.hpp"

namespace corio::detail {

/// Whether $CORIO_DEBUG asks for debug mode: set to anything but "" or "0".
[[nodiscard]] bool debug_env_enabled() noexcept;
/// $CORIO_DEBUG_SLOW_MS if it holds a number of milliseconds, else 100 ms (asyncio's
/// default slow_callback_duration).
[[nodiscard]] Duration debug_env_slow_duration() noexcept;

/// Times every step of a loop in debug mode (each ready-queue callback, each
/// call_soon_threadsafe callback, each reactor delivery) on the steady clock, and warns
/// on stderr about a step that ran longer than the threshold, naming the task that ran
/// it: a coroutine that blocks stalls every other task.
class DebugMonitor final : public DeliveryObserver {
 public:
  explicit DebugMonitor(Duration threshold) noexcept : threshold_(threshold) {}

  void set_threshold(Duration d) noexcept { threshold_ = d; }
  void begin_step() noexcept {
    t_step_task = nullptr;
    has_epitaph_ = false;
    start_ = std::chrono::steady_clock::now();
  }
  void end_step() noexcept {
    const Duration took = std::chrono::steady_clock::now() - start_;
    if (took > threshold_) [[unlikely]]
      warn(took);
  }
  void before_delivery() noexcept override { begin_step(); }
  void after_delivery() noexcept override { end_step(); }

  /// The step's task is being destroyed within the step (it finished, nobody holds
  /// it): keep its description for the warning.
  void keep_epitaph(const PromiseBase& task) noexcept;

 private:
  void warn(Duration took) noexcept;

  std::chrono::steady_clock::time_point start_{};
  Duration threshold_;
  std::string epitaph_;
  bool has_epitaph_ = false;
};

/// destroy_frame() of the named task t_step_task points at: clears it, keeping the
/// task's description for a slow-step warning in debug mode.
void step_task_destroyed(PromiseBase& task) noexcept;

/// Gives a task created in debug mode (or alive when it is turned on) its "Task-N"
/// name, unless it has one, and its coroutine's name.
void name_for_debug(PromiseBase& task) noexcept;
/// "Task-7 'blocking_io_task'": the task's name, then its coroutine function's name if
/// it is known. Empty if memory runs out.
[[nodiscard]] std::string describe_task(PromiseBase& task) noexcept;
/// Drops the task's entry from the name table (the frame is being destroyed).
void forget_task_name(const PromiseBase& task) noexcept;

/// The name of the coroutine function whose frame starts at `frame`, or "" if unknown.
/// GCC, Clang and MSVC all put the resume function's address in a frame's first word;
/// the symbolizer names that function.
[[nodiscard]] std::string coroutine_name(void* frame);
/// Trims a demangled resume-function symbol to the coroutine function's name:
/// "ns::f(int) [clone .actor]" (GCC) or "ns::f(int) (.resume)" (Clang) → "ns::f";
/// drops the return type of templates and "(anonymous namespace)::".
[[nodiscard]] std::string function_name_of(std::string_view demangled);
/// The demangled name of the function whose code contains `address`, or "" when this
/// build or binary cannot tell (coro/symbolize_*.cpp: CMake picks one).
[[nodiscard]] std::string symbolize(const void* address);

/// "corio: exception in callback: ..." on stderr (an exception escaped a callback).
void report_callback_exception(const std::exception_ptr& e) noexcept;
/// Writes "<type>: <what>" of `e` into `out`.
void describe_exception(const std::exception_ptr& e, char* out, std::size_t size) noexcept;

}  // namespace corio::detail
