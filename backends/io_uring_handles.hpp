// What the io_uring backend keeps per handle that uses a multishot request (recv or
// accept), and the table that finds it by fd. The states are spelled out as enums so
// that only the legal combinations can be written down.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backends/io_uring_buffers.hpp"
#include "corio/backends/operation.hpp"
#include "corio/util/intrusive_list.hpp"

namespace corio::uring {

/// FIFO of operations waiting on a handle, through the operations' own links.
using OpList = util::IntrusiveList<Operation, &Operation::next, &Operation::prev>;

/// Whose a HandleState is.
enum class Life : std::uint8_t {
  pooled,    ///< on the free list
  live,      ///< the state of `fd`, found through the table
  released,  ///< `fd` was released while a request was armed; the request's final
             ///< completion returns the state to the pool
};

/// What `fd` is, asked once: only stream sockets use multishot requests.
enum class SocketKind : std::uint8_t { unknown, stream, other };

/// One multishot request's life on a handle (one for recv, one for accept).
enum class Multishot : std::uint8_t {
  idle,      ///< not in the kernel; the next waiter arms it
  armed,     ///< in the kernel, delivering
  stopping,  ///< in the kernel, and we asked the kernel to cancel it (a cap was reached,
             ///< or the handle was released): its final -ECANCELED is our own doing
  refused,   ///< the kernel said EINVAL (too old, or not that kind of socket): single
             ///< SQEs serve this handle from now on, and it is never armed again
};

/// Whether a request in state `m` is in the kernel (its final completion is to come).
[[nodiscard]] constexpr bool in_kernel(Multishot m) noexcept {
  return m == Multishot::armed || m == Multishot::stopping;
}

/// Whether completion `res` of a request in state `m` is the end of a stop we asked for,
/// which is never an error for the program. Asked before the completion moves the state
/// on: a final completion leaves `stopping` behind.
[[nodiscard]] constexpr bool ends_our_stop(Multishot m, int res) noexcept {
  return m == Multishot::stopping && res == -ECANCELED;
}

/// Whether the peer has closed its side: every later recv then returns 0.
enum class Peer : std::uint8_t { open, closed };

/// What the backend keeps for one handle that uses a multishot request. It outlives the
/// handle's release while a request is still armed: its final completion frees it.
struct HandleState {
  int fd = -1;
  Life life = Life::pooled;
  SocketKind kind = SocketKind::unknown;
  Multishot recv = Multishot::idle;
  Multishot accept = Multishot::idle;
  Peer peer = Peer::open;
  int recv_error = 0;         // an error for the next recv (negative errno)
  HeldBuffers buffers;        // received, not yet read (read-ahead)
  OpList data_waiters;        // recv and readable operations
  int accept_error = 0;       // likewise for the next accept
  std::vector<int> accepted;  // connections accepted ahead of the program
  std::size_t accepted_head = 0;
  OpList accept_waiters;
  HandleState* next_free = nullptr;

  [[nodiscard]] bool has_data() const noexcept { return !buffers.empty(); }
  [[nodiscard]] bool armed() const noexcept { return in_kernel(recv) || in_kernel(accept); }
  [[nodiscard]] std::size_t queued_accepts() const noexcept {
    return accepted.size() - accepted_head;
  }
  /// The oldest connection accepted ahead of the program (queued_accepts() > 0).
  int pop_accepted() noexcept;
  /// Closes every connection accepted ahead of the program.
  void close_accepted() noexcept;
};

/// The live states by fd, and the pool they come from (which only grows: steady state
/// allocates nothing).
class HandleTable {
 public:
  HandleTable() = default;
  /// Closes the connections still queued on any state.
  ~HandleTable();
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  /// The live state of `handle`, or nullptr.
  [[nodiscard]] HandleState* find(native_handle handle) const noexcept {
    const auto i = static_cast<std::size_t>(handle);
    return handle >= 0 && i < by_fd_.size() ? by_fd_[i] : nullptr;
  }
  /// The live state of `handle`, created on first use; nullptr when it cannot be had.
  HandleState* get(native_handle handle) noexcept;
  /// Unlinks `st` from its fd: it is Life::released until put back.
  void unlink(HandleState& st) noexcept;
  /// Returns `st` to the pool.
  void put_back(HandleState& st) noexcept;

 private:
  std::vector<HandleState*> by_fd_;  // live states, by fd
  std::vector<std::unique_ptr<HandleState>> states_;
  HandleState* free_ = nullptr;
};

}  // namespace corio::uring
