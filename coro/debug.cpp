// Debug mode: the environment switches, the slow-step monitor and the reports.
#include "coro/debug.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "corio/coro/coro.hpp"
#include "corio/coro/loop.hpp"

namespace corio::detail {
namespace {

// "225 ms", or "0.250 ms" below a millisecond (a threshold set that low).
std::string millis(Duration d) {
  const double ms = std::chrono::duration<double, std::milli>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, ms >= 1.0 ? "%.0f ms" : "%.3f ms", ms);
  return buf;
}

}  // namespace

bool debug_env_enabled() noexcept {
  const char* v = std::getenv("CORIO_DEBUG");
  return v != nullptr && v[0] != '\0' && std::string_view(v) != "0";
}

Duration debug_env_slow_duration() noexcept {
  if (const char* v = std::getenv("CORIO_DEBUG_SLOW_MS")) {
    char* end = nullptr;
    const double ms = std::strtod(v, &end);
    if (end != v && *end == '\0' && ms >= 0) {
      return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
    }
  }
  return std::chrono::milliseconds(100);
}

void DebugMonitor::keep_epitaph(const PromiseBase& task) noexcept {
  try {
    epitaph_ = describe_task(const_cast<PromiseBase&>(task));
    has_epitaph_ = true;
  } catch (...) {
    has_epitaph_ = false;
  }
}

void DebugMonitor::warn(Duration took) noexcept {
  try {
    // The step's task is the one that suspended or finished last in it: a step runs
    // one task from a resumption to its next suspension.
    std::string who;
    if (PromiseBase* task = t_step_task) {
      who = "task " + describe_task(*task);
    } else if (has_epitaph_) {
      who = "task " + epitaph_;
    } else {
      who = "a callback";
    }
    std::fprintf(stderr,
                 "corio: slow step: %s ran %s without yielding (threshold %s): a blocking "
                 "call stalls every other task\n",
                 who.c_str(), millis(took).c_str(), millis(threshold_).c_str());
  } catch (...) {
    std::fputs("corio: slow step (out of memory describing it)\n", stderr);
  }
}

void step_task_destroyed(PromiseBase& task) noexcept {
  t_step_task = nullptr;
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr || !loop->debug()) return;
  if (DebugMonitor* monitor = loop->debug_monitor()) monitor->keep_epitaph(task);
}

void report_never_awaited(void* frame) noexcept {
  const EventLoop* loop = EventLoop::current();
  if (loop != nullptr ? !loop->debug() : !debug_env_enabled()) return;
  std::string name;
  try {
    name = coroutine_name(frame);
  } catch (...) {
    name.clear();
  }
  std::fprintf(stderr, "corio: coroutine '%s' was created but never awaited\n",
               name.empty() ? "<unknown>" : name.c_str());
}

}  // namespace corio::detail
