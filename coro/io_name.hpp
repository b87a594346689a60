// The word an I/O error names its operation by ("corio: recv: Connection reset ..."),
// for the streams and transports that run either socket or byte-stream operations.
#pragma once

#include "corio/backends/operation.hpp"

namespace corio::detail {

[[nodiscard]] constexpr const char* io_name(OpCode code) noexcept {
  switch (code) {
    case OpCode::recv:
      return "recv";
    case OpCode::send:
      return "send";
    case OpCode::write:
      return "write";
    default:
      return "read";
  }
}

}  // namespace corio::detail
