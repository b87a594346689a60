#include "backends/readiness.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "corio/reactor/faults.hpp"
#include "corio/reactor/net.hpp"
#include "reactor/posix_fd.hpp"

namespace corio::readiness {
namespace {

// Connect's phases, kept in Operation::backend_state.
enum ConnectPhase : std::uint8_t { connect_start = 0, connect_in_progress = 1 };
// A recv/send that asked the kernel for less than op.length (an injected short
// read/write): its result proves nothing about the socket being drained or full.
constexpr std::uint8_t asked_less = 2;

int fd_of(const Operation& op) noexcept {
  return static_cast<int>(op.handle);
}

// Calls `call` until it is not interrupted by a signal, and folds the result into
// ">= 0 or -errno" with EWOULDBLOCK spelled as EAGAIN (they differ on some systems).
template <class Call>
std::intptr_t retry(const Operation& op, Call call) noexcept {
  for (;;) {
    // An injected EINTR stands for a signal that arrived before the call did anything.
    if (faults::hit(faults::Kind::eintr, op.handle)) continue;
    const auto r = call();
    if (r >= 0) return static_cast<std::intptr_t>(r);
    if (errno == EINTR) continue;
    return (errno == EWOULDBLOCK) ? -EAGAIN : -errno;
  }
}

sockaddr* sockaddr_of(SocketAddress* a) noexcept {
  return a != nullptr ? reinterpret_cast<sockaddr*>(a->data) : nullptr;
}

std::intptr_t perform_connect(Operation& op) noexcept {
  const int fd = fd_of(op);
  if (op.backend_state == connect_start) {
    if (op.address == nullptr) return -EINVAL;
    if (::connect(fd, sockaddr_of(op.address), op.address->size) == 0) return 0;
    switch (errno) {
      case EINPROGRESS:
      // connect(2): an interrupted connect carries on asynchronously, like EINPROGRESS;
      // calling it again would only report EALREADY.
      case EINTR:
        op.backend_state = connect_in_progress;
        return -EAGAIN;
      case EAGAIN:
        // unix(7): a non-blocking AF_UNIX connect fails with EAGAIN when the listener's
        // backlog is full. No readiness event announces free room (the unconnected
        // socket is always writable), so waiting could only spin; report a refusal.
        return -ECONNREFUSED;
      default:
        return -errno;
    }
  }
  // The socket became writable (or failed): connect(2) says read SO_ERROR now.
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0) return -errno;
  return error == 0 ? 0 : -error;
}

// Readiness waits cannot be "tried" by reading or writing, so ask poll() without
// blocking; POLLNVAL means the fd was closed under us.
std::intptr_t poll_once(const Operation& op, short events) noexcept {
  pollfd p{fd_of(op), events, 0};
  const std::intptr_t r = retry(op, [&] { return ::poll(&p, 1, 0); });
  if (r < 0) return r;
  if (r == 0) return -EAGAIN;
  return (p.revents & POLLNVAL) != 0 ? -EBADF : 0;
}

}  // namespace

std::intptr_t perform(Operation& op) noexcept {
  if (const std::intptr_t injected = faults::failure(op)) return injected;
  const int fd = fd_of(op);
  switch (op.code) {
    case OpCode::accept: {
      auto len = static_cast<socklen_t>(sizeof op.address->data);
      const std::intptr_t r = retry(op, [&] {
        return posix::accept_socket(fd, sockaddr_of(op.address),
                                    op.address != nullptr ? &len : nullptr);
      });
      if (r >= 0 && op.address != nullptr) {
        op.address->size = std::min<std::uint32_t>(len, sizeof op.address->data);
      }
      return r;
    }
    case OpCode::connect:
      return perform_connect(op);
    case OpCode::recv: {
      const std::size_t len = faults::io_length(op);
      op.backend_state = len < op.length ? asked_less : 0;
      return retry(op, [&] { return ::recv(fd, op.buffer, len, op.flags); });
    }
    case OpCode::send: {
      const std::size_t len = faults::io_length(op);
      op.backend_state = len < op.length ? asked_less : 0;
      // MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the process.
      return retry(op, [&] { return ::send(fd, op.buffer, len, op.flags | MSG_NOSIGNAL); });
    }
    case OpCode::recvfrom: {
      auto len = static_cast<socklen_t>(sizeof op.address->data);
      const std::intptr_t r = retry(op, [&] {
        return ::recvfrom(fd, op.buffer, op.length, op.flags, sockaddr_of(op.address),
                          op.address != nullptr ? &len : nullptr);
      });
      if (r >= 0 && op.address != nullptr) {
        op.address->size = std::min<std::uint32_t>(len, sizeof op.address->data);
      }
      return r;
    }
    case OpCode::sendto:
      return retry(op, [&] {
        return ::sendto(fd, op.buffer, op.length, op.flags | MSG_NOSIGNAL, sockaddr_of(op.address),
                        op.address != nullptr ? op.address->size : 0);
      });
    case OpCode::readable:
      return poll_once(op, POLLIN);
    case OpCode::writable:
      return poll_once(op, POLLOUT);
  }
  return -EINVAL;
}

