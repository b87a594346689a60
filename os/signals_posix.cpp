// POSIX signals behind corio/os/signals.hpp: sigaction + a socketpair.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "corio/os/net.hpp"
#include "corio/os/signals.hpp"

namespace corio::signals {
namespace {

constexpr int kMaxSignal = 65;  // Linux's NSIG; larger numbers are rejected

// Written by the handler, so only lock-free atomics (async-signal-safe).
std::atomic<int> g_wake_write{-1};
std::atomic<bool> g_pending[kMaxSignal];
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

std::mutex g_mutex;  // guards the rest (watch/unwatch from any thread)
int g_wake_read = -1;
bool g_watched[kMaxSignal] = {};
struct sigaction g_previous[kMaxSignal];

void on_signal(int sig) {
  const int saved = errno;  // the interrupted code may be about to read errno
  g_pending[sig].store(true, std::memory_order_relaxed);
  const int fd = g_wake_write.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const char byte = 0;
    // Non-blocking: a full socket already guarantees a wake-up.
    (void)::send(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  errno = saved;
}

void open_wake_locked() {
  if (g_wake_read >= 0) return;
  auto [r, w] = net::socket_pair(SocketType::stream);
  g_wake_read = static_cast<int>(r);
  g_wake_write.store(static_cast<int>(w), std::memory_order_release);
}

}  // namespace

void watch(int sig) {
  if (sig <= 0 || sig >= kMaxSignal || sig == SIGKILL || sig == SIGSTOP) {
    throw std::invalid_argument("corio: signal " + std::to_string(sig) + " cannot be handled");
  }
  std::lock_guard lock(g_mutex);
  open_wake_locked();
  if (g_watched[sig]) return;
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  // Restart interrupted system calls elsewhere in the process: the signal is handled
  // in the loop, not where it happened to land.
  sa.sa_flags = SA_RESTART;
  if (::sigaction(sig, &sa, &g_previous[sig]) != 0) {
    throw std::system_error(errno, std::system_category(), "sigaction");
  }
  g_watched[sig] = true;
}

void unwatch(int sig) noexcept {
  if (sig <= 0 || sig >= kMaxSignal) return;
  std::lock_guard lock(g_mutex);
  if (!g_watched[sig]) return;
  ::sigaction(sig, &g_previous[sig], nullptr);
  g_watched[sig] = false;
}

bool watched(int sig) noexcept {
  if (sig <= 0 || sig >= kMaxSignal) return false;
  std::lock_guard lock(g_mutex);
  return g_watched[sig];
}

native_handle wake_handle() {
  std::lock_guard lock(g_mutex);
  open_wake_locked();
  return g_wake_read;
}

std::vector<int> take_pending() {
  int fd;
  {
    std::lock_guard lock(g_mutex);
    fd = g_wake_read;
  }
  if (fd >= 0) {
    char buf[64];
    while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }
  // Drained first, then read the flags: a signal landing in between leaves a byte for
  // the next wake-up rather than a flag nobody looks at.
  std::vector<int> out;
  for (int sig = 1; sig < kMaxSignal; ++sig) {
    if (g_pending[sig].exchange(false, std::memory_order_acq_rel)) out.push_back(sig);
  }
  return out;
}

}  // namespace corio::signals
