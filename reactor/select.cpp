// Backend selection. The CORIO_HAS_* macros come from cmake/Backends.cmake, which also
// decides which backend sources are compiled; this is the only file outside backends/
// that names a backend.
#include "reactor/select.hpp"

#include <cstdlib>
#include <vector>

#include "corio/reactor/reactor.hpp"

#if CORIO_HAS_IO_URING
#include "backends/io_uring.hpp"
#endif
#if CORIO_HAS_EPOLL
#include "backends/epoll.hpp"
#endif
#if CORIO_HAS_KQUEUE
#include "backends/kqueue.hpp"
#endif
#if CORIO_HAS_IOCP
#include "backends/iocp.hpp"
#endif
#if CORIO_HAS_POLL
#include "backends/poll.hpp"
#endif

namespace corio {
namespace {

struct Entry {
  std::string_view name;
  BackendFactory open;
};

// Preference order for `auto`: completion-based first, then the native readiness
// poller, then the portable fallback.
const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = {
#if CORIO_HAS_IO_URING
    {"io_uring", &open_io_uring_backend},
#endif
#if CORIO_HAS_IOCP
    {"iocp", &open_iocp_backend},
#endif
#if CORIO_HAS_EPOLL
    {"epoll", &open_epoll_backend},
#endif
#if CORIO_HAS_KQUEUE
    {"kqueue", &open_kqueue_backend},
#endif
#if CORIO_HAS_POLL
    {"poll", &open_poll_backend},
#endif
  };
  return entries;
}

std::string valid_list() {
  std::string s = "auto";
  for (const Entry& e : registry()) {
    s += ", ";
    s += e.name;
  }
  return s;
}

}  // namespace

const std::vector<std::string_view>& backend_names() noexcept {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const Entry& e : registry())
      v.push_back(e.name);
    return v;
  }();
  return names;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> out;
  for (const Entry& e : registry()) {
    CompletionQueue sink;
    std::error_code ec;
    if (e.open(BackendOptions{}, sink, ec)) out.emplace_back(e.name);
  }
  return out;
}

std::unique_ptr<Backend> open_backend(std::string_view requested, const BackendOptions& options,
                                      CompletionQueue& sink, std::error_code& ec,
                                      std::string& message) {
  std::string_view name = requested;
  if (name.empty()) {
    const char* env = std::getenv("CORIO_BACKEND");
    name = (env != nullptr && *env != '\0') ? std::string_view(env) : std::string_view("auto");
  }
  ec.clear();
  if (name == "auto") {
    std::string refused;
    for (const Entry& e : registry()) {
      std::error_code why;
      if (auto backend = e.open(options, sink, why)) {
        // Say what was skipped: debug mode prints it, so a silent fall back from
        // io_uring to epoll (a sandbox, the io_uring_disabled sysctl) is visible.
        if (!refused.empty()) message = "auto skipped " + refused;
        return backend;
      }
      refused +=
          std::string(refused.empty() ? "" : "; ") + std::string(e.name) + ": " + why.message();
    }
    ec = std::make_error_code(std::errc::function_not_supported);
    message = "corio: no backend opens on this system (" + refused + ")";
    return nullptr;
  }
  for (const Entry& e : registry()) {
    if (e.name != name) continue;
    auto backend = e.open(options, sink, ec);
    if (!backend) {
      message = "corio: backend '" + std::string(name) + "' failed to open: " + ec.message();
    }
    return backend;
  }
  ec = std::make_error_code(std::errc::invalid_argument);
  message = "corio: unknown backend '" + std::string(name) + "' (valid: " + valid_list() + ")";
  return nullptr;
}

}  // namespace corio
