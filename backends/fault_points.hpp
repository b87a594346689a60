// The OS layer's test faults (os/faults.hpp) asked about an Operation: where a backend
// hands a call to the kernel itself (io_uring's SQEs) rather than through the OS
// layer's wrappers, it asks here, so both paths inject the same faults.
#pragma once

#include "corio/backends/operation.hpp"
#include "os/faults.hpp"

namespace corio::faults {

/// The kind of call `code` makes.
[[nodiscard]] constexpr Call call_of(OpCode code) noexcept {
  switch (code) {
    case OpCode::accept:
      return Call::accept;
    case OpCode::recv:
      return Call::recv;
    case OpCode::send:
      return Call::send;
    default:
      return Call::other;
  }
}
/// failure() for `op`: the error to fail it with instead of starting it, or 0.
[[nodiscard]] inline std::intptr_t failure(const Operation& op) noexcept {
  return failure(call_of(op.code), op.handle);
}
/// io_length() for `op`: the length to ask the kernel for.
[[nodiscard]] inline std::size_t io_length(const Operation& op) noexcept {
  return io_length(op.handle, op.length);
}

}  // namespace corio::faults
