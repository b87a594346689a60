// run(): the program's entry into corio (asyncio.run).
#pragma once

#include <stdexcept>
#include <utility>

#include "corio/coro/coro.hpp"
#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/task.hpp"

namespace corio {

/// Makes a fresh loop, runs `main` to completion, cancels every task still pending and
/// waits for them, closes the loop, and returns main's result or rethrows its
/// exception (asyncio.run). Throws BackendError if the backend cannot open and
/// InvalidStateError if a loop is already running on this thread, or if `main` stops
/// the loop (EventLoop::stop()) before it finishes; std::invalid_argument if
/// `options.threads` is not 1 (see runtime.hpp).
template <class T>
T run(Coro<T> main, const RunOptions& options = {}) {
  if (EventLoop::current() != nullptr) {
    throw InvalidStateError("corio::run() cannot be called from a running event loop");
  }
  if (options.threads != 1) {
    throw std::invalid_argument(
        "corio::run() runs one loop; use corio::run_threads() or corio::Runtime for threads != 1");
  }
  EventLoop loop(options);
  Task<T> task = create_task(std::move(main));
  try {
    loop.run_until_done(task.promise());
  } catch (...) {
    // The loop stopped before main finished (stop()) or the backend failed: like
    // asyncio.run's finally, still cancel what is left before closing.
    loop.cancel_all_and_drain();
    throw;
  }
  loop.cancel_all_and_drain();
  loop.close();
  return std::move(task).result();
}

}  // namespace corio
