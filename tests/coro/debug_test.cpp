// Debug mode (asyncio's debug mode): slow steps, task and coroutine names, coroutines
// never awaited, pending tasks destroyed, and the switches that turn it on.
//
// Timing: a slow step here sleeps at least three times the threshold, and a quiet one
// stays far below it; nothing asserts an upper bound on time.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "coro/debug.hpp"
#include "support/scoped_env.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

#ifdef CORIO_HAVE_SYMBOLIZER
constexpr bool kNamesCoroutines = true;
#else
constexpr bool kNamesCoroutines = false;
#endif

using testing::ScopedEnv;

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/// Blocks the loop's thread for `d` inside one step (the mistake debug mode catches).
void block_for(Duration d) {
  std::this_thread::sleep_for(d);
}

// The coroutines below are named so the reports can be checked for their names.

Coro<void> blocks_after_a_yield(Duration d) {
  co_await sleep(0s);  // the next step starts from the ready queue
  block_for(d);
  co_await sleep(0s);
}

Coro<void> blocks_after_a_timer(Duration d) {
  co_await sleep(1ms);  // the next step starts from the reactor's timer delivery
  block_for(d);
  co_await sleep(0s);
}

Coro<void> blocks_then_ends(Duration d) {
  co_await sleep(0s);
  block_for(d);  // and the task ends, and is destroyed, in this very step
}

Coro<void> briefly_blocks(Duration d) {
  co_await sleep(0s);
  block_for(d);
}

Coro<void> sleeper() {
  co_await sleep(24h);
}

Coro<int> forgotten() {
  co_return 1;
}

class DebugTest : public BackendTest {
 protected:
  /// Debug mode on, with `slow` as the threshold.
  [[nodiscard]] RunOptions debug_options(Duration slow = 100ms) const {
    RunOptions o = options();
    o.debug = true;
    o.slow_callback_duration = slow;
    return o;
  }
  /// Runs `main` with `o`, returning what went to stderr.
  static std::string stderr_of(Coro<void> main, const RunOptions& o) {
    ::testing::internal::CaptureStderr();
    corio::run(std::move(main), o);
    return ::testing::internal::GetCapturedStderr();
  }

  ScopedEnv no_env_{"CORIO_DEBUG", nullptr};
  ScopedEnv no_slow_env_{"CORIO_DEBUG_SLOW_MS", nullptr};
};

// --- Slow steps ----------------------------------------------------------------------

TEST_P(DebugTest, ASlowStepResumedFromTheReadyQueueIsReportedWithItsTask) {
  auto main = []() -> Coro<void> { co_await create_task(blocks_after_a_yield(60ms)); };
  const std::string err = stderr_of(main(), debug_options(20ms));
  EXPECT_TRUE(contains(err, "corio: slow step: task Task-")) << err;
  EXPECT_TRUE(contains(err, "without yielding (threshold 20 ms)")) << err;
  if (kNamesCoroutines) {
    EXPECT_TRUE(contains(err, "'corio::blocks_after_a_yield' ran ")) << err;
  }
}

TEST_P(DebugTest, ASlowStepResumedByATimerIsReported) {
  auto main = []() -> Coro<void> { co_await create_task(blocks_after_a_timer(60ms)); };
  const std::string err = stderr_of(main(), debug_options(20ms));
  EXPECT_TRUE(contains(err, "corio: slow step: task Task-")) << err;
  if (kNamesCoroutines) {
    EXPECT_TRUE(contains(err, "'corio::blocks_after_a_timer' ran ")) << err;
  }
}

TEST_P(DebugTest, ATaskThatEndsInItsSlowStepIsStillNamed) {
  auto main = []() -> Coro<void> {
    spawn(blocks_then_ends(60ms));  // nobody holds it: its frame goes within the step
    co_await sleep(1ms);
  };
  const std::string err = stderr_of(main(), debug_options(20ms));
  EXPECT_TRUE(contains(err, "corio: slow step: task Task-")) << err;
  if (kNamesCoroutines) {
    EXPECT_TRUE(contains(err, "'corio::blocks_then_ends' ran ")) << err;
  }
}

TEST_P(DebugTest, ASlowCallbackIsReportedAsACallback) {
  auto main = []() -> Coro<void> {
    get_running_loop().call_soon([] { block_for(60ms); });
    co_await sleep(1ms);
  };
  const std::string err = stderr_of(main(), debug_options(20ms));
  EXPECT_TRUE(contains(err, "corio: slow step: a callback ran ")) << err;
}

TEST_P(DebugTest, AStepBelowTheThresholdIsNotReported) {
  auto main = []() -> Coro<void> { co_await create_task(briefly_blocks(5ms)); };
  const std::string err = stderr_of(main(), debug_options(1s));
  EXPECT_FALSE(contains(err, "slow step")) << err;
}

