// Signals delivered on the loop (loop.add_signal_handler), so a server can shut down
// gracefully on SIGINT/SIGTERM instead of dying mid-request.
#pragma once

#include <concepts>
#include <functional>
#include <vector>

#include "corio/coro/coro.hpp"

namespace corio {

/// Runs `fn` on the running loop, as ordinary loop code, each time `sig` arrives
/// (asyncio's loop.add_signal_handler). Replaces an earlier handler for `sig`. The
/// handlers of a process live on one loop at a time: the loop of the first
/// registration, until it stops. std::invalid_argument for SIGKILL/SIGSTOP or an
/// unknown number; InvalidStateError outside a loop.
void add_signal_handler(int sig, std::function<void()> fn);

/// Removes the handler for `sig` and restores the signal's previous disposition;
/// false if there was none.
bool remove_signal_handler(int sig);

/// Waits until one of `sigs` arrives and returns its number; the signals are handled
/// only while waiting.
Coro<int> wait_signal(std::vector<int> sigs);

/// `co_await corio::wait_signal(SIGINT, SIGTERM)`: how the examples wait for their
/// shutdown.
template <std::same_as<int>... More>
Coro<int> wait_signal(int sig, More... more) {
  return wait_signal(std::vector<int>{sig, more...});
}

}  // namespace corio
