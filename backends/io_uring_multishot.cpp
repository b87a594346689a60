// Multishot recv and accept (the class is in io_uring_backend.hpp). Receives and
// accepts on a connected stream socket or a listener are multishot where the kernel has
// them (6.0+): one armed request per handle delivers every message into a
// provided-buffer ring, so a steady connection costs neither an SQE nor a syscall per
// receive; `recv` then copies from what already arrived and usually completes inline.
// Bytes that arrive while nobody reads wait in the handle's buffers, and a cancelled
// recv loses none of them. Where the kernel refuses a multishot request (EINVAL) the
// handle goes back to single SQEs for good; where the ring runs dry (ENOBUFS) its
// waiters do for that once.
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <utility>

#include "backends/fault_points.hpp"
#include "backends/io_uring_backend.hpp"
#include "corio/os/net.hpp"

namespace corio::uring {
namespace {

// A handle nobody reads stops its multishot recv once it holds this many buffers, so a
// peer that sends without being read cannot take the ring from everybody else; the
// rest waits in the socket (TCP flow control) until the program reads again.
constexpr unsigned kMaxHeldBuffers = 16;
// Likewise a listener stops accepting ahead of the program after this many.
constexpr std::size_t kMaxQueuedAccepts = 64;

}  // namespace

// Whether `st`'s fd is a stream socket, asked once per handle.
bool IoUringBackend::stream_socket(HandleState& st) noexcept {
  if (st.kind == SocketKind::unknown)
    st.kind = net::is_stream(st.fd) ? SocketKind::stream : SocketKind::other;
  return st.kind == SocketKind::stream;
}

// The state a recv or readable wait goes through, or nullptr for a single SQE: only
// stream sockets (a datagram could be longer than a buffer), and a zero-length recv
// keeps the kernel's meaning.
HandleState* IoUringBackend::data_state(const Operation& op) noexcept {
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

HandleState* IoUringBackend::accept_state(const Operation& op) noexcept {
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

bool IoUringBackend::submit_data(HandleState& st, Operation& op) noexcept {
  if (serve_one(st, op)) return true;
  op.backend_state = kWaitingData;
  st.data_waiters.push_back(op);
  if (!in_kernel(st.recv)) arm_recv(st);
  return false;
}

// Answers `op` from what the handle already has; false if it must wait.
bool IoUringBackend::serve_one(HandleState& st, Operation& op) noexcept {
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

void IoUringBackend::arm_recv(HandleState& st) noexcept {
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

void IoUringBackend::on_recv(HandleState& st, int res, unsigned flags) noexcept {
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
  } else if (res < 0 && res != -ENOBUFS && !ends_our_stop(st.recv, res)) {
    st.recv_error = res;
  }
  if (!more) st.recv = refused ? Multishot::refused : Multishot::idle;
  if (st.life != Life::live) {
    if (!st.armed()) handles_.put_back(st);
    return;
  }
  while (!st.data_waiters.empty()) {
    Operation& op = *st.data_waiters.front();
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

bool IoUringBackend::submit_accept(HandleState& st, Operation& op) noexcept {
  if (st.queued_accepts() > 0) {
    op.result = with_peer(op, st.pop_accepted());
    return true;
  }
  if (st.accept_error != 0) {
    op.result = std::exchange(st.accept_error, 0);
    return true;
  }
  op.backend_state = kWaitingAccept;
  st.accept_waiters.push_back(op);
  if (!in_kernel(st.accept)) arm_accept(st);
  return false;
}

// The accepted handle `fd` for `op`, with the peer's address if it asked. (No state
// is made for it here: a program may hand the new socket to another loop.)
std::intptr_t IoUringBackend::with_peer(Operation& op, int fd) noexcept {
  if (op.address != nullptr) {
    socklen_t len = sizeof op.address->data;
    if (::getpeername(fd, sockaddr_of(op.address), &len) < 0) len = 0;
    op.address->size = len;
  }
  return fd;
}

void IoUringBackend::arm_accept(HandleState& st) noexcept {
  io_uring_sqe* sqe = get_sqe();
  if (sqe == nullptr) {
    fail_waiters(st.accept_waiters, sqe_error_);
    return;
  }
  io_uring_prep_multishot_accept(sqe, st.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uint64_t>(&st) | kAcceptTag);
  st.accept = Multishot::armed;
}

void IoUringBackend::on_accept(HandleState& st, int res, unsigned flags) noexcept {
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  // Asked before the state moves on: a final completion ends `stopping`, and asking
  // afterwards would take the -ECANCELED of our own stop at the cap for the listener's
  // error (the next accept's result, or its sticky error).
  const bool our_stop = ends_our_stop(st.accept, res);
  if (!more) st.accept = Multishot::idle;
  if (st.life != Life::live) {
    if (res >= 0) ::close(res);  // the listener is gone; so is this connection
    if (!st.armed()) handles_.put_back(st);
    return;
  }
  if (res >= 0) {
    if (!st.accept_waiters.empty()) {
      Operation& op = *st.accept_waiters.front();
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
  } else if (!our_stop) {
    if (!st.accept_waiters.empty()) {
      Operation& op = *st.accept_waiters.front();
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

// The cancel names the request by user_data, which a request armed again later on the
// same handle (or on a state reused from the pool) shares. It can never hit that one:
// nothing is armed again before the old request's final completion has been seen, and
// the kernel takes SQEs in order and looks a cancel's target up as it takes it, so this
// cancel is either done by then or ahead of the new request in the SQ.
void IoUringBackend::stop_multishot(HandleState& st, std::uint64_t tag) noexcept {
  io_uring_sqe* sqe = get_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&st) | tag, 0);
  io_uring_sqe_set_data64(sqe, kIgnore);
  (tag == kRecvTag ? st.recv : st.accept) = Multishot::stopping;
}

void IoUringBackend::resubmit_waiters(OpList& waiters) noexcept {
  while (!waiters.empty()) {
    Operation& op = *waiters.front();
    waiters.remove(op);
    op.backend_state = kInRing;
    if (submit_single(op)) push(op);
  }
}

void IoUringBackend::fail_waiters(OpList& waiters, int error) noexcept {
  while (!waiters.empty()) {
    Operation& op = *waiters.front();
    waiters.remove(op);
    finish(op, error);
  }
}

}  // namespace corio::uring
