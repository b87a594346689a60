// Backend fallback for real: a child process whose seccomp filter makes epoll_create1
// fail (as a sandbox or an old kernel might) must get `poll` under auto, and a clear
// error when it asks for epoll by name.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <functional>
#include <string>

#include "corio/corio.hpp"

namespace corio {
namespace {

// Denies epoll_create and epoll_create1 with EPERM, allows everything else.
bool deny_epoll() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_create1, 2, 0),
#ifdef __NR_epoll_create
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_create, 1, 0),
#else
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_create1, 1, 0),
#endif
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

/// Runs `body` in a forked child under the filter; returns its exit code (0 = passed,
/// 1 = the filter could not be installed, 2+ = a check failed, see the body).
int in_sandbox(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(deny_epoll() ? body() : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(BackendFallbackTest, AutoFallsBackToPollWhenTheKernelRefusesEpoll) {
  const int rc = in_sandbox([] {
    std::error_code ec;
    std::string message;
    auto reactor = Reactor::open(ReactorOptions{.backend = "auto"}, ec, message);
    if (!reactor) return 2;
    return reactor->backend_name() == "poll" ? 0 : 3;
  });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, AskingForARefusedBackendByNameIsAClearError) {
  const int rc = in_sandbox([] {
    std::error_code ec;
    std::string message;
    auto reactor = Reactor::open(ReactorOptions{.backend = "epoll"}, ec, message);
    if (reactor) return 2;
    if (ec != std::errc::operation_not_permitted) return 3;
    return message.find("backend 'epoll' failed to open") != std::string::npos ? 0 : 4;
  });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, RunUnderAutoStillWorksWithoutEpoll) {
  const int rc = in_sandbox([] {
    auto main = []() -> Coro<std::string> {
      co_await sleep(std::chrono::milliseconds(1));
      co_return std::string(current_backend());
    };
    return corio::run(main(), RunOptions{.backend = "auto"}) == "poll" ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace corio
