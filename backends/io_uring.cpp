// io_uring backend. Every operation becomes one SQE whose user_data is the Operation
// itself; SQEs queued during a loop turn go to the kernel together with the wait for
// completions, in one io_uring_enter per turn. The ring is created SINGLE_ISSUER +
// DEFER_TASKRUN where the kernel has them (6.1+): completion work then runs only when
// the loop asks for events, instead of interrupting it (liburing's advice for one ring
// per thread event loops).
//
// Receives and accepts on a connected stream socket or a listener are multishot where
// the kernel has them (6.0+): one armed request per handle delivers every message into
// a provided-buffer ring, so a steady connection costs neither an SQE nor a syscall per
// receive; `recv` then copies from what already arrived and usually completes inline.
// Bytes that arrive while nobody reads wait in the handle's buffers, and a cancelled
// recv loses none of them.
#include "backends/io_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "backends/io_uring_buffers.hpp"
#include "backends/io_uring_handles.hpp"
#include "backends/io_uring_msg.hpp"
#include "corio/reactor/faults.hpp"
#include "corio/reactor/net.hpp"

namespace corio {
namespace {

// user_data values. Operations, handle states and msghdr slots are at least 8-aligned,
// so the low three bits tell what a completion belongs to.
constexpr std::uint64_t kIgnore = 0;     // the completion of a cancel request
constexpr std::uint64_t kWake = 1;       // the pending poll on the wake eventfd
constexpr std::uint64_t kRecvTag = 2;    // HandleState* | 2: its multishot recv
constexpr std::uint64_t kAcceptTag = 3;  // HandleState* | 3: its multishot accept
constexpr std::uint64_t kMsgTag = 4;     // MsgSlot* | 4: a recvfrom or sendto
constexpr std::uint64_t kTagMask = 7;
static_assert(alignof(Operation) >= 8 && alignof(uring::HandleState) >= 8 &&
              alignof(uring::MsgSlot) >= 8);

// Operation::backend_state while the operation waits on a handle instead of an SQE.
constexpr std::uint8_t kInRing = 0;
constexpr std::uint8_t kWaitingData = 1;    // recv or readable, served from the buffers
constexpr std::uint8_t kWaitingAccept = 2;  // served by the multishot accept

using uring::BufferRing;
using uring::HeldBuffers;
using uring::kNoBuf;

// A handle nobody reads stops its multishot recv once it holds this many buffers, so a
// peer that sends without being read cannot take the ring from everybody else; the
// rest waits in the socket (TCP flow control) until the program reads again.
constexpr unsigned kMaxHeldBuffers = 16;
// Likewise a listener stops accepting ahead of the program after this many.
constexpr std::size_t kMaxQueuedAccepts = 64;

using uring::HandleState;
using uring::HandleTable;
using uring::in_kernel;
using uring::Life;
using uring::MsgSlot;
using uring::MsgSlots;
using uring::Multishot;
using uring::OpList;
using uring::Peer;
using uring::SocketKind;

sockaddr* sockaddr_of(SocketAddress* a) noexcept {
  return a != nullptr ? reinterpret_cast<sockaddr*>(a->data) : nullptr;
}

class IoUringBackend final : public Backend {
 public:
  IoUringBackend(int wake_fd, CompletionQueue& sink) noexcept : wake_fd_(wake_fd), sink_(sink) {}
  ~IoUringBackend() override {
    if (ready_) io_uring_queue_exit(&ring_);  // also ends every armed multishot request
    ::close(wake_fd_);
  }
  IoUringBackend(const IoUringBackend&) = delete;
  IoUringBackend& operator=(const IoUringBackend&) = delete;

