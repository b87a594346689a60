// The unit of work the reactor hands to a backend: one socket call that completes
// exactly once. Operations live inside the awaiting coroutine's frame and are linked
// intrusively, so submitting one never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "corio/os/handle.hpp"
#include "corio/util/intrusive_list.hpp"

namespace corio {

/// What an Operation asks the OS to do.
enum class OpCode : std::uint8_t {
  accept,    ///< accept a connection: result is the new handle; `address` receives the peer
  connect,   ///< connect to `address`: result 0
  recv,      ///< receive into buffer/length with `flags`: result is the byte count (0 = EOF)
  send,      ///< send buffer/length with `flags`: result is the byte count
  recvfrom,  ///< receive a datagram; `address` receives the sender
  sendto,    ///< send a datagram to `address`
  readable,  ///< wait until the handle is readable: result 0
  writable,  ///< wait until the handle is writable: result 0
  // Any byte stream, not only sockets: pipes, TTYs, character devices (at the handle's
  // current position where it has one). On a socket, prefer recv/send: a backend that
  // reads sockets ahead (io_uring) serves only recv from what it already holds.
  read,    ///< read into buffer/length: result is the byte count (0 = end of stream)
  write,   ///< write buffer/length: result is the byte count (may be fewer)
  readv,   ///< scatter read into the `length` IoSlices at `buffer`: result as read
  writev,  ///< gather write of the `length` IoSlices at `buffer`: result as write
};

/// One submitted I/O request. The submitter fills the request fields and `on_complete`;
/// the backend owns the links and `backend_state` while the operation is in flight.
/// `result` is a byte count or handle (>= 0) or a negative errno; `-ECANCELED` after a
/// cancel that won the race.
struct Operation {
  /// Called by the reactor (never by the backend) when the completion is delivered.
  using CompleteFn = void (*)(Operation&) noexcept;

  OpCode code = OpCode::recv;
  std::uint8_t backend_state = 0;  // backend-private bookkeeping
  int flags = 0;                   // MSG_* flags for recv/send/recvfrom/sendto
  native_handle handle = invalid_handle;
  void* buffer = nullptr;
  std::size_t length = 0;
  SocketAddress* address = nullptr;
  std::intptr_t result = 0;
  CompleteFn on_complete = nullptr;

  // Intrusive links: an operation sits in at most one list at a time (a backend wait
  // queue or the reactor's completion queue).
  Operation* next = nullptr;
  Operation* prev = nullptr;
};

/// FIFO of operations whose completion is waiting to be delivered. Backends push; the
/// reactor pops. Single-threaded: only the loop's thread touches it.
class CompletionQueue {
 public:
  CompletionQueue() noexcept = default;

  /// Appends `op`, whose `result` must already be set. Its `prev` is cleared: the
  /// readiness backends tell a queued operation by it (util::IntrusiveList::contains).
  void push(Operation& op) noexcept {
    op.prev = nullptr;
    ops_.push_back(op);
  }
  /// Removes and returns the oldest operation, or nullptr.
  Operation* pop() noexcept { return ops_.pop_front(); }
  [[nodiscard]] bool empty() const noexcept { return ops_.empty(); }
  /// Moves every queued operation into the returned queue, leaving this one empty.
  [[nodiscard]] CompletionQueue take_all() noexcept { return CompletionQueue(ops_.take_all()); }

 private:
  using Queue = util::IntrusiveQueue<Operation, &Operation::next>;
  explicit CompletionQueue(Queue&& ops) noexcept : ops_(std::move(ops)) {}
  Queue ops_;
};

}  // namespace corio
