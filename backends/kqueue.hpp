// kqueue backend (macOS, FreeBSD and the other BSDs): edge-triggered readiness, each fd
// registered once.
#pragma once

#include <memory>
#include <system_error>

#include "corio/backends/backend.hpp"

namespace corio {

/// Opens a kqueue with its EVFILT_USER wake-up event; sets `ec` if the kernel refuses.
std::unique_ptr<Backend> open_kqueue_backend(const BackendOptions& options, CompletionQueue& sink,
                                             std::error_code& ec);

}  // namespace corio
