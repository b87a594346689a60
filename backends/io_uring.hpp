// Linux io_uring backend: completion-based; the kernel performs every operation.
#pragma once

#include <memory>
#include <system_error>

#include "corio/backends/backend.hpp"

namespace corio {

/// Opens a ring of `options.queue_depth` entries; sets `ec` when io_uring is unavailable
/// (old kernel, the io_uring_disabled sysctl, a seccomp filter, ENOMEM for the ring).
std::unique_ptr<Backend> open_io_uring_backend(const BackendOptions& options, CompletionQueue& sink,
                                               std::error_code& ec);

}  // namespace corio
