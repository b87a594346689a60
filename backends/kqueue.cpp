// kqueue backend, epoll's scheme in kqueue's terms. Each fd gets EVFILT_READ and
// EVFILT_WRITE with EV_CLEAR (edge-triggered) the first time an operation on it has to
// wait, and keeps them until it is closed. Registrations are not separate syscalls: they
// are queued as changes and handed to the kevent() call that waits, so a loop turn costs
// one kevent() however many fds started waiting. Readiness is cached per fd as for epoll,
// by the submit path they share (readiness::submit): a short stream read or short send
// marks the side drained/full.
//
// Compiled and linked for macOS with zig's SDK headers; see docs/backends.md for where it
// has actually run.
#include "backends/kqueue.hpp"

#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "backends/readiness.hpp"
#include "os/timespec.hpp"
#include "os/waker.hpp"

namespace corio {
namespace {

using readiness::FdState;
using readiness::Side;

constexpr std::size_t min_events = 256;
constexpr uintptr_t wake_ident = 0;  // EVFILT_USER idents are ours alone: any number works
constexpr int read_side = static_cast<int>(Side::read);
constexpr int write_side = static_cast<int>(Side::write);

class KqueueBackend final : public Backend {
 public:
  KqueueBackend(int kq, CompletionQueue& sink) : kq_(kq), sink_(sink), events_(min_events) {
    changes_.reserve(min_events);
  }
  ~KqueueBackend() override { ::close(kq_); }
  KqueueBackend(const KqueueBackend&) = delete;
  KqueueBackend& operator=(const KqueueBackend&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "kqueue"; }
  [[nodiscard]] Capability capabilities() const noexcept override {
    return Capability::edge_triggered;
  }

  bool submit(Operation& op) noexcept override { return readiness::submit(*this, table_, op); }