TEST_P(DebugTest, WaitingInTheBackendIsNotAStep) {
  auto main = []() -> Coro<void> { co_await sleep(500ms); };
  const std::string err = stderr_of(main(), debug_options(250ms));
  EXPECT_FALSE(contains(err, "slow step")) << err;
}

TEST_P(DebugTest, WithoutDebugModeNothingIsReported) {
  auto main = []() -> Coro<void> {
    co_await create_task(blocks_after_a_yield(60ms));
    (void)forgotten();
  };
  RunOptions o = options();
  o.slow_callback_duration = 20ms;
  EXPECT_EQ(stderr_of(main(), o), "");
}

TEST_P(DebugTest, DebugModeCanBeTurnedOnWhileRunning) {
  auto main = []() -> Coro<void> {
    EventLoop& loop = get_running_loop();
    EXPECT_FALSE(loop.debug());
    loop.set_slow_callback_duration(20ms);
    loop.set_debug(true);
    co_await create_task(blocks_after_a_yield(60ms));
  };
  const std::string err = stderr_of(main(), options());
  EXPECT_TRUE(contains(err, "corio: slow step: task Task-")) << err;
  if (kNamesCoroutines) {
    EXPECT_TRUE(contains(err, "'corio::blocks_after_a_yield' ran ")) << err;
  }
}

TEST_P(DebugTest, TasksMadeBeforeDebugModeWasTurnedOnAreNamedToo) {
  auto main = []() -> Coro<void> {
    spawn(blocks_then_ends(60ms));  // made while debug mode is off; gone within its step
    EventLoop& loop = get_running_loop();
    loop.set_slow_callback_duration(20ms);
    loop.set_debug(true);
    co_await sleep(1ms);
  };
  const std::string err = stderr_of(main(), options());
  EXPECT_TRUE(contains(err, "corio: slow step: task Task-")) << err;
  if (kNamesCoroutines) {
    EXPECT_TRUE(contains(err, "'corio::blocks_then_ends' ran ")) << err;
  }
}

// --- The loop's start, task names, reports -------------------------------------------

TEST_P(DebugTest, TheBackendIsLoggedOnceWhenTheLoopStarts) {
  auto main = []() -> Coro<void> { co_await sleep(1ms); };
  const std::string err = stderr_of(main(), debug_options());
  const std::string line = "corio: debug mode: backend " + GetParam() + "\n";
  EXPECT_TRUE(err.starts_with(line)) << err;
  EXPECT_EQ(err.find(line), err.rfind(line)) << err;
}

TEST_P(DebugTest, TasksAreNumberedInCreationOrder) {
  auto main = []() -> Coro<void> {
    Task<void> a = create_task(sleeper());
    Task<void> b = create_task(sleeper());
    const std::string na = a.get_name();
    const std::string nb = b.get_name();
    EXPECT_TRUE(na.starts_with("Task-")) << na;
    EXPECT_TRUE(nb.starts_with("Task-")) << nb;
    EXPECT_EQ(std::stoul(nb.substr(5)), std::stoul(na.substr(5)) + 1);
    a.cancel();
    b.cancel();
    co_await sleep(0s);
  };
  (void)stderr_of(main(), debug_options());
}

TEST_P(DebugTest, APendingTaskDestroyedIsReportedWithItsNames) {
  EventLoop loop(debug_options());
  Task<void> t = create_task(sleeper());
  const std::string name = t.get_name();
  ::testing::internal::CaptureStderr();
  loop.run_until_complete(create_task(briefly_blocks(0s)));
  t = Task<void>();  // the loop still holds it
  loop.close();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "corio: Task was destroyed but it is pending! (task " + name)) << err;
  if (kNamesCoroutines) {
    EXPECT_TRUE(contains(err, name + " 'corio::sleeper')")) << err;
  }
}

TEST_P(DebugTest, AUserNameReplacesTheNumber) {
  EventLoop loop(debug_options());
  Task<void> t = create_task(sleeper(), "worker");
  EXPECT_EQ(t.get_name(), "worker");
  t.set_name("renamed");
  EXPECT_EQ(t.get_name(), "renamed");
  ::testing::internal::CaptureStderr();
  loop.close();
  t = Task<void>();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "pending! (task renamed")) << err;
}

TEST_P(DebugTest, ACoroutineNeverAwaitedIsReported) {
  auto main = []() -> Coro<void> {
    { Coro<int> dropped = forgotten(); }
    EXPECT_EQ(co_await forgotten(), 1);  // awaited: not reported
    co_await create_task(forgotten());   // a task: not reported
  };
  const std::string err = stderr_of(main(), debug_options());
  const std::string name = kNamesCoroutines ? "corio::forgotten" : "<unknown>";
  const std::string report = "corio: coroutine '" + name + "' was created but never awaited\n";
  ASSERT_TRUE(contains(err, report)) << err;
  EXPECT_EQ(err.find(report), err.rfind(report)) << "reported once\n" << err;
}

