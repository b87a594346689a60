// Shared by the readiness backends (epoll, kqueue, poll): the non-blocking socket
// calls that stand in for a completion kernel, and the per-fd wait queues that hold the
// operations which met EAGAIN until the poller says the fd is ready again.
#pragma once

#include <chrono>
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
  bool registered = false;  // known to the kernel poller
  HandleKind kind = HandleKind::unknown;
  std::uint32_t slot = no_slot;  // position in a backend's list of fds with waiters

  [[nodiscard]] OpQueue& queue(Side s) noexcept { return queues[static_cast<int>(s)]; }
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

/// Fault injection (os/faults.hpp): whether to pretend `op`'s call said
/// EAGAIN. Only safe where the poller will report the fd again without a new edge.
bool spurious_eagain(const Operation& op) noexcept;

/// Whether `result` of `op` proves the fd has nothing more to give (a stream recv shorter
/// than asked) or no more room (a send shorter than asked). May ask the OS the socket
/// type once per fd. Never true after a hang-up on that side.
bool exhausted(FdState& state, const Operation& op, std::intptr_t result) noexcept;

/// Runs `side`'s queue of `fd` after the poller reported readiness: performs each
/// operation in FIFO order, pushes finished ones to `sink`, and stops at the first
/// EAGAIN. With `track_readiness` (edge-triggered), also stops after an operation that
/// exhausted the fd, and records in `state.ready` that the side is no longer ready.
/// Returns the number of completions pushed.
int run_queue(FdState& state, Side side, CompletionQueue& sink, bool track_readiness) noexcept;

/// If `op` waits in its fd's queue, unlinks it and pushes it to `sink` with -ECANCELED;
/// otherwise (finished, delivered or unknown) does nothing. Returns whether it did.
bool cancel(FdTable& table, Operation& op, CompletionQueue& sink) noexcept;

/// Converts a timeout to poll/epoll milliseconds: negative is -1 (forever), and a
/// positive sub-millisecond rest rounds up so a near deadline never becomes a busy loop.
int timeout_ms(std::chrono::nanoseconds timeout) noexcept;

}  // namespace corio::readiness