  int init(unsigned depth) noexcept {
    io_uring_params p{};
    // A CQ four times the SQ absorbs bursts; overflow beyond it is kept by the kernel
    // (IORING_FEAT_NODROP) and flushed when we next enter.
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
              IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = depth * 4;
    int rc = io_uring_queue_init_params(depth, &ring_, &p);
    if (rc == -EINVAL) {  // a kernel older than 6.1: plain ring
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = depth * 4;
      rc = io_uring_queue_init_params(depth, &ring_, &p);
    }
    if (rc < 0) return rc;
    ready_ = true;
    // A registered ring fd saves the kernel an fd lookup on every io_uring_enter (5.18+;
    // harmless to lack).
    (void)io_uring_register_ring_fd(&ring_);
    probe_multishot();
    arm_wake();
    return 0;
  }

  [[nodiscard]] std::string_view name() const noexcept override { return "io_uring"; }
  [[nodiscard]] Capability capabilities() const noexcept override {
    Capability c = Capability::completion_based;
    if (multishot_accept_) c = c | Capability::multishot_accept;
    if (multishot_recv_) c = c | Capability::multishot_recv;
    return c;
  }

  bool submit(Operation& op) noexcept override {
    op.backend_state = kInRing;
    if (const std::intptr_t injected = faults::failure(op)) {
      op.result = injected;
      return true;
    }
    switch (op.code) {
      case OpCode::recv:
      case OpCode::readable:
        if (HandleState* st = data_state(op)) return submit_data(*st, op);
        break;
      case OpCode::accept:
        if (HandleState* st = accept_state(op)) return submit_accept(*st, op);
        break;
      default:
        break;
    }
    return submit_single(op);
  }

  void cancel(Operation& op) noexcept override {
    if (op.backend_state != kInRing) {
      // Waiting on a handle, not in the kernel: it ends here, and whatever arrives
      // later stays buffered for the next recv.
      HandleState& st = *handles_.find(op.handle);
      (op.backend_state == kWaitingData ? st.data_waiters : st.accept_waiters).remove(op);
      finish(op, -ECANCELED);
      return;
    }
    std::uint64_t target = reinterpret_cast<std::uint64_t>(&op);
    if (op.code == OpCode::recvfrom || op.code == OpCode::sendto) {
      MsgSlot* s = msgs_.find(op);
      if (s == nullptr) return;  // completed already: nothing in the kernel to cancel
      target = msg_data(*s);
    }
    // The operation keeps its buffer until its own completion arrives (-ECANCELED if
    // this won the race, its real result otherwise): one completion, as promised.
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;  // the operation still completes on its own
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
    // Submitted now, behind the operation itself: a cancel must take effect before
    // whatever the program does next (data sent to the socket a moment later must not
    // be consumed by the operation it just cancelled). Cancels are rare; the syscall
    // is worth that guarantee.
    (void)io_uring_submit(&ring_);
  }

  void release(native_handle handle) noexcept override {
    HandleState* st = handles_.find(handle);
    if (st == nullptr) return;
    handles_.unlink(*st);
    buffers_.drop(st->buffers);
    st->close_accepted();
    if (!st->armed()) {
      handles_.put_back(*st);
      return;
    }
    // An armed request holds the socket open in the kernel: cancel it now so that the
    // close that follows really closes; its final completion frees the state.
    if (in_kernel(st->recv)) stop_multishot(*st, kRecvTag);
    if (in_kernel(st->accept)) stop_multishot(*st, kAcceptTag);
    (void)io_uring_submit_and_get_events(&ring_);
  }

