// Shared by the readiness backends (epoll, kqueue, poll): the non-blocking socket
// calls that stand in for a completion kernel, the per-fd wait queues that hold the
// operations which met EAGAIN until the poller says the fd is ready again, and the one
// submit path (submit() below) each poller plugs its registration into.
#pragma once

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "corio/backends/operation.hpp"

namespace corio::readiness {

/// Does `op`'s syscall once without blocking (retrying EINTR). Returns the result (>= 0)
/// or -errno; -EAGAIN means "would block: wait for readiness and call again". Connect
/// keeps its phase in `op.backend_state`, which must be 0 when the operation starts.
std::intptr_t perform(Operation& op) noexcept;

/// Which readiness an operation waits for.
enum class Side : std::uint8_t { read = 0, write = 1 };

/// accept/recv/recvfrom/readable/read/readv wait to read; the rest (send, sendto,
/// connect, writable, write, writev) to write.
constexpr Side side_of(OpCode code) noexcept {
  switch (code) {
    case OpCode::accept:
    case OpCode::recv:
    case OpCode::recvfrom:
    case OpCode::readable:
    case OpCode::read:
    case OpCode::readv:
      return Side::read;
    case OpCode::connect:
    case OpCode::send:
    case OpCode::sendto:
    case OpCode::writable:
    case OpCode::write:
    case OpCode::writev:
      break;
  }
  return Side::write;
}

/// Intrusive FIFO of operations through `op.next` / `op.prev`. `contains(op)` relies on
/// operations outside a wait queue having `prev == nullptr` (CompletionQueue::push and
/// remove() both clear it).
using OpQueue = util::IntrusiveList<Operation, &Operation::next, &Operation::prev>;

/// What kind of handle an fd is, learned lazily: only stream sockets may treat a short
/// read as "drained" (a short datagram says nothing about the next one).
enum class HandleKind : std::uint8_t { unknown, stream, other };

/// Everything a readiness backend keeps per fd.
struct FdState {
  static constexpr std::uint32_t no_slot = UINT32_MAX;

  OpQueue queues[2];  // indexed by Side
  // Cached readiness (edge-triggered backends): false means the last attempt proved the
  // side empty/full, so the next operation queues without trying the syscall.
  bool ready[2] = {true, true};
  // Sticky hang-up seen per side: after EOF/error no further edge will come, so a short
  // read must not clear `ready` any more.
  bool hup[2] = {false, false};
  // The sides the poller reports (Poller::watch succeeded for them). epoll watches the
  // write side only once a write has had to wait (see EpollBackend::watch); the others
  // watch both at once.
  bool watched[2] = {false, false};
  HandleKind kind = HandleKind::unknown;
  std::uint32_t slot = no_slot;  // position in a backend's list of fds with waiters

  [[nodiscard]] OpQueue& queue(Side s) noexcept { return queues[static_cast<int>(s)]; }
  /// Whether the poller knows the fd at all (some side is watched).
  [[nodiscard]] bool registered() const noexcept { return watched[0] || watched[1]; }
  /// The poller forgot the fd: the next operation that must wait watches it again.
  void unwatch() noexcept { watched[0] = watched[1] = false; }
  [[nodiscard]] bool has_waiters() const noexcept {
    return !queues[0].empty() || !queues[1].empty();
  }
};

/// Per-fd state indexed by fd number; grows on demand, so steady state never allocates.
class FdTable {
 public:
  /// The state of `fd` (>= 0), growing the table if needed; nullptr if that growth
  /// cannot be allocated. Inline: it runs on every submit, growth almost never.
  FdState* at(int fd) noexcept {
    const auto index = static_cast<std::size_t>(fd);
    return index < states_.size() ? &states_[index] : grow(index);
  }
  /// The state of `fd`, or nullptr if the table never reached it.
  [[nodiscard]] FdState* find(native_handle fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= states_.size()) return nullptr;
    return &states_[static_cast<std::size_t>(fd)];
  }
  /// Forgets `fd` so a reused number starts fresh.
  void reset(native_handle fd) noexcept;

 private:
  FdState* grow(std::size_t index) noexcept;

