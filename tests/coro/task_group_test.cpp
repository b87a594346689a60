// TaskGroup: a scope that never ends with a child still running.
#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::after;
using testing::BackendTest;
using testing::Boom;
using testing::fail_after;

class TaskGroupTest : public BackendTest {};

Duration elapsed(ManualClock& clock) {
  return clock.now() - TimePoint{};
}

// Sleeps `d`; logs "<name> cancelled" if it is cancelled meanwhile.
Coro<void> sleeper(std::vector<std::string>& log, std::string name, Duration d) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    log.push_back(name + " cancelled");
    throw;
  }
  log.push_back(name + " done");
}

// The codes of the Booms in an ExceptionGroup, in order.
std::vector<int> boom_codes(const ExceptionGroup& g) {
  std::vector<int> codes;
  for (const std::exception_ptr& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const Boom& b) {
      codes.push_back(b.code);
    } catch (...) {
      codes.push_back(-1);
    }
  }
  return codes;
}

TEST_P(TaskGroupTest, WaitsForEveryChildAndGivesTheBodysValue) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    Task<int> a, b;
    int v = co_await task_group([&](TaskGroup& tg) -> Coro<int> {
      a = tg.create_task(after(1s, 1));
      b = tg.create_task(after(3s, 2));
      EXPECT_EQ(tg.size(), 2u);
      co_return 42;
    });
    EXPECT_EQ(v, 42);
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
    EXPECT_EQ(a.result() + b.result(), 3);
    EXPECT_EQ(elapsed(clock), 3s);
  };
  run_bounded(main(clock_));
}

TEST_P(TaskGroupTest, AnEmptyGroupEndsAtOnce) {
  auto main = []() -> Coro<void> {
    co_await task_group([](TaskGroup&) -> Coro<void> { co_return; });
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, AFailingChildCancelsItsSiblingsAndTheBody) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<std::string> log;
    bool raised = false;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(sleeper(log, "sibling", 1h));
        tg.create_task(fail_after(1s, 7));
        co_await sleeper(log, "body", 1h);
      });
    } catch (const ExceptionGroup& g) {
      raised = true;
      EXPECT_EQ(boom_codes(g), std::vector<int>{7});
      EXPECT_TRUE(g.contains<Boom>());
      EXPECT_FALSE(g.contains<TimeoutError>());
    }
    EXPECT_TRUE(raised);
    EXPECT_EQ(elapsed(clock), 1s);
    EXPECT_EQ(log.size(), 2u);
    EXPECT_NE(std::find(log.begin(), log.end(), "sibling cancelled"), log.end());
    EXPECT_NE(std::find(log.begin(), log.end(), "body cancelled"), log.end());
  };
  run_bounded(main(clock_));
}

TEST_P(TaskGroupTest, EveryFailureComesOutTogetherInOrder) {
  auto main = []() -> Coro<void> {
    // The second child fails while it is being cancelled because of the first.
    auto fails_in_cleanup = []() -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      throw Boom(2);
    };
    bool raised = false;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(fails_in_cleanup());
        tg.create_task(fail_after(1s, 1));
        co_return;
      });
    } catch (const ExceptionGroup& g) {
      raised = true;
      EXPECT_EQ(boom_codes(g), (std::vector<int>{1, 2}));
      EXPECT_NE(std::string(g.what()).find("2 sub-exceptions"), std::string::npos);
    }
    EXPECT_TRUE(raised);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, AChildThatIgnoresCancellationIsStillAwaited) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    auto stubborn = []() -> Coro<int> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      co_await sleep(5s);  // keeps working after the cancel
      co_return 1;
    };
    Task<int> s;
    EXPECT_THROW(co_await task_group([&](TaskGroup& tg) -> Coro<void> {
                   s = tg.create_task(stubborn());
                   tg.create_task(fail_after(1s));
                   co_return;
                 }),
                 ExceptionGroup);
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.result(), 1);
    EXPECT_EQ(elapsed(clock), 6s);
  };
  run_bounded(main(clock_));
}

TEST_P(TaskGroupTest, ABodyFailureCancelsTheChildrenAndIsReported) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    bool raised = false;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(sleeper(log, "child", 1h));
        co_await sleep(1s);
        throw Boom(5);
      });
    } catch (const ExceptionGroup& g) {
      raised = true;
      EXPECT_EQ(boom_codes(g), std::vector<int>{5});
    }
    EXPECT_TRUE(raised);
    EXPECT_EQ(log, std::vector<std::string>{"child cancelled"});
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, AFailedChildTheBodyAwaitedIsReportedOnce) {
  auto main = []() -> Coro<void> {
    bool raised = false;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        Task<void> t = tg.create_task(fail_after(1s, 3));
        co_await t;  // rethrows Boom(3) into the body, which lets it go
      });
    } catch (const ExceptionGroup& g) {
      raised = true;
      EXPECT_EQ(boom_codes(g), std::vector<int>{3});
    }
    EXPECT_TRUE(raised);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, CancellingTheTaskCancelsTheChildrenAndWaitsForThem) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<std::string> log;
    auto slow_cleanup = [](std::vector<std::string>& log) -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
      }
      co_await sleep(2s);  // cleanup that takes a while
      log.push_back("cleanup finished");
      throw CancelledError{};
    };
    auto worker = [&]() -> Coro<void> {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(slow_cleanup(log));
        co_await sleep(1h);
      });
    };
    Task<void> t = create_task(worker());
    co_await sleep(1s);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_EQ(log, std::vector<std::string>{"cleanup finished"});
    EXPECT_EQ(elapsed(clock), 3s);
  };
  run_bounded(main(clock_));
}