  int wait(std::chrono::nanoseconds timeout) noexcept override {
    int rc;
    if (timeout == std::chrono::nanoseconds::zero()) {
      rc = io_uring_submit_and_get_events(&ring_);
    } else if (timeout < std::chrono::nanoseconds::zero()) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = static_cast<long long>(timeout.count() / 1'000'000'000);
      ts.tv_nsec = static_cast<long long>(timeout.count() % 1'000'000'000);
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) return rc;
    // A blocking wait that brought no completion at all was interrupted or timed out,
    // and the kernel may report the SQEs it submitted rather than EINTR or ETIME: say
    // -EINTR so that the reactor waits again for whatever is left of the timeout.
    const bool interrupted = timeout != std::chrono::nanoseconds::zero() && rc != -ETIME &&
                             io_uring_cq_ready(&ring_) == 0;
    const int reaped = reap();
    return interrupted ? -EINTR : reaped;
  }

  void wake() noexcept override {
    if (woken_.exchange(true, std::memory_order_acq_rel)) return;
    const std::uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

 private:
  // ---- single-shot operations: one SQE each ----

  bool submit_single(Operation& op) noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) {
      op.result = sqe_error_;  // finished at once, with the ring's error
      return true;
    }
    const int fd = static_cast<int>(op.handle);
    switch (op.code) {
      case OpCode::accept:
        if (op.address != nullptr) {
          op.address->size = sizeof op.address->data;
          io_uring_prep_accept(sqe, fd, sockaddr_of(op.address),
                               reinterpret_cast<socklen_t*>(&op.address->size),
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
        } else {
          io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        }
        break;
      case OpCode::connect:
        io_uring_prep_connect(sqe, fd, sockaddr_of(op.address), op.address->size);
        break;
      case OpCode::recv:
        io_uring_prep_recv(sqe, fd, op.buffer, faults::io_length(op), op.flags);
        break;
      case OpCode::send:
        // MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the process.
        io_uring_prep_send(sqe, fd, op.buffer, faults::io_length(op), op.flags | MSG_NOSIGNAL);
        break;
      case OpCode::recvfrom: {
        MsgSlot& s = msgs_.take(op);
        io_uring_prep_recvmsg(sqe, fd, &s.msg, static_cast<unsigned>(op.flags));
        io_uring_sqe_set_data64(sqe, msg_data(s));
        return false;
      }
      case OpCode::sendto: {
        MsgSlot& s = msgs_.take(op);
        io_uring_prep_sendmsg(sqe, fd, &s.msg, static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
        io_uring_sqe_set_data64(sqe, msg_data(s));
        return false;
      }
      case OpCode::readable:
        io_uring_prep_poll_add(sqe, fd, POLLIN);
        break;
      case OpCode::writable:
        io_uring_prep_poll_add(sqe, fd, POLLOUT);
        break;
    }
    io_uring_sqe_set_data(sqe, &op);
    return false;
  }

  // An SQE, flushing the SQ to the kernel when it is full; never drops a request.
  // nullptr only when the ring itself fails (the error is in `sqe_error_`): then
  // retrying could spin forever.
  io_uring_sqe* get_sqe() noexcept {
    for (;;) {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
      const int rc = io_uring_submit(&ring_);
      if (rc == -EBUSY || rc == -EAGAIN) {
        // The kernel holds completions we have not reaped (CQ overflow): take them
        // into the sink, which frees it to accept more.
        reap();
        (void)io_uring_get_events(&ring_);
      } else if (rc < 0 && rc != -EINTR) {
        sqe_error_ = rc;
        return nullptr;
      }
    }
  }

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

  void complete(Operation& op, int res) noexcept {
    // A poll reports the events it saw; the contract's readiness waits report 0.
    const bool poll = op.code == OpCode::readable || op.code == OpCode::writable;
    op.result = poll && res > 0 ? 0 : res;
    push(op);
  }

  // ---- per-handle state ----

  // Whether `st`'s fd is a stream socket, asked once per handle.
  static bool stream_socket(HandleState& st) noexcept {
    if (st.kind == SocketKind::unknown)
      st.kind = net::is_stream(st.fd) ? SocketKind::stream : SocketKind::other;
    return st.kind == SocketKind::stream;
  }

  // The state a recv or readable wait goes through, or nullptr for a single SQE: only
  // stream sockets (a datagram could be longer than a buffer), and a zero-length recv
  // keeps the kernel's meaning.
  HandleState* data_state(const Operation& op) noexcept {
    if (!multishot_recv_) return nullptr;
    HandleState* st = handles_.find(op.handle);
    if (st == nullptr) {
      if (op.code != OpCode::recv || op.flags != 0 || op.length == 0) return nullptr;
      st = handles_.get(op.handle);
      if (st == nullptr) return nullptr;
    }
    if (!stream_socket(*st) || (st->recv == Multishot::refused && !st->has_data())) return nullptr;
    // Once data flows through the buffers every receive must, or bytes would overtake
    // each other; only MSG_PEEK among the flags keeps its meaning there.
    if (op.code == OpCode::recv && op.length == 0 && !in_kernel(st->recv) && !st->has_data())
      return nullptr;
    if (op.code == OpCode::readable && !in_kernel(st->recv) && !st->has_data() &&
        st->peer == Peer::open)
      return nullptr;
    return st;
  }

  HandleState* accept_state(const Operation& op) noexcept {
    if (!multishot_accept_) return nullptr;
    HandleState* st = handles_.find(op.handle);
    // A caller that wants the peer's address gets it from a single accept (a multishot
    // accept has one address slot for all); once connections queue here, it reads the
    // address of the one it takes with getpeername.
    if (st == nullptr && op.address != nullptr) return nullptr;
    if (st == nullptr) st = handles_.get(op.handle);
    if (st == nullptr) return nullptr;
    if (!stream_socket(*st) || (st->accept == Multishot::refused && st->queued_accepts() == 0))
      return nullptr;
    return st;
  }

  // ---- multishot recv ----

  bool submit_data(HandleState& st, Operation& op) noexcept {
    if (serve_one(st, op)) return true;
    op.backend_state = kWaitingData;
    st.data_waiters.push(op);
    if (!in_kernel(st.recv)) arm_recv(st);
    return false;
  }

  // Answers `op` from what the handle already has; false if it must wait.
  bool serve_one(HandleState& st, Operation& op) noexcept {
    if (st.has_data()) {
      op.result = op.code == OpCode::readable
                      ? 0
                      : static_cast<std::intptr_t>(
                            buffers_.copy_out(st.buffers, static_cast<std::byte*>(op.buffer),
                                              faults::io_length(op), (op.flags & MSG_PEEK) == 0));
    } else if (st.recv_error != 0) {
      op.result = op.code == OpCode::readable ? 0 : std::exchange(st.recv_error, 0);
    } else if (st.peer == Peer::closed) {
      op.result = 0;
    } else {
      return false;
    }
    return true;
  }

  void arm_recv(HandleState& st) noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) {
      fail_waiters(st.data_waiters, sqe_error_);
      return;
    }
    io_uring_prep_recv_multishot(sqe, st.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BufferRing::kGroup;
    io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uint64_t>(&st) | kRecvTag);
    st.recv = Multishot::armed;
  }

