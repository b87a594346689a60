// io_uring backend. Every operation becomes one SQE whose user_data is the Operation
// itself; SQEs queued during a loop turn go to the kernel together with the wait for
// completions, in one io_uring_enter per turn. The ring is created SINGLE_ISSUER +
// DEFER_TASKRUN where the kernel has them (6.1+): completion work then runs only when
// the loop asks for events, instead of interrupting it (liburing's advice for one ring
// per thread event loops).
#include "backends/io_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "corio/reactor/faults.hpp"

namespace corio {
namespace {

// user_data values that are not operations (operations are at least 8-aligned).
constexpr std::uint64_t kIgnore = 0;  // the completion of a cancel request
constexpr std::uint64_t kWake = 1;    // the pending read on the wake eventfd

// recvfrom/sendto go through recvmsg/sendmsg, whose msghdr must live until the
// completion: slots come from a free list that only grows, so steady state allocates
// nothing.
struct MsgSlot {
  msghdr msg{};
  iovec iov{};
  MsgSlot* next_free = nullptr;
};

sockaddr* sockaddr_of(SocketAddress* a) noexcept {
  return a != nullptr ? reinterpret_cast<sockaddr*>(a->data) : nullptr;
}

class IoUringBackend final : public Backend {
 public:
  IoUringBackend(int wake_fd, CompletionQueue& sink) noexcept : wake_fd_(wake_fd), sink_(sink) {}
  ~IoUringBackend() override {
    if (ready_) io_uring_queue_exit(&ring_);
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
    arm_wake();
    return 0;
  }

  [[nodiscard]] std::string_view name() const noexcept override { return "io_uring"; }
  [[nodiscard]] Capability capabilities() const noexcept override {
    return Capability::completion_based;
  }

  bool submit(Operation& op) noexcept override {
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
        MsgSlot& s = take_slot(op);
        s.msg.msg_name = op.address->data;
        s.msg.msg_namelen = sizeof op.address->data;
        io_uring_prep_recvmsg(sqe, fd, &s.msg, static_cast<unsigned>(op.flags));
        break;
      }
      case OpCode::sendto: {
        MsgSlot& s = take_slot(op);
        s.msg.msg_name = op.address->data;
        s.msg.msg_namelen = op.address->size;
        io_uring_prep_sendmsg(sqe, fd, &s.msg, static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
        break;
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

  void cancel(Operation& op) noexcept override {
    // The operation keeps its buffer until its own completion arrives (-ECANCELED if
    // this won the race, its real result otherwise): one completion, as promised.
    io_uring_sqe* sqe = get_sqe();
    if (sqe == nullptr) return;  // the operation still completes on its own
    io_uring_prep_cancel(sqe, &op, 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
    // Submitted now, behind the operation itself: a cancel must take effect before
    // whatever the program does next (data sent to the socket a moment later must not
    // be consumed by the operation it just cancelled). Cancels are rare; the syscall
    // is worth that guarantee.
    (void)io_uring_submit(&ring_);
  }

  void release(native_handle /*handle*/) noexcept override {}  // no per-handle state

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
    return reap();
  }

  void wake() noexcept override {
    if (woken_.exchange(true, std::memory_order_acq_rel)) return;
    const std::uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

 private:
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

  MsgSlot& take_slot(Operation& op) {
    MsgSlot* s = free_slots_;
    if (s != nullptr) {
      free_slots_ = s->next_free;
    } else {
      slots_.push_back(std::make_unique<MsgSlot>());
      s = slots_.back().get();
    }
    *s = MsgSlot{};
    s->iov.iov_base = op.buffer;
    s->iov.iov_len = op.length;
    s->msg.msg_iov = &s->iov;
    s->msg.msg_iovlen = 1;
    op.prev = reinterpret_cast<Operation*>(s);  // links are unused while in flight
    return *s;
  }

  void complete(Operation& op, int res) noexcept {
    // A poll reports the events it saw; the contract's readiness waits report 0.
    const bool poll = op.code == OpCode::readable || op.code == OpCode::writable;
    op.result = poll && res > 0 ? 0 : res;
    if (op.code == OpCode::recvfrom || op.code == OpCode::sendto) {
      auto* s = reinterpret_cast<MsgSlot*>(op.prev);
      if (op.code == OpCode::recvfrom && res >= 0) op.address->size = s->msg.msg_namelen;
      s->next_free = free_slots_;
      free_slots_ = s;
    }
    sink_.push(op);
  }

  int reap() noexcept {
    int pushed = 0;
    bool woke = false;
    bool rearm = false;
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const std::uint64_t data = cqe->user_data;
      if (data == kIgnore) continue;
      if (data == kWake) {
        woke = true;
        rearm = rearm || (cqe->flags & IORING_CQE_F_MORE) == 0;
        continue;
      }
      complete(*reinterpret_cast<Operation*>(data), cqe->res);
      ++pushed;
    }
    io_uring_cq_advance(&ring_, seen);
    if (woke) {
      // Drain the counter first, then clear the flag: a racing wake() either saw it set
      // (and its work is picked up by this turn) or writes again after the drain.
      std::uint64_t count = 0;
      while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
      }
      woken_.store(false, std::memory_order_release);
    }
    if (rearm) arm_wake();
    return pushed;
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
  MsgSlot* free_slots_ = nullptr;
  std::vector<std::unique_ptr<MsgSlot>> slots_;
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
