// io_uring backend: set-up, the Backend calls, single-shot operations and completions
// (the class is in io_uring_backend.hpp; multishot recv and accept in
// io_uring_multishot.cpp). Every operation becomes one SQE whose user_data names it
// (the Operation itself; for recvfrom and sendto, its msghdr slot); SQEs queued during
// a loop turn go to the kernel together with the wait for completions, in one
// io_uring_enter per turn. The ring is created SINGLE_ISSUER + DEFER_TASKRUN where the
// kernel has them (6.1+): completion work then runs only when the loop asks for events,
// instead of interrupting it (liburing's advice for one ring per thread event loops).
#include "backends/io_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <memory>
#include <new>

#include "backends/fault_points.hpp"
#include "backends/io_uring_backend.hpp"
#include "os/nb_io.hpp"
#include "os/timespec.hpp"

namespace corio {
namespace uring {
namespace {

constexpr std::uint64_t kCurrentPosition = static_cast<std::uint64_t>(-1);

// IoSlice is struct iovec's twin (os/nb_io_posix.cpp asserts the layout).
const iovec* iovecs(const Operation& op) noexcept {
  return static_cast<const iovec*>(op.buffer);
}
// The kernel refuses more than IOV_MAX slices; the rest waits for the next call, as a
// short read or write.
unsigned slice_count(const Operation& op) noexcept {
  return static_cast<unsigned>(std::min<std::size_t>(op.length, IOV_MAX));
}

}  // namespace

IoUringBackend::~IoUringBackend() {
  if (ready_) io_uring_queue_exit(&ring_);  // also ends every armed multishot request
}

int IoUringBackend::init(unsigned depth) noexcept {
  std::error_code ec;
  waker_.open(ec);
  if (ec) return -ec.value();
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

bool IoUringBackend::submit(Operation& op) noexcept {
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

void IoUringBackend::cancel(Operation& op) noexcept {
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

void IoUringBackend::release(native_handle handle) noexcept {
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

int IoUringBackend::wait(std::chrono::nanoseconds timeout) noexcept {
  int rc;
  if (timeout == std::chrono::nanoseconds::zero()) {
    rc = io_uring_submit_and_get_events(&ring_);
  } else if (timeout < std::chrono::nanoseconds::zero()) {
    rc = io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec ts = sys::to_timespec<__kernel_timespec>(timeout);
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) return rc;
  // A blocking wait that brought no completion at all was interrupted or timed out,
  // and the kernel may report the SQEs it submitted rather than EINTR or ETIME: say
  // -EINTR so that the reactor waits again for whatever is left of the timeout.
  const bool interrupted =
      timeout != std::chrono::nanoseconds::zero() && rc != -ETIME && io_uring_cq_ready(&ring_) == 0;
  const int reaped = reap();
  return interrupted ? -EINTR : reaped;
}

void IoUringBackend::wake() noexcept {
  waker_.wake();
}

// Multishot accept is assumed: every kernel with these ring flags has accept, and one
// too old for its multishot form says EINVAL once per handle (on_accept), so no opcode
// probe is needed. Multishot recv needs the provided-buffer ring (5.19+); likewise a
// kernel before 6.0 refuses it once per handle (on_recv).
void IoUringBackend::probe_multishot() noexcept {
  multishot_accept_ = true;
  multishot_recv_ = buffers_.open(ring_);
}

bool IoUringBackend::submit_single(Operation& op) noexcept {
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
    // Offset -1: the descriptor's current position (Linux 5.6+), which is what read(2)
    // and write(2) use, and the only offset a pipe or a TTY accepts.
    case OpCode::read:
      io_uring_prep_read(sqe, fd, op.buffer, static_cast<unsigned>(op.length), kCurrentPosition);
      break;
    case OpCode::write:
      sys::ignore_sigpipe_once();  // a pipe_write in the kernel raises SIGPIPE as well
      io_uring_prep_write(sqe, fd, op.buffer, static_cast<unsigned>(op.length), kCurrentPosition);
      break;
    case OpCode::readv:
      io_uring_prep_readv(sqe, fd, iovecs(op), slice_count(op), kCurrentPosition);
      break;
    case OpCode::writev:
      sys::ignore_sigpipe_once();
      io_uring_prep_writev(sqe, fd, iovecs(op), slice_count(op), kCurrentPosition);
      break;
  }
  io_uring_sqe_set_data(sqe, &op);
  return false;
}

// An SQE, flushing the SQ to the kernel when it is full; never drops a request.
// nullptr only when the ring itself fails (the error is in `sqe_error_`): then
// retrying could spin forever.
io_uring_sqe* IoUringBackend::get_sqe() noexcept {
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

void IoUringBackend::complete(Operation& op, int res) noexcept {
  // A poll reports the events it saw; the contract's readiness waits report 0.
  const bool poll = op.code == OpCode::readable || op.code == OpCode::writable;
  op.result = poll && res > 0 ? 0 : res;
  push(op);
}

// Takes every completion into `cqes_` and frees the CQ. Handling one may queue SQEs,
// and get_sqe() reaps when the SQ is full: a nested call only collects, and the outer
// loop handles what it collected.
int IoUringBackend::reap() noexcept {
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
  if (woke) waker_.drain();
  if (rearm) arm_wake();
  return static_cast<int>(pushed_ - pushed_before);
}

// A multishot poll rather than a read of the waker's eventfd: the read completes through
// the kernel's deferred task work and measured 3x slower for a cross-thread wake-up
// (corio-bench wake); draining the counter ourselves costs one read per wake.
void IoUringBackend::arm_wake() noexcept {
  io_uring_sqe* sqe = get_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_poll_multishot(sqe, waker_.fd(), POLLIN);
  io_uring_sqe_set_data64(sqe, kWake);
}

}  // namespace uring

std::unique_ptr<Backend> open_io_uring_backend(const BackendOptions& options, CompletionQueue& sink,
                                               std::error_code& ec) {
  ec.clear();
  std::unique_ptr<uring::IoUringBackend> backend(new (std::nothrow) uring::IoUringBackend(sink));
  if (!backend) {
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