  // readiness::submit's hooks (readiness::Poller).
  static constexpr bool edge_triggered = true;
  int watch(int fd, FdState& state, Side /*side*/) noexcept {
    // Adding a filter evaluates it at once (kqueue(2): the knote is activated if the
    // condition already holds), so readiness that arrived between an EAGAIN and the
    // kevent() that applies this change is reported, not lost.
    const auto ident = static_cast<uintptr_t>(fd);
    try {
      changes_.emplace_back();
      EV_SET(&changes_.back(), ident, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, nullptr);
      changes_.emplace_back();
      EV_SET(&changes_.back(), ident, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    } catch (...) {
      drop_changes(fd);
      return -ENOMEM;
    }
    state.watched[0] = state.watched[1] = true;
    return 0;
  }

  void cancel(Operation& op) noexcept override { readiness::cancel(table_, op, sink_); }

  // Applied filters are left to close(): kqueue(2) removes every knote of a descriptor
  // when it is closed, and the contract says release() comes just before the close. An
  // EV_DELETE here would cost a syscall, or, batched, would reach the kernel after the
  // close and come back as an EBADF error event every time. Changes not yet applied are
  // dropped, so a reused fd number is never registered on behalf of the old one. If the
  // fd is kept open after all, its stale events find an empty FdState and do nothing,
  // and registering it again is a harmless EV_ADD over the existing filters.
  void release(native_handle handle) noexcept override {
    FdState* state = table_.find(handle);
    if (state == nullptr) return;
    if (state->registered()) drop_changes(handle);
    table_.reset(handle);
  }

  int wait(std::chrono::nanoseconds timeout) noexcept override {
    // Room for an error event per change: kevent(2) reports a failed change in the
    // event list when there is room, and otherwise fails the whole call.
    if (events_.size() < changes_.size()) {
      try {
        events_.resize(changes_.size());
      } catch (...) {
        return -ENOMEM;
      }
    }
    timespec ts{};
    const timespec* tsp = nullptr;
    if (timeout >= std::chrono::nanoseconds::zero()) {
      ts = sys::to_timespec<timespec>(timeout);
      tsp = &ts;
    }
    const int n = ::kevent(kq_, changes_.data(), static_cast<int>(changes_.size()), events_.data(),
                           static_cast<int>(events_.size()), tsp);
    if (n < 0) {
      // On EINTR the changes may or may not have been applied (FreeBSD's kqueue(2) says
      // they were; macOS does not say): keep them, since EV_ADD over an existing filter
      // is harmless. Any other failure is returned with the batch discarded.
      if (errno == EINTR) return -EINTR;
      const int err = errno;
      changes_.clear();
      return -err;
    }
    changes_.clear();
    int pushed = 0;
    for (int i = 0; i < n; ++i) {
      const struct kevent& ev = events_[static_cast<std::size_t>(i)];
      if (ev.filter == EVFILT_USER) {
        // EV_CLEAR on the user event consumed it as it was reported: now lower the flag
        // (the order os/waker.hpp's WakeFlag explains).
        woken_.lower();
        continue;
      }
      FdState* state = table_.find(static_cast<native_handle>(ev.ident));
      if (state == nullptr) continue;
      const Side side = ev.filter == EVFILT_READ ? Side::read : Side::write;
      const int s = static_cast<int>(side);
      if ((ev.flags & EV_ERROR) != 0) {
        // A change failed (the fd was not valid, or has no such filter): the operations
        // waiting on that side would never hear, so end them with the error, and let the
        // next one that must wait try registering again.
        if (ev.data != 0) pushed += fail_queue(*state, side, -static_cast<int>(ev.data));
        state->unwatch();
        continue;
      }
      // EV_EOF: the peer shut that direction down (or the socket failed, with the error
      // in fflags). No further edge comes, so a short read must no longer mark the side
      // drained (hup is sticky until release).
      if ((ev.flags & EV_EOF) != 0) {
        state->hup[s] = true;
        if (ev.fflags != 0) {
          state->hup[read_side] = true;
          state->hup[write_side] = true;
        }
      }
      pushed += readiness::run_queue(table_, *state, side, sink_, edge_triggered);
    }
    return pushed;
  }

  // Not a sys::Waker: kqueue has a native user event, so no descriptor is needed. The
  // coalescing and its ordering are WakeFlag's, as for the descriptor wakers.
  void wake() noexcept override {
    if (!woken_.raise()) return;
    struct kevent ev {};
    EV_SET(&ev, wake_ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    while (::kevent(kq_, &ev, 1, nullptr, 0, nullptr) < 0 && errno == EINTR) {
    }
  }

 private:
  // Ends every operation queued on `side` of `state` with `error`.
  int fail_queue(FdState& state, Side side, std::intptr_t error) noexcept {
    readiness::OpQueue& queue = state.queue(side);
    int pushed = 0;
    while (Operation* op = queue.front()) {
      queue.remove(*op);
      op->result = error;
      sink_.push(*op);
      ++pushed;
    }
    return pushed;
  }

  // Removes the not yet applied changes for `handle` (a short list: one loop turn's).
  void drop_changes(native_handle handle) noexcept {
    const auto ident = static_cast<uintptr_t>(handle);
    changes_.erase(std::remove_if(changes_.begin(), changes_.end(),
                                  [ident](const struct kevent& c) { return c.ident == ident; }),
                   changes_.end());
  }

  int kq_;
  CompletionQueue& sink_;
  readiness::FdTable table_;
  std::vector<struct kevent> changes_;  // applied by the next wait's kevent()
  std::vector<struct kevent> events_;
  sys::WakeFlag woken_;
};

}  // namespace

std::unique_ptr<Backend> open_kqueue_backend(const BackendOptions& /*options*/,
                                             CompletionQueue& sink, std::error_code& ec) {
  ec.clear();
  const int kq = ::kqueue();
  if (kq < 0) {
    ec.assign(errno, std::system_category());
    return nullptr;
  }
  // A kqueue is not inherited across fork(), but it is across exec() without one.
  if (::fcntl(kq, F_SETFD, FD_CLOEXEC) < 0) {
    ec.assign(errno, std::system_category());
    ::close(kq);
    return nullptr;
  }
  struct kevent ev {};
  EV_SET(&ev, wake_ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
  if (::kevent(kq, &ev, 1, nullptr, 0, nullptr) < 0) {
    ec.assign(errno, std::system_category());
    ::close(kq);
    return nullptr;
  }
  std::unique_ptr<Backend> backend;
  try {
    backend = std::make_unique<KqueueBackend>(kq, sink);
  } catch (...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    ::close(kq);
  }
  return backend;
}

}  // namespace corio
