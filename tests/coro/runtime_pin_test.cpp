// RunOptions::pin_cpus on Linux: thread i runs on the i-th usable CPU only. Built where
// cmake/Affinity.cmake found the affinity calls.
#include <gtest/gtest.h>
#include <sched.h>

#include <set>
#include <vector>

#include "corio/corio.hpp"

namespace corio {
namespace {

// The CPUs the calling thread may run on.
std::vector<int> my_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

TEST(RuntimePinTest, EachLoopThreadIsPinnedToItsOwnUsableCpu) {
  const std::vector<int> usable = my_cpus();
  ASSERT_FALSE(usable.empty());
  RunOptions o;
  o.threads = 2;
  o.pin_cpus = true;
  auto main = [](std::size_t) -> Coro<std::vector<int>> { co_return my_cpus(); };
  std::vector<std::vector<int>> pinned = run_threads(main, o);
  for (std::size_t i = 0; i < pinned.size(); ++i) {
    ASSERT_EQ(pinned[i].size(), 1u) << "loop " << i;
    EXPECT_EQ(pinned[i][0], usable[i % usable.size()]) << "loop " << i;
  }
  EXPECT_EQ(my_cpus(), usable);  // the calling thread is left alone
}

TEST(RuntimePinTest, WithoutPinningTheThreadsKeepTheProcessCpus) {
  const std::vector<int> usable = my_cpus();
  RunOptions o;
  o.threads = 2;
  auto main = [](std::size_t) -> Coro<std::vector<int>> { co_return my_cpus(); };
  for (const std::vector<int>& cpus : run_threads(main, o))
    EXPECT_EQ(cpus, usable);
}

}  // namespace
}  // namespace corio
