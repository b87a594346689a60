#include "corio/coro/signals.hpp"

#include <map>
#include <memory>
#include <utility>

#include "corio/coro/errors.hpp"
#include "corio/coro/event.hpp"
#include "corio/coro/io.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/task.hpp"
#include "corio/os/signals.hpp"

namespace corio {
namespace {

// The handlers and the loop that runs them. Only touched on that loop's thread.
struct Registry {
  EventLoop* loop = nullptr;
  std::map<int, std::shared_ptr<std::function<void()>>> handlers;
};
Registry g_registry;

void forget_all() noexcept {
  for (auto& [sig, fn] : g_registry.handlers)
    signals::unwatch(sig);
  g_registry.handlers.clear();
  g_registry.loop = nullptr;
}

// Unregisters everything when the dispatcher's frame goes. A parameter rather than a
// local, because a task cancelled before its first step is destroyed without its body
// ever running, and parameters are destroyed with the frame either way.
class ForgetAllOnExit {
 public:
  ForgetAllOnExit() = default;
  ForgetAllOnExit(ForgetAllOnExit&& o) noexcept : armed_(std::exchange(o.armed_, false)) {}
  ForgetAllOnExit& operator=(ForgetAllOnExit&&) = delete;
  ~ForgetAllOnExit() {
    if (armed_) forget_all();
  }

 private:
  bool armed_ = true;
};

// One per loop while it has handlers: waits for the wake handle and runs the handlers.
// Cancelled with the loop's other tasks when run() ends, which unregisters everything.
Coro<void> dispatch(ForgetAllOnExit /*cleanup*/) {
  const native_handle wake = signals::wake_handle();
  for (;;) {
    co_await io::wait_readable(wake);
    for (int sig : signals::take_pending()) {
      auto it = g_registry.handlers.find(sig);
      if (it == g_registry.handlers.end()) continue;
      std::shared_ptr<std::function<void()>> fn = it->second;  // survives self-removal
      (*fn)();
    }
  }
}

}  // namespace

void add_signal_handler(int sig, std::function<void()> fn) {
  EventLoop& loop = EventLoop::running();
  if (g_registry.loop != nullptr && g_registry.loop != &loop) {
    throw RuntimeError("corio: signal handlers are already installed on another loop");
  }
  signals::watch(sig);
  g_registry.handlers[sig] = std::make_shared<std::function<void()>>(std::move(fn));
  if (g_registry.loop == nullptr) {
    g_registry.loop = &loop;
    spawn(dispatch(ForgetAllOnExit{}));
  }
}

bool remove_signal_handler(int sig) {
  if (g_registry.handlers.erase(sig) == 0) return false;
  signals::unwatch(sig);
  return true;
}

Coro<int> wait_signal(std::vector<int> sigs) {
  Event arrived;
  int which = 0;
  struct Unregister {
    const std::vector<int>& sigs;
    ~Unregister() {
      for (int s : sigs)
        remove_signal_handler(s);
    }
  } unregister{sigs};
  for (int s : sigs) {
    add_signal_handler(s, [&arrived, &which, s] {
      if (which == 0) which = s;
      arrived.set();
    });
  }
  co_await arrived.wait();
  co_return which;
}

}  // namespace corio
