// The one place that knows which backends this build has and picks among them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "corio/backends/backend.hpp"

namespace corio {

/// Opens the backend named `requested` ("" = $CORIO_BACKEND, else auto). `auto` tries
/// each built backend in preference order and takes the first the OS accepts; a named
/// backend that fails, or an unknown name, sets `ec` and a message listing what is valid.
std::unique_ptr<Backend> open_backend(std::string_view requested, const BackendOptions& options,
                                      CompletionQueue& sink, std::error_code& ec,
                                      std::string& message);

}  // namespace corio
