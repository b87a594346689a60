// Windows IOCP backend: completion-based; Winsock performs every operation and reports
// it on an I/O completion port.
#pragma once

#include <memory>
#include <system_error>

#include "corio/backends/backend.hpp"

namespace corio {

/// Opens a completion port and looks up the Winsock extensions it needs (AcceptEx,
/// ConnectEx); sets `ec` if Winsock or the port cannot be set up.
std::unique_ptr<Backend> open_iocp_backend(const BackendOptions& options, CompletionQueue& sink,
                                           std::error_code& ec);

}  // namespace corio
