// run() and backend selection: options > $CORIO_BACKEND > auto.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "support/scoped_env.hpp"

namespace corio {
namespace {

using testing::BackendTest;

class RunTest : public BackendTest {};

using testing::ScopedEnv;

Coro<std::string> backend_in_use() {
  co_return std::string(current_backend());
}

TEST_P(RunTest, RunsOnTheBackendItWasAskedFor) {
  EXPECT_EQ(run(backend_in_use()), GetParam());
}

TEST_P(RunTest, TheEnvironmentVariableSelectsTheBackend) {
  ScopedEnv env("CORIO_BACKEND", GetParam().c_str());
  EXPECT_EQ(corio::run(backend_in_use()), GetParam());
}

TEST_P(RunTest, OptionsWinOverTheEnvironmentVariable) {
  ScopedEnv env("CORIO_BACKEND", "bogus");
  EXPECT_EQ(run(backend_in_use()), GetParam());
}

TEST_P(RunTest, RunInsideARunningLoopIsAnError) {
  auto main = []() -> Coro<void> {
    auto inner = []() -> Coro<void> { co_return; };
    EXPECT_THROW(corio::run(inner()), InvalidStateError);
    co_return;
  };
  run(main());
}

TEST_P(RunTest, LoopsRunOneAfterAnotherOnTheSameThread) {
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(run(backend_in_use()), GetParam());
  EXPECT_EQ(EventLoop::current(), nullptr);
}

CORIO_INSTANTIATE_BACKEND_SUITE(RunTest);

TEST(BackendSelectionTest, AnUnknownNameFailsListingTheValidBackends) {
  try {
    corio::run(backend_in_use(), RunOptions{.backend = "bogus"});
    FAIL() << "ran on an unknown backend";
  } catch (const BackendError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown backend 'bogus'"), std::string::npos) << what;
    EXPECT_NE(what.find("valid: auto"), std::string::npos) << what;
    for (std::string_view name : backend_names()) {
      EXPECT_NE(what.find(name), std::string::npos) << name;
    }
    EXPECT_EQ(e.code(), std::errc::invalid_argument);
  }
}

TEST(BackendSelectionTest, AnUnknownNameInTheEnvironmentFailsToo) {
  ScopedEnv env("CORIO_BACKEND", "bogus");
  EXPECT_THROW(corio::run(backend_in_use()), BackendError);
}

TEST(BackendSelectionTest, AutoPicksTheFirstBackendThatOpens) {
  ScopedEnv env("CORIO_BACKEND", "auto");
  const auto available = available_backends();
  ASSERT_FALSE(available.empty());
  EXPECT_EQ(corio::run(backend_in_use()), available.front());
  EXPECT_EQ(corio::run(backend_in_use(), RunOptions{.backend = "auto"}), available.front());
}

// Expects run() to know every name in a comma-separated list.
void expect_selectable(std::string_view list) {
  const auto& names = backend_names();
  while (!list.empty()) {
    const std::size_t comma = std::min(list.find(','), list.size());
    const std::string_view name = list.substr(0, comma);
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    list.remove_prefix(std::min(comma + 1, list.size()));
  }
}

// CORIO_REQUIRED_BACKENDS comes from tests/CMakeLists.txt: the platform's native poller
// and, on POSIX, poll ("epoll,poll" on Linux, "kqueue,poll" on macOS and the BSDs,
// "iocp" on Windows). A build that lost one would still pass every other test.
TEST(BackendSelectionTest, ThePlatformsNativePollerIsBuilt) {
  expect_selectable(CORIO_REQUIRED_BACKENDS);
}

// CORIO_BUILT_BACKENDS is the list cmake/Backends.cmake chose for this platform
// ("io_uring,epoll,poll" on Linux, "iocp" on Windows): selection must know them all.
TEST(BackendSelectionTest, EveryBackendTheBuildCompiledIsSelectable) {
  ASSERT_FALSE(std::string_view(CORIO_BUILT_BACKENDS).empty());
  expect_selectable(CORIO_BUILT_BACKENDS);
}

TEST(BackendSelectionTest, NoLoopMeansNoCurrentBackend) {
  EXPECT_THROW((void)current_backend(), InvalidStateError);
  EXPECT_THROW((void)EventLoop::running(), InvalidStateError);
}

}  // namespace
}  // namespace corio