CORIO_INSTANTIATE_BACKEND_SUITE(DebugTest);

// --- Switches and names without a loop -----------------------------------------------

TEST(DebugSwitchTest, TheEnvironmentTurnsDebugModeOn) {
  ScopedEnv slow("CORIO_DEBUG_SLOW_MS", nullptr);
  auto debug_with = [](const char* value) {
    ScopedEnv env("CORIO_DEBUG", value);
    ::testing::internal::CaptureStderr();
    bool on = EventLoop().debug();
    (void)::testing::internal::GetCapturedStderr();
    return on;
  };
  EXPECT_TRUE(debug_with("1"));
  EXPECT_TRUE(debug_with("yes"));
  EXPECT_FALSE(debug_with("0"));
  EXPECT_FALSE(debug_with(""));
  EXPECT_FALSE(debug_with(nullptr));
  ScopedEnv off("CORIO_DEBUG", nullptr);
  EXPECT_TRUE(EventLoop(RunOptions{.debug = true}).debug());
}

TEST(DebugSwitchTest, TheThresholdComesFromOptionsThenEnvironmentThenDefault) {
  ScopedEnv off("CORIO_DEBUG", nullptr);
  {
    ScopedEnv none("CORIO_DEBUG_SLOW_MS", nullptr);
    EXPECT_EQ(EventLoop().slow_callback_duration(), Duration(100ms));
  }
  ScopedEnv slow("CORIO_DEBUG_SLOW_MS", "250");
  EXPECT_EQ(EventLoop().slow_callback_duration(), Duration(250ms));
  RunOptions o;
  o.slow_callback_duration = 30ms;
  EXPECT_EQ(EventLoop(o).slow_callback_duration(), Duration(30ms));
}

TEST(DebugSwitchTest, ANeverAwaitedCoroutineOutsideALoopFollowsTheEnvironment) {
  {
    ScopedEnv env("CORIO_DEBUG", "1");
    ::testing::internal::CaptureStderr();
    { Coro<int> dropped = forgotten(); }
    EXPECT_TRUE(
        contains(::testing::internal::GetCapturedStderr(), "was created but never awaited"));
  }
  ScopedEnv env("CORIO_DEBUG", nullptr);
  ::testing::internal::CaptureStderr();
  { Coro<int> dropped = forgotten(); }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(DebugNamesTest, WithoutDebugModeATaskIsNumberedOnFirstAsk) {
  ScopedEnv off("CORIO_DEBUG", nullptr);
  auto main = []() -> Coro<void> {
    Task<void> t = create_task(sleeper());
    const std::string name = t.get_name();
    EXPECT_TRUE(name.starts_with("Task-")) << name;
    EXPECT_EQ(t.get_name(), name) << "asked again: the same name";
    t.cancel();
    co_await sleep(0s);
  };
  corio::run(main());
}

TEST(DebugNamesTest, ResumeFunctionSymbolsAreTrimmedToTheCoroutinesName) {
  using detail::function_name_of;
  // GCC: the actor takes the frame; the clone suffix names the part.
  EXPECT_EQ(function_name_of("ns::blocking_io_task(ns::blocking_io_task(int, double)::_ZN2ns16"
                             "blocking_io_taskEid.Frame*) [clone .actor]"),
            "ns::blocking_io_task");
  EXPECT_EQ(function_name_of("(anonymous namespace)::blocking_io_task(std::__cxx11::basic_string<"
                             "char, std::char_traits<char>, std::allocator<char> >, "
                             "std::chrono::duration<double, std::ratio<1l, 1l> >, int) "
                             "[clone .actor]"),
            "blocking_io_task");
  EXPECT_EQ(function_name_of("main::{lambda(int)#1}::operator()(main::{lambda(int)#1}::operator()"
                             "(int) const::_ZZ4mainENKUliE_clEi.Frame*) [clone .actor]"),
            "main::{lambda(int)#1}::operator()");
  // Clang: the .resume part, as libstdc++'s and libc++abi's demanglers print it.
  EXPECT_EQ(function_name_of("ns::blocking_io_task(int, double) [clone .resume]"),
            "ns::blocking_io_task");
  EXPECT_EQ(function_name_of("ns::blocking_io_task(int, double) (.resume)"),
            "ns::blocking_io_task");
  EXPECT_EQ(function_name_of("main::$_0::operator()(int) const [clone .resume]"),
            "main::$_0::operator()");
  EXPECT_EQ(function_name_of("corio::Coro<void> ns::tmpl<int>(int) [clone .resume]"),
            "ns::tmpl<int>");
  EXPECT_EQ(function_name_of("plain_c_function"), "plain_c_function");
}

}  // namespace
}  // namespace corio
