// Signals delivered on the loop: handlers run as loop code, waits end on delivery.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <thread>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "coro/test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class SignalsTest : public BackendTest {};

bool has_default_disposition(int sig) {
  struct sigaction sa {};
  ::sigaction(sig, nullptr, &sa);
  return sa.sa_handler == SIG_DFL;
}

TEST_P(SignalsTest, AHandlerRunsOnTheLoopAfterTheSignal) {
  auto main = []() -> Coro<void> {
    int calls = 0;
    std::thread::id where;
    add_signal_handler(SIGUSR1, [&] {
      ++calls;
      where = std::this_thread::get_id();
    });
    std::raise(SIGUSR1);
    EXPECT_EQ(calls, 0);  // not from inside the signal handler
    for (int i = 0; i < 1000 && calls == 0; ++i)
      co_await sleep(1ms);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(where, std::this_thread::get_id());
    EXPECT_TRUE(remove_signal_handler(SIGUSR1));
    EXPECT_FALSE(remove_signal_handler(SIGUSR1));
  };
  run(main());
  EXPECT_TRUE(has_default_disposition(SIGUSR1));
}

TEST_P(SignalsTest, WaitSignalReturnsTheSignalSentFromAnotherThread) {
  auto main = []() -> Coro<int> {
    std::thread sender([] {
      std::this_thread::sleep_for(20ms);
      ::kill(::getpid(), SIGUSR2);
    });
    int sig = co_await wait_signal(SIGUSR1, SIGUSR2);
    sender.join();
    co_return sig;
  };
  EXPECT_EQ(run(main()), SIGUSR2);
  EXPECT_TRUE(has_default_disposition(SIGUSR1));
  EXPECT_TRUE(has_default_disposition(SIGUSR2));
}

TEST_P(SignalsTest, ACancelledWaitRestoresTheDisposition) {
  auto main = []() -> Coro<void> {
    Task<int> t = create_task(wait_signal(SIGUSR1));
    co_await sleep(1ms);
    EXPECT_FALSE(has_default_disposition(SIGUSR1));
    t.cancel();
    EXPECT_TRUE(co_await testing::ends_cancelled(t));
    EXPECT_TRUE(has_default_disposition(SIGUSR1));
  };
  run(main());
}

TEST_P(SignalsTest, HandlersAreForgottenWhenTheLoopEnds) {
  auto main = []() -> Coro<void> {
    add_signal_handler(SIGUSR1, [] {});
    co_return;
  };
  run(main());
  EXPECT_TRUE(has_default_disposition(SIGUSR1));
  run(main());  // a new loop may install them again
  EXPECT_TRUE(has_default_disposition(SIGUSR1));
}

TEST_P(SignalsTest, UncatchableSignalsAreRejected) {
  auto main = []() -> Coro<void> {
    EXPECT_THROW(add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
    EXPECT_THROW(add_signal_handler(0, [] {}), std::invalid_argument);
    co_return;
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(SignalsTest);

}  // namespace
}  // namespace corio
