// Shared by the suites that run once per backend: test names end in the backend's
// name (`.../epoll`, `.../poll`).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <system_error>
#include <utility>

#include "corio/corio.hpp"

namespace corio::testing {

/// A fixture parameterised by backend name, with helpers to run a coroutine on a fresh
/// loop of that backend, in real or virtual time.
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  [[nodiscard]] RunOptions options() const {
    RunOptions o;
    o.backend = GetParam();
    return o;
  }
  /// Runs `main` on the real clock.
  template <class T>
  T run(Coro<T> main) {
    return corio::run(std::move(main), options());
  }
  /// Runs `main` in virtual time: sleeps finish as soon as the loop is idle, in deadline
  /// order, so timer logic is tested without real waiting.
  template <class T>
  T run_virtual(Coro<T> main) {
    RunOptions o = options();
    o.clock = &clock_;
    return corio::run(std::move(main), o);
  }
  /// run_virtual with a watchdog: a regression that deadlocks fails with TimeoutError
  /// after a virtual day instead of hanging the suite.
  void run_bounded(Coro<void> main) { run_virtual(watchdog(std::move(main))); }

  /// Virtual time elapsed since the test started (run_virtual only).
  [[nodiscard]] Duration virtual_elapsed() const { return clock_.now() - TimePoint{}; }

  ManualClock clock_;

 private:
  static Coro<void> watchdog(Coro<void> main) {
    co_await wait_for(std::move(main), std::chrono::hours(24));
  }
};

/// A Unix socket name unique to this process and `stem`: abstract ("@...") where the OS
/// has abstract names (Linux), else a path in /tmp.
inline std::string unix_socket_name(const std::string& stem) {
  std::string name = CORIO_TEST_ABSTRACT_UNIX_SOCKETS ? "@" : "/tmp/";
  return name.append(stem).append(1, '-').append(std::to_string(::getpid()));
}

/// Whether this system can open Unix domain sockets (Wine 8 cannot: its AF_UNIX
/// socket() fails with EAFNOSUPPORT), for tests that skip without them.
inline bool unix_sockets_available() {
  try {
    net::close_socket(net::open_socket(AddressFamily::local, SocketType::stream));
    return true;
  } catch (const std::system_error& e) {
    // Only the missing address family; any other failure is the test's to report.
    if (e.code() != std::errc::address_family_not_supported) throw;
    return false;
  }
}

inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace corio::testing

/// Instantiates `suite` once per backend that opens on this machine.
#define CORIO_INSTANTIATE_BACKEND_SUITE(suite)                                                \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::ValuesIn(corio::available_backends()), \
                           ::corio::testing::backend_test_name)

/// Skips the calling test where Unix domain sockets cannot be opened.
#define CORIO_SKIP_WITHOUT_UNIX_SOCKETS()                                      \
  do {                                                                         \
    if (!::corio::testing::unix_sockets_available()) {                         \
      GTEST_SKIP() << "no Unix domain sockets here (Wine 8.0 has no AF_UNIX)"; \
    }                                                                          \
  } while (false)
