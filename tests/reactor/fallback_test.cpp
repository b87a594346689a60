// Backend fallback for real: a child process whose seccomp filter makes io_uring_setup
// or epoll_create1 fail (as a sandbox, the io_uring_disabled sysctl or an old kernel
// might) must get the next backend under auto, and a clear error when it asks for the
// refused one by name.
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
#include <string_view>
#include <vector>

#include "corio/corio.hpp"

namespace corio {
namespace {

// Denies the listed system calls with EPERM, allows everything else.
bool deny(const std::vector<long>& syscalls) {
  std::vector<sock_filter> filter;
  filter.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  for (long nr : syscalls) {
    // Equal: skip to the final EPERM (counting the jumps still ahead and the ALLOW).
    const auto ahead = static_cast<unsigned char>(syscalls.size() - filter.size() + 1);
    filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), ahead, 0));
  }
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  filter.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

std::vector<long> epoll_calls() {
  std::vector<long> v{__NR_epoll_create1};
#ifdef __NR_epoll_create
  v.push_back(__NR_epoll_create);
#endif
  return v;
}

std::vector<long> uring_and_epoll_calls() {
  std::vector<long> v = epoll_calls();
  v.push_back(__NR_io_uring_setup);
  return v;
}

/// Runs `body` in a forked child under a filter denying `syscalls`; returns its exit
/// code (0 = passed, 1 = the filter could not be installed, 2+ = a check failed).
int in_sandbox(const std::vector<long>& syscalls, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(deny(syscalls) ? body() : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

bool built_with(std::string_view name) {
  for (std::string_view n : backend_names()) {
    if (n == name) return true;
  }
  return false;
}

std::string auto_choice() {
  std::error_code ec;
  std::string message;
  auto reactor = Reactor::open(ReactorOptions{.backend = "auto"}, ec, message);
  return reactor ? std::string(reactor->backend_name()) : "none: " + message;
}

int refused_by_name(const std::string& name) {
  std::error_code ec;
  std::string message;
  auto reactor = Reactor::open(ReactorOptions{.backend = name}, ec, message);
  if (reactor) return 2;
  if (ec != std::errc::operation_not_permitted) return 3;
  return message.find("backend '" + name + "' failed to open") != std::string::npos ? 0 : 4;
}

TEST(BackendFallbackTest, AutoFallsBackToEpollWhenTheKernelRefusesIoUring) {
  if (!built_with("io_uring")) GTEST_SKIP() << "built without liburing";
  const int rc = in_sandbox({__NR_io_uring_setup}, [] { return auto_choice() == "epoll" ? 0 : 2; });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, DebugModeSaysAutoSkippedIoUringAndWhy) {
  if (!built_with("io_uring")) GTEST_SKIP() << "built without liburing";
  const int rc = in_sandbox({__NR_io_uring_setup}, [] {
    std::error_code ec;
    std::string message;
    auto reactor = Reactor::open(ReactorOptions{.backend = "auto"}, ec, message);
    if (!reactor || message.find("auto skipped io_uring") == std::string::npos) return 2;
    ::testing::internal::CaptureStderr();
    auto main = []() -> Coro<void> { co_return; };
    corio::run(main(), RunOptions{.backend = "auto", .debug = true});
    const std::string err = ::testing::internal::GetCapturedStderr();
    return err.find("debug mode: backend epoll (auto skipped io_uring") != std::string::npos ? 0
                                                                                             : 3;
  });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, AskingForIoUringByNameWhenRefusedIsAClearError) {
  if (!built_with("io_uring")) GTEST_SKIP() << "built without liburing";
  const int rc = in_sandbox({__NR_io_uring_setup}, [] { return refused_by_name("io_uring"); });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, AutoFallsBackToPollWhenTheKernelRefusesEpollAndIoUring) {
  const int rc =
      in_sandbox(uring_and_epoll_calls(), [] { return auto_choice() == "poll" ? 0 : 2; });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, AskingForARefusedBackendByNameIsAClearError) {
  const int rc = in_sandbox(epoll_calls(), [] { return refused_by_name("epoll"); });
  EXPECT_EQ(rc, 0);
}

TEST(BackendFallbackTest, RunUnderAutoStillWorksWithoutEpollOrIoUring) {
  const int rc = in_sandbox(uring_and_epoll_calls(), [] {
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