void OpQueue::push_back(Operation& op) noexcept {
  op.next = nullptr;
  op.prev = tail_;
  if (tail_ != nullptr) {
    tail_->next = &op;
  } else {
    head_ = &op;
  }
  tail_ = &op;
}

void OpQueue::remove(Operation& op) noexcept {
  if (op.prev != nullptr) {
    op.prev->next = op.next;
  } else {
    head_ = op.next;
  }
  if (op.next != nullptr) {
    op.next->prev = op.prev;
  } else {
    tail_ = op.prev;
  }
  op.next = nullptr;
  op.prev = nullptr;
}

FdState* FdTable::grow(std::size_t index) noexcept {
  // Doubling keeps growth amortised; fd numbers are dense (lowest free first).
  try {
    states_.resize(std::max({index + 1, states_.size() * 2, std::size_t{64}}));
  } catch (...) {
    return nullptr;
  }
  return &states_[index];
}

FdState* start_submit(FdTable& table, Operation& op) noexcept {
  if (op.handle < 0 || op.handle > INT_MAX) {
    finish(op, -EBADF);
    return nullptr;
  }
  op.backend_state = 0;
  FdState* state = table.at(static_cast<int>(op.handle));
  if (state == nullptr) finish(op, -ENOMEM);
  return state;
}

void FdTable::reset(native_handle fd) noexcept {
  if (FdState* state = find(fd)) *state = FdState{};
}

bool spurious_eagain(const Operation& op) noexcept {
  // Not for connect: its first call must really happen, or the wait for writability
  // would watch an unconnected socket.
  return op.code != OpCode::connect && faults::hit(faults::Kind::eagain, op.handle);
}

bool exhausted(FdState& state, const Operation& op, std::intptr_t result) noexcept {
  if (result <= 0 || static_cast<std::size_t>(result) >= op.length) return false;
  if (op.backend_state == asked_less) return false;
  switch (op.code) {
    case OpCode::recv:
      // A peeked short read leaves the data in place; after EOF no edge will follow.
      if ((op.flags & MSG_PEEK) != 0 || state.hup[static_cast<int>(Side::read)]) return false;
      if (state.kind == HandleKind::unknown) {
        state.kind = net::is_stream(op.handle) ? HandleKind::stream : HandleKind::other;
      }
      return state.kind == HandleKind::stream;
    case OpCode::send:
      // A short send means the socket buffer is full, whatever the socket type.
      return !state.hup[static_cast<int>(Side::write)];
    default:
      return false;
  }
}

int run_queue(FdState& state, Side side, CompletionQueue& sink, bool track_readiness) noexcept {
  OpQueue& queue = state.queue(side);
  int pushed = 0;
  while (Operation* op = queue.front()) {
    // Spurious EAGAIN only where readiness is level-triggered: the poller reports the
    // fd again at once. An edge-triggered backend trusts EAGAIN as the kernel's word.
    const std::intptr_t r = (!track_readiness && spurious_eagain(*op)) ? -EAGAIN : perform(*op);
    if (r == -EAGAIN) {
      if (track_readiness) state.ready[static_cast<int>(side)] = false;
      break;
    }
    queue.remove(*op);
    op->result = r;
    sink.push(*op);
    ++pushed;
    if (track_readiness && exhausted(state, *op, r)) {
      state.ready[static_cast<int>(side)] = false;
      break;
    }
  }
  return pushed;
}

bool cancel(FdTable& table, Operation& op, CompletionQueue& sink) noexcept {
  FdState* state = table.find(op.handle);
  if (state == nullptr) return false;
  OpQueue& queue = state->queue(side_of(op.code));
  if (!queue.contains(op)) return false;
  queue.remove(op);
  op.result = -ECANCELED;
  sink.push(op);
  return true;
}

int timeout_ms(std::chrono::nanoseconds timeout) noexcept {
  if (timeout < std::chrono::nanoseconds::zero()) return -1;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace corio::readiness
