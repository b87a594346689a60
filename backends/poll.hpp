// Portable poll() backend: level-triggered readiness, the fallback on any POSIX system.
#pragma once

#include <memory>
#include <system_error>

#include "corio/backends/backend.hpp"

namespace corio {

/// Opens the poll() backend and its waker; sets `ec` if the waker cannot be made.
std::unique_ptr<Backend> open_poll_backend(const BackendOptions& options, CompletionQueue& sink,
                                           std::error_code& ec);

}  // namespace corio
