// Small coroutines the coro suites share: a value after a delay, a failure after one.
#pragma once

#include <coroutine>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "corio/corio.hpp"

namespace corio::testing {

/// The exception the suites throw on purpose; `code` tells failures apart.
struct Boom : std::runtime_error {
  explicit Boom(int c = 0) : std::runtime_error("boom"), code(c) {}
  int code;
};

/// `n` pseudo-random bytes from `seed`: data whose every byte a transfer test can check.
inline std::string pattern(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

/// Returns `v` after sleeping `d`.
template <class T>
Coro<T> after(Duration d, T v) {
  co_await sleep(d);
  co_return v;
}

/// Throws Boom(code) after sleeping `d`.
template <class T = void>
Coro<T> fail_after(Duration d, int code = 0) {
  co_await sleep(d);
  throw Boom(code);
}

/// Awaits `t`; true if it ended with CancelledError (its other outcomes are ignored).
template <class T>
Coro<bool> ends_cancelled(Task<T> t) {
  try {
    co_await t;
  } catch (const CancelledError&) {
    co_return true;
  } catch (...) {
  }
  co_return false;
}

/// Sets `f` to `v` from a loop callback `d` from now (loop.call_later(d, f.set_result, v)).
template <class T>
void set_later(Future<T> f, Duration d, T v) {
  (void)EventLoop::running().call_later(d, [f, v]() mutable { f.set_result(std::move(v)); });
}

/// A user awaiter written against the standard protocol only: ready at once with `v`.
struct ReadyValue {
  int v;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  int await_resume() const noexcept { return v; }
};

/// A user awaitable with a member operator co_await: waits for the future it wraps and
/// returns its value doubled.
struct Doubled {
  Future<int> f;
  struct Awaiter {
    Future<int>::Awaiter inner;
    bool await_ready() const noexcept { return inner.await_ready(); }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
      return inner.await_suspend(h);
    }
    int await_resume() const { return 2 * inner.await_resume(); }
  };
  Awaiter operator co_await() const noexcept { return Awaiter{f.operator co_await()}; }
};

/// A user awaitable with a free operator co_await (found by argument-dependent lookup)
/// that waits for the future it wraps.
struct Wrapped {
  Future<std::string> f;
};
inline Future<std::string>::Awaiter operator co_await(const Wrapped& w) noexcept {
  return w.f.operator co_await();
}

/// Takes `m` (a Lock or a Semaphore), logs `id`, holds it for `hold`, releases it.
template <class M>
Coro<void> hold_and_log(M& m, std::vector<int>& log, int id, Duration hold) {
  co_await m.acquire();
  log.push_back(id);
  co_await sleep(hold);
  m.release();
}

}  // namespace corio::testing