  void on_recv(HandleState& st, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    bool refused = false;
    if (res > 0 && (flags & IORING_CQE_F_BUFFER) != 0) {
      const auto b = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      if (st.life != Life::live) {
        buffers_.recycle(b);  // released: nobody will read it
      } else {
        buffers_.hold(st.buffers, b, static_cast<std::uint32_t>(res));
      }
    } else if (res == 0) {
      st.peer = Peer::closed;
    } else if (res == -EINVAL && !more && !st.has_data()) {
      // A kernel before 6.0 (or a socket that refuses it): plain recvs give the
      // waiters their real answer, and this handle stays with them.
      refused = true;
    } else if (res < 0 && res != -ENOBUFS &&
               !(res == -ECANCELED && st.recv == Multishot::stopping)) {
      st.recv_error = res;
    }
    if (!more) st.recv = refused ? Multishot::refused : Multishot::idle;
    if (st.life != Life::live) {
      if (!st.armed()) handles_.put_back(st);
      return;
    }
    while (!st.data_waiters.empty()) {
      Operation& op = *st.data_waiters.head;
      if (!serve_one(st, op)) break;
      st.data_waiters.remove(op);
      op.backend_state = kInRing;
      push(op);
    }
    if (!in_kernel(st.recv) && !st.data_waiters.empty()) {
      // Out of buffers (every one is parked on some handle) or no multishot here: the
      // waiters go to the kernel with their own buffers, so they still make progress.
      if (res == -ENOBUFS || st.recv == Multishot::refused) {
        resubmit_waiters(st.data_waiters);
      } else {
        arm_recv(st);
      }
    } else if (st.recv == Multishot::armed && st.data_waiters.empty() &&
               st.buffers.count >= kMaxHeldBuffers) {
      stop_multishot(st, kRecvTag);
    }
  }

