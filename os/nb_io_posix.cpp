#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>

#include "os/faults.hpp"
#include "os/nb_io.hpp"
#include "os/posix_fd.hpp"

namespace corio::sys {
namespace {

int fd_of(native_handle h) noexcept {
  return static_cast<int>(h);
}

sockaddr* sockaddr_of(SocketAddress* a) noexcept {
  return a != nullptr ? reinterpret_cast<sockaddr*>(a->data) : nullptr;
}

// Calls `call` until it is not interrupted by a signal, and folds the result into
// ">= 0 or -errno" with EWOULDBLOCK spelled as EAGAIN (they differ on some systems).
template <class Call>
std::intptr_t retry(native_handle h, Call call) noexcept {
  for (;;) {
    // An injected EINTR stands for a signal that arrived before the call did anything.
    if (faults::hit(faults::Kind::eintr, h)) continue;
    const auto r = call();
    if (r >= 0) return static_cast<std::intptr_t>(r);
    if (errno == EINTR) continue;
    return (errno == EWOULDBLOCK) ? -EAGAIN : -errno;
  }
}

// The kernel filled `len` bytes of the address; keep what fits.
void set_size(SocketAddress* a, socklen_t len) noexcept {
  if (a != nullptr) a->size = std::min<std::uint32_t>(len, sizeof a->data);
}

}  // namespace

// A write to a pipe whose reader has gone raises SIGPIPE, which kills the process by
// default, and unlike send() there is no per-call flag against it. So the first
// descriptor write sets SIGPIPE to "ignore" if nobody has chosen otherwise, and the write
// then fails with EPIPE, an error like any other: what CPython and Rust's runtime do
// for the whole process at start-up. A program with its own SIGPIPE handler keeps it.
void ignore_sigpipe_once() noexcept {
  static std::atomic<bool> done{false};
  if (done.load(std::memory_order_relaxed)) return;
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    (void)::sigaction(SIGPIPE, &ignore, nullptr);
  }
  done.store(true, std::memory_order_relaxed);
}

namespace {

// IoSlice is struct iovec's twin, so a slice list goes to readv/writev as it is.
static_assert(sizeof(IoSlice) == sizeof(iovec) && alignof(IoSlice) == alignof(iovec));
static_assert(offsetof(IoSlice, data) == offsetof(iovec, iov_base));
static_assert(offsetof(IoSlice, size) == offsetof(iovec, iov_len));

const iovec* iovecs(const IoSlice* slices) noexcept {
  return reinterpret_cast<const iovec*>(slices);
}
// readv/writev refuse more than IOV_MAX slices with EINVAL; the excess is simply left
// for the next call, as a short read or write.
int slice_count(std::size_t count) noexcept {
  return static_cast<int>(std::min<std::size_t>(count, IOV_MAX));
}

}  // namespace

std::intptr_t read(native_handle h, void* buf, std::size_t len) noexcept {
  return retry(h, [&] { return ::read(fd_of(h), buf, len); });
}

std::intptr_t write(native_handle h, const void* buf, std::size_t len) noexcept {
  ignore_sigpipe_once();
  return retry(h, [&] { return ::write(fd_of(h), buf, len); });
}

std::intptr_t readv(native_handle h, const IoSlice* slices, std::size_t count) noexcept {
  return retry(h, [&] { return ::readv(fd_of(h), iovecs(slices), slice_count(count)); });
}

std::intptr_t writev(native_handle h, const IoSlice* slices, std::size_t count) noexcept {
  ignore_sigpipe_once();
  return retry(h, [&] { return ::writev(fd_of(h), iovecs(slices), slice_count(count)); });
}

std::intptr_t accept(native_handle listener, SocketAddress* peer) noexcept {
  if (const std::intptr_t injected = faults::failure(faults::Call::accept, listener)) {
    return injected;
  }
  auto len = static_cast<socklen_t>(sizeof peer->data);
  const std::intptr_t r = retry(listener, [&] {
    return posix::accept_socket(fd_of(listener), sockaddr_of(peer),
                                peer != nullptr ? &len : nullptr);
  });
  if (r >= 0) set_size(peer, len);
  return r;
}

std::intptr_t recv(native_handle h, void* buf, std::size_t len, int flags,
                   std::size_t& asked) noexcept {
  asked = len;
  if (const std::intptr_t injected = faults::failure(faults::Call::recv, h)) return injected;
  asked = faults::io_length(h, len);
  return retry(h, [&] { return ::recv(fd_of(h), buf, asked, flags); });
}

std::intptr_t send(native_handle h, const void* buf, std::size_t len, int flags,
                   std::size_t& asked) noexcept {
  asked = len;
  if (const std::intptr_t injected = faults::failure(faults::Call::send, h)) return injected;
  asked = faults::io_length(h, len);
  // MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the process.
  return retry(h, [&] { return ::send(fd_of(h), buf, asked, flags | MSG_NOSIGNAL); });
}

std::intptr_t recvfrom(native_handle h, void* buf, std::size_t len, int flags,
                       SocketAddress* from) noexcept {
  auto alen = static_cast<socklen_t>(sizeof from->data);
  const std::intptr_t r = retry(h, [&] {
    return ::recvfrom(fd_of(h), buf, len, flags, sockaddr_of(from),
                      from != nullptr ? &alen : nullptr);
  });
  if (r >= 0) set_size(from, alen);
  return r;
}

std::intptr_t sendto(native_handle h, const void* buf, std::size_t len, int flags,
                     const SocketAddress* to) noexcept {
  return retry(h, [&] {
    return ::sendto(fd_of(h), buf, len, flags | MSG_NOSIGNAL,
                    to != nullptr ? reinterpret_cast<const sockaddr*>(to->data) : nullptr,
                    to != nullptr ? to->size : 0);
  });
}

std::intptr_t connect_start(native_handle h, const SocketAddress& to) noexcept {
  if (::connect(fd_of(h), reinterpret_cast<const sockaddr*>(to.data), to.size) == 0) return 0;
  switch (errno) {
    // connect(2): an interrupted connect carries on asynchronously, like EINPROGRESS;
    // calling it again would only report EALREADY.
    case EINTR:
    case EINPROGRESS:
      return -EINPROGRESS;
    case EAGAIN:
      // unix(7): a non-blocking AF_UNIX connect fails with EAGAIN when the listener's
      // backlog is full. No readiness event announces free room (the unconnected
      // socket is always writable), so waiting could only spin; report a refusal.
      return -ECONNREFUSED;
    default:
      return -errno;
  }
}

std::intptr_t connect_result(native_handle h) noexcept {
  // The socket became writable (or failed): connect(2) says read SO_ERROR now.
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd_of(h), SOL_SOCKET, SO_ERROR, &error, &len) < 0) return -errno;
  return error == 0 ? 0 : -error;
}

// Readiness waits cannot be "tried" by reading or writing, so ask poll() without
// blocking; POLLNVAL means the fd was closed under us.
std::intptr_t poll_ready(native_handle h, bool write) noexcept {
  pollfd p{fd_of(h), static_cast<short>(write ? POLLOUT : POLLIN), 0};
  const std::intptr_t r = retry(h, [&] { return ::poll(&p, 1, 0); });
  if (r < 0) return r;
  if (r == 0) return -EAGAIN;
  return (p.revents & POLLNVAL) != 0 ? -EBADF : 0;
}

}  // namespace corio::sys
