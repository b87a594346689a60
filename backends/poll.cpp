// poll() backend: the portable fallback. Level-triggered, so it caches no readiness: an
// operation is tried at once and queued on EAGAIN, and each wait asks the kernel about
// exactly the fds that have waiters. Those fds are kept in a compact list so a wait
// costs O(waiting fds), not O(highest fd number).
#include "backends/poll.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "backends/readiness.hpp"
#include "os/waker.hpp"

namespace corio {
namespace {

using readiness::FdState;
using readiness::Side;

constexpr short read_revents = POLLIN | POLLHUP | POLLERR | POLLNVAL;
constexpr short write_revents = POLLOUT | POLLHUP | POLLERR | POLLNVAL;

class PollBackend final : public Backend {
 public:
  explicit PollBackend(CompletionQueue& sink) noexcept : sink_(sink) {}
  PollBackend(const PollBackend&) = delete;
  PollBackend& operator=(const PollBackend&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "poll"; }
  [[nodiscard]] Capability capabilities() const noexcept override { return Capability::none; }

  bool submit(Operation& op) noexcept override { return readiness::submit(*this, table_, op); }

  // readiness::submit's hooks (readiness::Poller). Level-triggered, and unlike epoll's
  // registration, poll() watches an fd only while it has waiters (wait() drops it from
  // the list once they are gone): nothing would keep a cached "drained" current between
  // operations, and a stale one would send the next operation through a whole poll()
  // turn instead of one syscall. So every operation with an empty queue is tried.
  static constexpr bool edge_triggered = false;
  // Watching is joining the list of fds the next wait() builds its pollfd array from.
  int watch(int fd, FdState& state, Side /*side*/) noexcept {
    try {
      waiting_.push_back(fd);
    } catch (...) {
      return -ENOMEM;
    }
    state.slot = static_cast<std::uint32_t>(waiting_.size() - 1);
    state.watched[0] = state.watched[1] = true;  // wait() polls what the queues ask
    return 0;
  }

  void cancel(Operation& op) noexcept override { readiness::cancel(table_, op, sink_); }

  void release(native_handle handle) noexcept override {
    FdState* state = table_.find(handle);
    if (state == nullptr) return;
    if (state->slot != FdState::no_slot) unlist(*state);
    table_.reset(handle);
  }

  int wait(std::chrono::nanoseconds timeout) noexcept override {
    pollfds_.clear();  // keeps its capacity: no allocation in steady state
    try {
      pollfds_.push_back(pollfd{waker_.fd(), POLLIN, 0});
      for (std::size_t i = 0; i < waiting_.size();) {
        FdState& state = *table_.find(waiting_[i]);
        if (!state.has_waiters()) {  // emptied by completions or cancels since
          unlist(state);             // moves the last entry into slot i
          continue;
        }
        short events = 0;
        if (!state.queue(Side::read).empty()) events |= POLLIN;
        if (!state.queue(Side::write).empty()) events |= POLLOUT;
        pollfds_.push_back(pollfd{waiting_[i], events, 0});
        ++i;
      }
    } catch (...) {
      return -ENOMEM;
    }
    const int n = ::poll(pollfds_.data(), static_cast<nfds_t>(pollfds_.size()),
                         readiness::timeout_ms(timeout));
    if (n < 0) return -errno;
    if (pollfds_[0].revents != 0) waker_.drain();
    int pushed = 0;
    for (std::size_t i = 1; i < pollfds_.size(); ++i) {
      const pollfd& p = pollfds_[i];
      if (p.revents == 0) continue;
      FdState& state = *table_.find(p.fd);
      // POLLNVAL (closed under us) runs the queues too, so their operations finish with
      // EBADF instead of spinning here forever.
      if ((p.revents & read_revents) != 0) {
        pushed += readiness::run_queue(table_, state, Side::read, sink_, edge_triggered);
      }
      if ((p.revents & write_revents) != 0) {
        pushed += readiness::run_queue(table_, state, Side::write, sink_, edge_triggered);
      }
    }
    return pushed;
  }

  void wake() noexcept override { waker_.wake(); }

  // Opens the waker; false with `ec` set if the OS refuses.
  bool open_waker(std::error_code& ec) noexcept {
    waker_.open(ec);
    return !ec;
  }

 private:
  // Removes `state`'s fd from the waiting list by moving the last entry into its slot.
  void unlist(FdState& state) noexcept {
    const std::uint32_t slot = state.slot;
    const int last = waiting_.back();
    waiting_[slot] = last;
    table_.find(last)->slot = slot;
    waiting_.pop_back();
    state.slot = FdState::no_slot;
    state.unwatch();  // the next operation that must wait lists it again
  }

  CompletionQueue& sink_;
  readiness::FdTable table_;
  std::vector<int> waiting_;  // fds whose queues may be non-empty
  std::vector<pollfd> pollfds_;
  sys::Waker waker_;
};

}  // namespace

std::unique_ptr<Backend> open_poll_backend(const BackendOptions& /*options*/, CompletionQueue& sink,
                                           std::error_code& ec) {
  ec.clear();
  std::unique_ptr<PollBackend> backend(new (std::nothrow) PollBackend(sink));
  if (!backend) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
  if (!backend->open_waker(ec)) return nullptr;
  return backend;
}

}  // namespace corio
