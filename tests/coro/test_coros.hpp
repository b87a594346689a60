// Small coroutines the coro suites share: a value after a delay, a failure after one.
#pragma once

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

/// Takes `m` (a Lock or a Semaphore), logs `id`, holds it for `hold`, releases it.
template <class M>
Coro<void> hold_and_log(M& m, std::vector<int>& log, int id, Duration hold) {
  co_await m.acquire();
  log.push_back(id);
  co_await sleep(hold);
  m.release();
}

}  // namespace corio::testing