  // ---- multishot accept ----

  bool submit_accept(HandleState& st, Operation& op) noexcept {
    if (st.queued_accepts() > 0) {
      op.result = with_peer(op, st.pop_accepted());
      return true;
    }
    if (st.accept_error != 0) {
      op.result = std::exchange(st.accept_error, 0);
      return true;
    }
    op.backend_state = kWaitingAccept;
    st.accept_waiters.push(op);
    if (!in_kernel(st.accept)) arm_accept(st);
    return false;
  }

  // The accepted handle `fd` for `op`, with the peer's address if it asked. (No state
  // is made for it here: a program may hand the new socket to another loop.)
  static std::intptr_t with_peer(Operation& op, int fd) noexcept {
    if (op.address != nullptr) {
      socklen_t len = sizeof op.address->data;
      if (::getpeername(fd, sockaddr_of(op.address), &len) < 0) len = 0;
      op.address->size = len;
    }
    return fd;
  }

  void arm_accept(HandleState& st) noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) {
      fail_waiters(st.accept_waiters, sqe_error_);
      return;
    }
    io_uring_prep_multishot_accept(sqe, st.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uint64_t>(&st) | kAcceptTag);
    st.accept = Multishot::armed;
  }

  void on_accept(HandleState& st, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) st.accept = Multishot::idle;
    if (st.life != Life::live) {
      if (res >= 0) ::close(res);  // the listener is gone; so is this connection
      if (!st.armed()) handles_.put_back(st);
      return;
    }
    if (res >= 0) {
      if (!st.accept_waiters.empty()) {
        Operation& op = *st.accept_waiters.head;
        st.accept_waiters.remove(op);
        finish(op, with_peer(op, res));
      } else {
        try {
          st.accepted.push_back(res);
        } catch (const std::bad_alloc&) {
          ::close(res);  // as if the backlog had been full
        }
        if (st.accept == Multishot::armed && st.queued_accepts() >= kMaxQueuedAccepts)
          stop_multishot(st, kAcceptTag);
      }
    } else if (res == -EINVAL && !more && st.queued_accepts() == 0) {
      st.accept = Multishot::refused;  // as for recv: a kernel before 5.19, or not listening
    } else if (!(res == -ECANCELED && st.accept == Multishot::stopping)) {
      if (!st.accept_waiters.empty()) {
        Operation& op = *st.accept_waiters.head;
        st.accept_waiters.remove(op);
        finish(op, res);
      } else {
        st.accept_error = res;
      }
    }
    if (!in_kernel(st.accept) && !st.accept_waiters.empty()) {
      if (st.accept == Multishot::refused) {
        resubmit_waiters(st.accept_waiters);
      } else {
        arm_accept(st);
      }
    }
  }

  // ---- shared by both ----

  void stop_multishot(HandleState& st, std::uint64_t tag) noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&st) | tag, 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
    (tag == kRecvTag ? st.recv : st.accept) = Multishot::stopping;
  }

  void resubmit_waiters(OpList& waiters) noexcept {
    while (!waiters.empty()) {
      Operation& op = *waiters.head;
      waiters.remove(op);
      op.backend_state = kInRing;
      if (submit_single(op)) push(op);
    }
  }

  void fail_waiters(OpList& waiters, int error) noexcept {
    while (!waiters.empty()) {
      Operation& op = *waiters.head;
      waiters.remove(op);
      finish(op, error);
    }
  }

  // Multishot accept is assumed: every kernel with these ring flags has accept, and one
  // too old for its multishot form says EINVAL once per handle (on_accept), so no opcode
  // probe is needed. Multishot recv needs the provided-buffer ring (5.19+); likewise a
  // kernel before 6.0 refuses it once per handle (on_recv).
  void probe_multishot() noexcept {
    multishot_accept_ = true;
    multishot_recv_ = buffers_.open(ring_);
  }

  // ---- completions ----

  // Takes every completion into `cqes_` and frees the CQ. Handling one may queue SQEs,
  // and get_sqe() reaps when the SQ is full: a nested call only collects, and the outer
  // loop handles what it collected.
  int reap() noexcept {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      try {
        cqes_.push_back(*cqe);
      } catch (const std::bad_alloc&) {
        break;  // the rest stays in the CQ for the next turn
      }
    }
    io_uring_cq_advance(&ring_, seen);
    if (reaping_) return 0;
    reaping_ = true;
    const std::uint64_t pushed_before = pushed_;
    bool woke = false;
    bool rearm = false;
    for (std::size_t i = 0; i < cqes_.size(); ++i) {
      const io_uring_cqe c = cqes_[i];
      const std::uint64_t data = c.user_data;
      if (data == kIgnore) continue;
      if (data == kWake) {
        woke = true;
        rearm = rearm || (c.flags & IORING_CQE_F_MORE) == 0;
        continue;
      }
      auto* st = reinterpret_cast<HandleState*>(data & ~kTagMask);
      switch (data & kTagMask) {
        case kRecvTag:
          on_recv(*st, c.res, c.flags);
          break;
        case kAcceptTag:
          on_accept(*st, c.res, c.flags);
          break;
        case kMsgTag:
          complete(msgs_.finish(*reinterpret_cast<MsgSlot*>(data & ~kTagMask), c.res), c.res);
          break;
        default:
          complete(*reinterpret_cast<Operation*>(data), c.res);
      }
    }
    cqes_.clear();
    reaping_ = false;
    if (woke) {
      // Drain the counter first, then clear the flag: a racing wake() either saw it set
      // (and its work is picked up by this turn) or writes again after the drain.
      std::uint64_t count = 0;
      while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
      }
      woken_.store(false, std::memory_order_release);
    }
    if (rearm) arm_wake();
    return static_cast<int>(pushed_ - pushed_before);
  }

  // A multishot poll rather than a read of the eventfd: the read completes through the
  // kernel's deferred task work and measured 3x slower for a cross-thread wake-up
  // (corio-bench wake); draining the counter ourselves costs one read per wake.
  void arm_wake() noexcept {
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;
    io_uring_prep_poll_multishot(sqe, wake_fd_, POLLIN);
    io_uring_sqe_set_data64(sqe, kWake);
  }

  io_uring ring_{};
  bool ready_ = false;
  int sqe_error_ = 0;  // why get_sqe() last failed
  int wake_fd_;
  CompletionQueue& sink_;
  std::atomic<bool> woken_{false};
  MsgSlots msgs_;

  bool multishot_accept_ = false;
  bool multishot_recv_ = false;
  BufferRing buffers_;  // unmapped after ~IoUringBackend has closed the ring
  HandleTable handles_;
  std::vector<io_uring_cqe> cqes_;  // completions taken from the CQ, being handled
  bool reaping_ = false;
  std::uint64_t pushed_ = 0;  // completions pushed into the sink, ever
};

}  // namespace

std::unique_ptr<Backend> open_io_uring_backend(const BackendOptions& options, CompletionQueue& sink,
                                               std::error_code& ec) {
  ec.clear();
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    ec.assign(errno, std::system_category());
    return nullptr;
  }
  std::unique_ptr<IoUringBackend> backend(new (std::nothrow) IoUringBackend(wake_fd, sink));
  if (!backend) {
    ::close(wake_fd);
    ec = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
  const unsigned depth = options.queue_depth < 2 ? 2 : options.queue_depth;
  if (int rc = backend->init(depth); rc < 0) {
    ec.assign(-rc, std::system_category());
    return nullptr;
  }
  return backend;
}

}  // namespace corio
