#include "backends/readiness.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "corio/os/net.hpp"
#include "os/faults.hpp"
#include "os/nb_io.hpp"

namespace corio::readiness {
namespace {

// Connect's phases, kept in Operation::backend_state.
enum ConnectPhase : std::uint8_t { connect_start = 0, connect_in_progress = 1 };
// A recv/send that asked the kernel for less than op.length (an injected short
// read/write): its result proves nothing about the socket being drained or full.
constexpr std::uint8_t asked_less = 2;

std::intptr_t perform_connect(Operation& op) noexcept {
  if (op.backend_state == connect_in_progress) return sys::connect_result(op.handle);
  if (op.address == nullptr) return -EINVAL;
  const std::intptr_t r = sys::connect_start(op.handle, *op.address);
  if (r != -EINPROGRESS) return r;
  op.backend_state = connect_in_progress;
  return -EAGAIN;
}

// The length a recv or send really asked for decides whether a short result means the
// socket was drained (or filled): remember it for exhausted().
std::intptr_t note_asked(Operation& op, std::size_t asked, std::intptr_t r) noexcept {
  op.backend_state = asked < op.length ? asked_less : 0;
  return r;
}

// Fault injection (os/faults.hpp): whether to pretend `op`'s call said EAGAIN. Callers
// ask only where the poller will report the fd again without a new edge.
bool spurious_eagain(const Operation& op) noexcept {
  // Not for connect: its first call must really happen, or the wait for writability
  // would watch an unconnected socket.
  return op.code != OpCode::connect && faults::hit(faults::Kind::eagain, op.handle);
}

// An accepted socket has its listener's type. Saying so in its state spares the
// getsockopt(SO_TYPE) its first short read would make (exhausted()): a syscall per
// connection, asked once per listener instead. find() never grows the table, so
// `listener` stays valid.
void inherit_kind(FdTable& table, FdState& listener, native_handle listener_fd,
                  std::intptr_t accepted) noexcept {
  if (listener.kind == HandleKind::unknown) {
    listener.kind = net::is_stream(listener_fd) ? HandleKind::stream : HandleKind::other;
  }
  if (FdState* s = table.find(accepted)) s->kind = listener.kind;
}

// perform(), or a spurious EAGAIN where `may_fake` allows one; with `edge_triggered`, a
// real or pretended EAGAIN, or a result that exhausted the fd, marks the side not ready.
std::intptr_t attempt(FdTable& table, FdState& state, Operation& op, bool edge_triggered,
                      bool may_fake) noexcept {
  const std::intptr_t r = may_fake && spurious_eagain(op) ? -EAGAIN : perform(op);
  if (edge_triggered && (r == -EAGAIN || exhausted(state, op, r))) {
    state.ready[static_cast<int>(side_of(op.code))] = false;
  }
  if (op.code == OpCode::accept && r >= 0) inherit_kind(table, state, op.handle, r);
  return r;
}

}  // namespace

std::intptr_t perform(Operation& op) noexcept {
  std::size_t asked = 0;
  switch (op.code) {
    case OpCode::accept:
      return sys::accept(op.handle, op.address);
    case OpCode::connect:
      return perform_connect(op);
    case OpCode::recv: {
      const std::intptr_t r = sys::recv(op.handle, op.buffer, op.length, op.flags, asked);
      return note_asked(op, asked, r);
    }
    case OpCode::send: {
      const std::intptr_t r = sys::send(op.handle, op.buffer, op.length, op.flags, asked);
      return note_asked(op, asked, r);
    }
    case OpCode::recvfrom:
      return sys::recvfrom(op.handle, op.buffer, op.length, op.flags, op.address);
    case OpCode::sendto:
      return sys::sendto(op.handle, op.buffer, op.length, op.flags, op.address);
    case OpCode::readable:
      return sys::poll_ready(op.handle, false);
    case OpCode::writable:
      return sys::poll_ready(op.handle, true);
    case OpCode::read:
      return sys::read(op.handle, op.buffer, op.length);
    case OpCode::write:
      return sys::write(op.handle, op.buffer, op.length);
    case OpCode::readv:
      return sys::readv(op.handle, static_cast<const IoSlice*>(op.buffer), op.length);
    case OpCode::writev:
      return sys::writev(op.handle, static_cast<const IoSlice*>(op.buffer), op.length);
  }
  return -EINVAL;
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

std::intptr_t try_now(FdTable& table, FdState& state, Operation& op, bool edge_triggered) noexcept {
  // A level-triggered poller reports the fd again at once, so a spurious EAGAIN is
  // always safe there. An edge-triggered one may have one only before the fd is
  // watched: watching reports the current state as an edge, so nothing is lost. After
  // that, EAGAIN is the kernel's word that an edge will follow, and faking it could
  // leave the operation waiting for an edge that already came.
  return attempt(table, state, op, edge_triggered, !edge_triggered || !state.registered());
}

int run_queue(FdTable& table, FdState& state, Side side, CompletionQueue& sink,
              bool edge_triggered) noexcept {
  const int s = static_cast<int>(side);
  if (edge_triggered) state.ready[s] = true;
  OpQueue& queue = state.queue(side);
  int pushed = 0;
  while (Operation* op = queue.front()) {
    // The fd is watched here, so (as in try_now) only a level-triggered poller may fake.
    const std::intptr_t r = attempt(table, state, *op, edge_triggered, !edge_triggered);
    if (r == -EAGAIN) break;
    queue.remove(*op);
    op->result = r;
    sink.push(*op);
    ++pushed;
    if (!state.ready[s]) break;  // exhausted (edge-triggered only)
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
