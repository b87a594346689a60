// The io_uring backend's class, shared by the files that implement it (internal: the
// reactor sees only open_io_uring_backend in io_uring.hpp):
//   io_uring.cpp            set-up, the Backend calls, single-shot operations, the SQ,
//                           CQE reaping and the waker
//   io_uring_multishot.cpp  multishot recv and accept on a handle
// and the parts it owns: io_uring_buffers (the provided-buffer ring), io_uring_handles
// (per-handle state), io_uring_msg (msghdr slots). One class rather than objects calling
// each other through interfaces: multishot needs the SQ, the sink and the single-shot
// fallback, and those need it back.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "backends/io_uring_buffers.hpp"
#include "backends/io_uring_handles.hpp"
#include "backends/io_uring_msg.hpp"
#include "corio/backends/backend.hpp"
#include "os/waker.hpp"

namespace corio::uring {

// user_data values. Operations, handle states and msghdr slots are at least 8-aligned,
// so the low three bits tell what a completion belongs to.
constexpr std::uint64_t kIgnore = 0;     // the completion of a cancel request
constexpr std::uint64_t kWake = 1;       // the pending poll on the waker
constexpr std::uint64_t kRecvTag = 2;    // HandleState* | 2: its multishot recv
constexpr std::uint64_t kAcceptTag = 3;  // HandleState* | 3: its multishot accept
constexpr std::uint64_t kMsgTag = 4;     // MsgSlot* | 4: a recvfrom or sendto
constexpr std::uint64_t kTagMask = 7;
static_assert(alignof(Operation) >= 8 && alignof(HandleState) >= 8 && alignof(MsgSlot) >= 8);

// Operation::backend_state while the operation waits on a handle instead of an SQE.
constexpr std::uint8_t kInRing = 0;
constexpr std::uint8_t kWaitingData = 1;    // recv or readable, served from the buffers
constexpr std::uint8_t kWaitingAccept = 2;  // served by the multishot accept

inline sockaddr* sockaddr_of(SocketAddress* a) noexcept {
  return a != nullptr ? reinterpret_cast<sockaddr*>(a->data) : nullptr;
}

class IoUringBackend final : public Backend {
 public:
  explicit IoUringBackend(CompletionQueue& sink) noexcept : sink_(sink) {}
  ~IoUringBackend() override;
  IoUringBackend(const IoUringBackend&) = delete;
  IoUringBackend& operator=(const IoUringBackend&) = delete;

  /// Opens the waker, creates the ring of `depth` entries and probes what the kernel has;
  /// -errno on failure.
  int init(unsigned depth) noexcept;

  [[nodiscard]] std::string_view name() const noexcept override { return "io_uring"; }
  [[nodiscard]] Capability capabilities() const noexcept override {
    Capability c = Capability::completion_based;
    if (multishot_accept_) c = c | Capability::multishot_accept;
    if (multishot_recv_) c = c | Capability::multishot_recv;
    return c;
  }

  bool submit(Operation& op) noexcept override;
  void cancel(Operation& op) noexcept override;
  void release(native_handle handle) noexcept override;
  int wait(std::chrono::nanoseconds timeout) noexcept override;
  void wake() noexcept override;

 private:
  // ---- io_uring.cpp: the ring, single-shot operations, completions ----
  void probe_multishot() noexcept;
  bool submit_single(Operation& op) noexcept;
  io_uring_sqe* get_sqe() noexcept;
  void complete(Operation& op, int res) noexcept;
  int reap() noexcept;
  void arm_wake() noexcept;

  // A recvfrom or sendto is known to the kernel by its slot rather than by itself: the
  // completion then finds the slot, and the slot the operation, with no room taken in
  // the Operation (whose links once carried the slot). The slot points at the operation
  // from submit until that completion is reaped, and the operation lives at least that
  // long (one completion each), so the pointer never dangles.
  static std::uint64_t msg_data(MsgSlot& s) noexcept {
    return reinterpret_cast<std::uint64_t>(&s) | kMsgTag;
  }

  void push(Operation& op) noexcept {
    ++pushed_;
    sink_.push(op);
  }

  void finish(Operation& op, std::intptr_t result) noexcept {
    op.backend_state = kInRing;
    op.result = result;
    push(op);
  }

  // ---- io_uring_multishot.cpp: multishot recv and accept on a handle ----
  static bool stream_socket(HandleState& st) noexcept;
  HandleState* data_state(const Operation& op) noexcept;
  HandleState* accept_state(const Operation& op) noexcept;
  bool submit_data(HandleState& st, Operation& op) noexcept;
  bool serve_one(HandleState& st, Operation& op) noexcept;
  void arm_recv(HandleState& st) noexcept;
  void on_recv(HandleState& st, int res, unsigned flags) noexcept;
  bool submit_accept(HandleState& st, Operation& op) noexcept;
  static std::intptr_t with_peer(Operation& op, int fd) noexcept;
  void arm_accept(HandleState& st) noexcept;
  void on_accept(HandleState& st, int res, unsigned flags) noexcept;
  void stop_multishot(HandleState& st, std::uint64_t tag) noexcept;
  void resubmit_waiters(OpList& waiters) noexcept;
  void fail_waiters(OpList& waiters, int error) noexcept;

  io_uring ring_{};
  bool ready_ = false;
  int sqe_error_ = 0;  // why get_sqe() last failed
  sys::Waker waker_;   // closed after ~IoUringBackend has closed the ring
  CompletionQueue& sink_;
  MsgSlots msgs_;

  bool multishot_accept_ = false;
  bool multishot_recv_ = false;
  BufferRing buffers_;  // unmapped after ~IoUringBackend has closed the ring
  HandleTable handles_;
  std::vector<io_uring_cqe> cqes_;  // completions taken from the CQ, being handled
  bool reaping_ = false;
  std::uint64_t pushed_ = 0;  // completions pushed into the sink, ever
};

}  // namespace corio::uring
