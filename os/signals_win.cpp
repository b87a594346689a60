// Windows "signals" behind corio/os/signals.hpp. Windows has no POSIX signals; a
// console delivers control events instead, on a thread of its own. The mapping:
//   CTRL_C_EVENT                                        -> SIGINT
//   CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT,
//   CTRL_SHUTDOWN_EVENT                                 -> SIGTERM
// so `wait_signal(SIGINT, SIGTERM)` stops a server on Ctrl+C, Ctrl+Break or the console
// window closing. std::raise(SIGINT / SIGTERM) is routed the same way through the C
// runtime's signal(). Other signal numbers cannot be watched (std::invalid_argument).
// As on POSIX, a watched event only records itself and makes the wake handle (one end
// of a loopback socket pair) readable; the loop does the rest.
// winsock2.h first: windows.h would otherwise bring in the old winsock.h.
#include <winsock2.h>

#include <windows.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "corio/os/net.hpp"
#include "corio/os/signals.hpp"

namespace corio::signals {
namespace {

constexpr int kMaxSignal = NSIG;

std::atomic<SOCKET> g_wake_write{INVALID_SOCKET};
std::atomic<bool> g_pending[kMaxSignal];

std::mutex g_mutex;  // guards the rest
native_handle g_wake_read = invalid_handle;
bool g_watched[kMaxSignal] = {};
void (*g_previous[kMaxSignal])(int) = {};
bool g_console_handler = false;

bool supported(int sig) noexcept {
  return sig == SIGINT || sig == SIGTERM;
}

void deliver(int sig) noexcept {
  g_pending[sig].store(true, std::memory_order_relaxed);
  const SOCKET s = g_wake_write.load(std::memory_order_relaxed);
  if (s != INVALID_SOCKET) {
    const char byte = 0;
    (void)::send(s, &byte, 1, 0);  // non-blocking: a full pair already wakes the loop
  }
}

bool any_watched_locked() noexcept {
  for (bool w : g_watched) {
    if (w) return true;
  }
  return false;
}

// Runs on a thread the console creates. TRUE: handled, the process lives on.
BOOL WINAPI on_console_event(DWORD event) {
  const int sig = event == CTRL_C_EVENT ? SIGINT : SIGTERM;
  {
    std::lock_guard lock(g_mutex);      // an ordinary thread, not a signal handler: it may lock
    if (!g_watched[sig]) return FALSE;  // default handling (exit) for unwatched events
  }
  deliver(sig);
  return TRUE;
}

void on_raise(int sig) {
  // The C runtime resets the disposition before calling us (like SA_RESETHAND).
  std::signal(sig, &on_raise);
  deliver(sig);
}

void open_wake_locked() {
  if (g_wake_read != invalid_handle) return;
  auto [r, w] = net::socket_pair(SocketType::stream);
  g_wake_read = r;
  g_wake_write.store(static_cast<SOCKET>(w), std::memory_order_release);
}

}  // namespace

void watch(int sig) {
  if (!supported(sig)) {
    throw std::invalid_argument("corio: signal " + std::to_string(sig) +
                                " cannot be handled on Windows (only SIGINT and SIGTERM)");
  }
  std::lock_guard lock(g_mutex);
  open_wake_locked();
  if (g_watched[sig]) return;
  if (!g_console_handler) {
    if (!::SetConsoleCtrlHandler(&on_console_event, TRUE)) {
      throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                              "SetConsoleCtrlHandler");
    }
    g_console_handler = true;
  }
  g_previous[sig] = std::signal(sig, &on_raise);
  g_watched[sig] = true;
}

void unwatch(int sig) noexcept {
  if (!supported(sig)) return;
  std::lock_guard lock(g_mutex);
  if (!g_watched[sig]) return;
  std::signal(sig, g_previous[sig] == SIG_ERR ? SIG_DFL : g_previous[sig]);
  g_watched[sig] = false;
  if (g_console_handler && !any_watched_locked()) {
    ::SetConsoleCtrlHandler(&on_console_event, FALSE);
    g_console_handler = false;
  }
}

bool watched(int sig) noexcept {
  if (!supported(sig)) return false;
  std::lock_guard lock(g_mutex);
  return g_watched[sig];
}

native_handle wake_handle() {
  std::lock_guard lock(g_mutex);
  open_wake_locked();
  return g_wake_read;
}

std::vector<int> take_pending() {
  native_handle h;
  {
    std::lock_guard lock(g_mutex);
    h = g_wake_read;
  }
  if (h != invalid_handle) {
    char buf[64];
    while (::recv(static_cast<SOCKET>(h), buf, sizeof buf, 0) > 0) {
    }
  }
  std::vector<int> out;
  for (int sig = 1; sig < kMaxSignal; ++sig) {
    if (g_pending[sig].exchange(false, std::memory_order_acq_rel)) out.push_back(sig);
  }
  return out;
}

}  // namespace corio::signals