TEST_P(TaskGroupTest, CancellingTheTaskWhileTheScopeWaitsForChildren) {
  auto main = []() -> Coro<void> {
    std::vector<std::string> log;
    auto worker = [&]() -> Coro<void> {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(sleeper(log, "child", 1h));
        co_return;  // the scope now waits in its join
      });
      log.push_back("after the scope");  // never reached
    };
    Task<void> t = create_task(worker());
    co_await sleep(1s);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    EXPECT_EQ(log, std::vector<std::string>{"child cancelled"});
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, TheTaskIsNotLeftCancellingAfterAHandledFailure) {
  auto main = []() -> Coro<void> {
    auto worker = []() -> Coro<int> {
      try {
        co_await task_group([](TaskGroup& tg) -> Coro<void> {
          tg.create_task(fail_after(1s));
          co_await sleep(1h);  // cancelled by the group
        });
      } catch (const ExceptionGroup&) {
      }
      co_await sleep(1s);  // the group's own cancel does not linger
      co_return 1;
    };
    Task<int> t = create_task(worker());
    EXPECT_EQ(co_await t, 1);
    EXPECT_EQ(t.cancelling(), 0u);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, ABodyThatNeverAwaitsAfterTheFailureLeavesNoStrayCancel) {
  auto main = []() -> Coro<void> {
    auto worker = []() -> Coro<int> {
      try {
        co_await task_group([](TaskGroup& tg) -> Coro<void> {
          Task<void> t = tg.create_task(fail_after(1s));
          try {
            co_await t;
          } catch (const Boom&) {
          }
          // The group cancelled us while we awaited t; we return without another await.
        });
      } catch (const ExceptionGroup&) {
      }
      co_await sleep(1s);
      co_return 2;
    };
    EXPECT_EQ(co_await create_task(worker()), 2);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, CreateTaskWhileShuttingDownIsAnError) {
  auto main = []() -> Coro<void> {
    bool shutting_down = false;
    try {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(fail_after(1s));
        try {
          co_await sleep(1h);
        } catch (const CancelledError&) {
        }
        try {
          tg.create_task(after(1s, 0));
        } catch (const RuntimeError&) {
          shutting_down = true;
        }
      });
    } catch (const ExceptionGroup&) {
    }
    EXPECT_TRUE(shutting_down);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, ChildrenMayAddChildrenWhileTheScopeWaits) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<std::string> log;
    co_await task_group([&](TaskGroup& tg) -> Coro<void> {
      auto spawner = [](TaskGroup& tg, std::vector<std::string>& log) -> Coro<void> {
        co_await sleep(1s);
        tg.create_task(sleeper(log, "grandchild", 2s));
      };
      tg.create_task(spawner(tg, log));
      co_return;
    });
    EXPECT_EQ(log, std::vector<std::string>{"grandchild done"});
    EXPECT_EQ(elapsed(clock), 3s);
  };
  run_bounded(main(clock_));
}

TEST_P(TaskGroupTest, OneFailureAmongManyChildrenCancelsAllTheOthers) {
  auto main = []() -> Coro<void> {
    std::vector<Task<int>> children;
    EXPECT_THROW(co_await task_group([&](TaskGroup& tg) -> Coro<void> {
                   for (int i = 0; i < 1000; ++i)
                     children.push_back(tg.create_task(after(1h, 0)));
                   tg.create_task(fail_after(1s));
                   co_return;
                 }),
                 ExceptionGroup);
    int cancelled = 0;
    for (Task<int>& c : children)
      cancelled += c.cancelled() ? 1 : 0;
    EXPECT_EQ(cancelled, 1000);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, NestedGroupsNestTheirExceptionGroups) {
  auto main = []() -> Coro<void> {
    bool raised = false;
    try {
      co_await task_group([&](TaskGroup& outer) -> Coro<void> {
        outer.create_task(after(1h, 0));
        co_await task_group([&](TaskGroup& inner) -> Coro<void> {
          inner.create_task(fail_after(1s, 4));
          co_return;
        });
      });
    } catch (const ExceptionGroup& g) {
      raised = true;
      EXPECT_EQ(g.exceptions().size(), 1u);
      EXPECT_TRUE(g.contains<ExceptionGroup>());
    }
    EXPECT_TRUE(raised);
  };
  run_bounded(main());
}

TEST_P(TaskGroupTest, UnderATimeoutTheExpiryBecomesTimeoutError) {
  auto main = [](ManualClock& clock) -> Coro<void> {
    std::vector<std::string> log;
    auto scope = [&]() -> Coro<void> {
      co_await task_group([&](TaskGroup& tg) -> Coro<void> {
        tg.create_task(sleeper(log, "a", 1h));
        tg.create_task(sleeper(log, "b", 1h));
        co_return;
      });
    };
    EXPECT_THROW(co_await timeout(2s).run(scope()), TimeoutError);
    EXPECT_EQ(log.size(), 2u);
    EXPECT_EQ(elapsed(clock), 2s);
  };
  run_bounded(main(clock_));
}

TEST_P(TaskGroupTest, ChildrenRunConcurrentlyOverRealSockets) {
  // Two children talk to each other over a socket pair while the body waits.
  auto main = []() -> Coro<void> {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    std::pair<Socket, Socket> sockets = Socket::pair();
    Socket& a = sockets.first;
    Socket& b = sockets.second;
    std::string got;
    co_await task_group([&](TaskGroup& tg) -> Coro<void> {
      auto reader = [](const Socket& s, std::string& got) -> Coro<void> {
        char buf[16];
        while (got.size() < 5) {
          std::size_t n = co_await s.recv(buf, sizeof buf);
          got.append(buf, n);
        }
      };
      tg.create_task(reader(b, got));
      tg.create_task(a.send_all("hello"));
      co_return;
    });
    EXPECT_EQ(got, "hello");
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(TaskGroupTest);

}  // namespace
}  // namespace corio
