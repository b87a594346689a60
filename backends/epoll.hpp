// Linux epoll backend: edge-triggered readiness, each fd registered on its first wait.
#pragma once

#include <memory>
#include <system_error>

#include "corio/backends/backend.hpp"

namespace corio {

/// Opens an epoll instance and its waker; sets `ec` if the kernel refuses.
std::unique_ptr<Backend> open_epoll_backend(const BackendOptions& options, CompletionQueue& sink,
                                            std::error_code& ec);

}  // namespace corio