  std::vector<FdState> states_;
};

/// Ends a submission with `result` now: Backend::submit's "finished inline".
inline bool finish(Operation& op, std::intptr_t result) noexcept {
  op.result = result;
  return true;
}

/// The checks every readiness backend's submit starts with: a valid fd number, the
/// connect phase reset, the fd's state found (or made). Returns nullptr when `op` ends
/// right here, with its result set (-EBADF, -ENOMEM).
FdState* start_submit(FdTable& table, Operation& op) noexcept;

/// Whether `result` of `op` proves the fd has nothing more to give (a stream recv shorter
/// than asked) or no more room (a send shorter than asked). May ask the OS the socket
/// type once per fd. Never true after a hang-up on that side.
bool exhausted(FdState& state, const Operation& op, std::intptr_t result) noexcept;

/// submit()'s first attempt at `op` (its queue being empty): perform() with the test
/// faults, and for an edge-triggered poller, `state.ready` updated from the result.
/// `state` is `table`'s entry for the fd; an accepted fd's entry learns its kind.
std::intptr_t try_now(FdTable& table, FdState& state, Operation& op, bool edge_triggered) noexcept;

/// What a readiness poller plugs into submit().
template <class P>
concept Poller = requires(P& poller, int fd, FdState& state, Side side) {
  /// Whether the poller reports edges (epoll's EPOLLET, kqueue's EV_CLEAR), which lets
  /// FdState::ready cache readiness between them; false for level-triggered poll().
  { P::edge_triggered } -> std::convertible_to<bool>;
  /// Starts watching `side` of `fd` (and whatever the poller watches along with it),
  /// sets `state.watched` for every side it now reports: 0, or -errno to end the
  /// operation that had to wait. Called when an operation must wait on a side not yet
  /// watched. The poller must also report readiness that arrived before the call
  /// (registering reports the current state), or an operation that met EAGAIN just
  /// before could wait forever.
  { poller.watch(fd, state, side) } -> std::same_as<int>;
  requires noexcept(poller.watch(fd, state, side));
};

/// Backend::submit for every readiness poller: waiting operations go first (FIFO);
/// otherwise the call is tried at once, unless the cache already knows it would say
/// EAGAIN. An operation that must wait is queued, its side of the fd watched once until
/// the poller forgets it. A template rather than a virtual hook: this runs on every operation.
template <Poller P>
bool submit(P& poller, FdTable& table, Operation& op) noexcept {
  FdState* state = start_submit(table, op);
  if (state == nullptr) return true;
  const Side side = side_of(op.code);
  OpQueue& queue = state->queue(side);
  if (queue.empty() && (!P::edge_triggered || state->ready[static_cast<int>(side)])) {
    const std::intptr_t r = try_now(table, *state, op, P::edge_triggered);
    if (r != -EAGAIN) return finish(op, r);
  }
  if (!state->watched[static_cast<int>(side)]) {
    const int error = poller.watch(static_cast<int>(op.handle), *state, side);
    if (error != 0) return finish(op, error);
  }
  queue.push_back(op);
  return false;
}

/// Runs `side`'s queue after the poller reported that side of its fd ready: performs
/// each operation in FIFO order, pushes finished ones to `sink`, and stops at the first
/// EAGAIN. With `edge_triggered`, marks the side ready first, and stops after an
/// operation that exhausted the fd, recording in `state.ready` that it is ready no more.
/// Returns the number of completions pushed. `table` as for try_now().
int run_queue(FdTable& table, FdState& state, Side side, CompletionQueue& sink,
              bool edge_triggered) noexcept;

/// If `op` waits in its fd's queue, unlinks it and pushes it to `sink` with -ECANCELED;
/// otherwise (finished, delivered or unknown) does nothing. Returns whether it did.
bool cancel(FdTable& table, Operation& op, CompletionQueue& sink) noexcept;

/// Converts a timeout to poll/epoll milliseconds: negative is -1 (forever), and a
/// positive sub-millisecond rest rounds up so a near deadline never becomes a busy loop.
int timeout_ms(std::chrono::nanoseconds timeout) noexcept;

}  // namespace corio::readiness
