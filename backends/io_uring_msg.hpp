// The msghdr slots io_uring's recvfrom and sendto need: they go through recvmsg and
// sendmsg, whose msghdr must live until the completion. Slots come from a free list
// that only grows, so steady state allocates nothing.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <memory>
#include <vector>

#include "corio/backends/operation.hpp"

namespace corio::uring {

/// One in-flight recvfrom or sendto: its msghdr, and the operation it belongs to.
struct MsgSlot {
  msghdr msg{};
  iovec iov{};
  Operation* op = nullptr;  // nullptr while the slot is free
  MsgSlot* next_free = nullptr;
};

class MsgSlots {
 public:
  /// A slot bound to `op` (a recvfrom or sendto), its msghdr filled from `op`. Allocates
  /// only when every slot is in flight (std::bad_alloc then, as from any allocation).
  MsgSlot& take(Operation& op);

  /// Unbinds `s` after its completion `res`: a recvfrom learns its sender's length.
  /// Returns the operation it belonged to.
  Operation& finish(MsgSlot& s, int res) noexcept;

  /// The slot `op` is in flight through, or nullptr if it is in none (its completion
  /// has been reaped). A linear scan: only cancel asks, which costs a syscall anyway.
  [[nodiscard]] MsgSlot* find(const Operation& op) const noexcept;

 private:
  MsgSlot* free_ = nullptr;
  std::vector<std::unique_ptr<MsgSlot>> slots_;
};

}  // namespace corio::uring
