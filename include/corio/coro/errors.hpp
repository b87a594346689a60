// The exceptions corio raises, named after asyncio's.
#pragma once

#include <stdexcept>
#include <system_error>

namespace corio {

/// Like asyncio.CancelledError: thrown at a task's await point by Task::cancel().
/// Deliberately not derived from std::exception subclasses that generic handlers catch
/// for errors (asyncio made the same move in 3.8: it is a BaseException).
class CancelledError {
 public:
  [[nodiscard]] const char* what() const noexcept { return "corio::CancelledError"; }
};

/// Like TimeoutError from asyncio.wait_for / asyncio.timeout.
class TimeoutError : public std::runtime_error {
 public:
  TimeoutError() : std::runtime_error("corio::TimeoutError: the operation timed out") {}
};

/// Like asyncio.InvalidStateError: a result asked of a task that has not finished, etc.
class InvalidStateError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// The loop could not start: unknown backend name, or the backend failed to open.
/// `code()` says why; `what()` is a message for users listing the valid backends.
class BackendError : public std::system_error {
 public:
  BackendError(std::error_code ec, const std::string& message)
      : std::system_error(ec, message), message_(message) {}
  [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace corio
