// The backend contract (design.md): the whole interface between the reactor and an OS
// poller. A virtual interface costs one indirect call per operation, a few nanoseconds
// against a syscall's microseconds on these machines, and keeps each backend a plain
// pair of files that CMake picks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

#include "corio/backends/operation.hpp"

namespace corio {

/// What a backend can do natively; for selection, logs and benchmarks.
enum class Capability : std::uint32_t {
  none = 0,
  completion_based = 1u << 0,  ///< the kernel performs the I/O (io_uring, IOCP)
  edge_triggered = 1u << 1,    ///< readiness is registered once per handle
  multishot_accept = 1u << 2,
  multishot_recv = 1u << 3,
};

constexpr Capability operator|(Capability a, Capability b) noexcept {
  return static_cast<Capability>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr bool has(Capability set, Capability c) noexcept {
  return (static_cast<std::uint32_t>(set) & static_cast<std::uint32_t>(c)) != 0;
}

/// Settings a backend may use when it opens.
struct BackendOptions {
  unsigned queue_depth = 256;  ///< submission ring size for completion backends
};

/// An OS poller. Rules every backend keeps:
///  1. Exactly one completion per submitted operation, unless `submit` returned true.
///  2. Readiness backends try the syscall at once and wait only on EAGAIN.
///  3. No allocation per operation in steady state.
/// Nothing here throws: errors are negative errno values or std::error_code.
class Backend {
 public:
  virtual ~Backend() = default;

  /// The name users select it by ("epoll", "poll", ...).
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  [[nodiscard]] virtual Capability capabilities() const noexcept = 0;

  /// Starts `op`. Returns true if it finished at once: `op.result` is set and no
  /// completion will follow. Otherwise exactly one completion is pushed later.
  virtual bool submit(Operation& op) noexcept = 0;

  /// Asks an in-flight operation to stop. Its completion still arrives (with
  /// -ECANCELED if the cancel won); a completed or unknown operation is left alone.
  virtual void cancel(Operation& op) noexcept = 0;

  /// Forgets per-handle state before the handle is closed. Every operation on the
  /// handle must have completed.
  virtual void release(native_handle handle) noexcept = 0;

  /// Blocks until an operation completes, `timeout` passes (negative: forever) or
  /// `wake()` is called. Returns the number of completions pushed, or -errno; -EINTR
  /// means the wait ended early with nothing to report, and the reactor waits again.
  virtual int wait(std::chrono::nanoseconds timeout) noexcept = 0;

  /// Interrupts a blocked or the next `wait`. The only call safe from any thread.
  virtual void wake() noexcept = 0;
};

/// Creates a backend that pushes its completions into `sink`, or sets `ec`.
using BackendFactory = std::unique_ptr<Backend> (*)(const BackendOptions& options,
                                                    CompletionQueue& sink, std::error_code& ec);

}  // namespace corio
