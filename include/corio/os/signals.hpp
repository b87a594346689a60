// Process signals turned into readiness: a watched signal's handler only records it and
// makes a handle readable, so the loop reacts to it in ordinary code (the self-pipe
// trick). Each platform implements this in one file the build picks.
#pragma once

#include <vector>

#include "corio/os/handle.hpp"

namespace corio::signals {

/// Starts routing `sig` to wake_handle(), remembering the previous disposition.
/// std::invalid_argument for a signal that cannot be caught; std::system_error if the
/// OS refuses.
void watch(int sig);
/// Gives `sig` its previous disposition back (no-op if it is not watched).
void unwatch(int sig) noexcept;
/// Whether `sig` is being watched.
[[nodiscard]] bool watched(int sig) noexcept;
/// Becomes readable when a watched signal has arrived; opened on first use.
[[nodiscard]] native_handle wake_handle();
/// The watched signals that arrived since the last call, each once, in number order;
/// empties the wake handle.
[[nodiscard]] std::vector<int> take_pending();

}  // namespace corio::signals
