// Fault injection for tests: makes the OS layer's socket calls fail or come up short at
// random, from a seed, so the layers above can be shown to absorb what the OS may do
// (EINTR, spurious EAGAIN, short reads and writes) and to contain what they cannot
// absorb (ECONNRESET, accept failures) to the one connection it hits. Off unless a test
// turns it on (enable()) or CORIO_FAULTS is set, e.g.
//   CORIO_FAULTS=seed=7,rate=0.2,kinds=eintr+eagain+short,report=1
// Off, each hook costs one load and one predictable branch.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "corio/os/handle.hpp"

namespace corio::faults {

/// What can be injected. Transparent kinds must be invisible above the reactor; the
/// others reach the one operation they hit as its error.
enum class Kind : std::uint8_t {
  eintr,         ///< a call (socket op or the backend's wait) fails with EINTR first
  eagain,        ///< a call that could succeed says EAGAIN (level-triggered sites only)
  short_io,      ///< a stream recv/send asks the kernel for fewer bytes than requested
  econnreset,    ///< a recv/send fails with ECONNRESET (not transparent)
  accept_error,  ///< accept fails with EMFILE/ENFILE/ENOMEM/ENOBUFS/ECONNABORTED (not transparent)
  count
};

/// A bit per Kind.
constexpr unsigned bit(Kind k) noexcept {
  return 1u << static_cast<unsigned>(k);
}
/// EINTR, spurious EAGAIN and short reads/writes: what the library must absorb.
inline constexpr unsigned transparent = bit(Kind::eintr) | bit(Kind::eagain) | bit(Kind::short_io);

/// What to inject and how often.
struct Plan {
  std::uint64_t seed = 1;
  double rate = 0.0;        ///< chance per hook visit, 0..1
  unsigned kinds = 0;       ///< bit(Kind) mask
  native_handle only = -1;  ///< only operations on this handle (-1: all)
};

/// Starts injecting per `plan` (the random sequence restarts from its seed).
void enable(const Plan& plan) noexcept;
/// Stops injecting; the counts stay.
void disable() noexcept;
/// The plan in force (kinds == 0 when off), so a test can put it back afterwards.
[[nodiscard]] Plan current() noexcept;
/// Parses a CORIO_FAULTS value ("seed=N,rate=P,kinds=a+b,report=1"; kinds may also be
/// comma-separated). Throws std::invalid_argument naming the bad part.
Plan parse(std::string_view spec, bool* report = nullptr);
/// Reads CORIO_FAULTS once per process and enables it (every loop calls this). With
/// report=1, the counts are printed to stderr at exit.
void load_env();
/// How many of each kind were injected since the process started.
[[nodiscard]] std::uint64_t injected(Kind k) noexcept;
/// "eintr=N eagain=N short=N econnreset=N accept=N".
[[nodiscard]] std::string summary();

/// Which kind of call a hook is asked about.
enum class Call : std::uint8_t { accept, recv, send, other };

namespace detail {
extern std::atomic<bool> g_active;
bool roll(Kind k, native_handle h) noexcept;
std::size_t shorten(native_handle h, std::size_t length) noexcept;
int accept_errno() noexcept;
}  // namespace detail

/// Whether injection is on: the one branch every hook pays.
[[nodiscard]] inline bool active() noexcept {
  return detail::g_active.load(std::memory_order_relaxed);
}
/// Rolls the dice for `k` on a call on `h` (only when active()).
[[nodiscard]] inline bool hit(Kind k, native_handle h) noexcept {
  return active() && detail::roll(k, h);
}
/// The length a recv/send on `h` should ask the kernel for: `length`, or less when a
/// short read/write is injected (stream sockets only: a datagram must not be cut).
[[nodiscard]] inline std::size_t io_length(native_handle h, std::size_t length) noexcept {
  return active() ? detail::shorten(h, length) : length;
}
/// The error to fail a `call` on `h` with instead of making it (negative errno), or 0:
/// an accept failure for an accept, ECONNRESET for a recv or send.
[[nodiscard]] inline std::intptr_t failure(Call call, native_handle h) noexcept {
  if (!active()) return 0;
  switch (call) {
    case Call::accept:
      return detail::roll(Kind::accept_error, h) ? -detail::accept_errno() : 0;
    case Call::recv:
    case Call::send:
      return detail::roll(Kind::econnreset, h) ? -ECONNRESET : 0;
    case Call::other:
      break;
  }
  return 0;
}

}  // namespace corio::faults
