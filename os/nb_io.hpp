// The non-blocking calls a readiness backend makes for an operation (POSIX), in
// one place: each is tried once, retried on EINTR, and answers ">= 0 or -errno" with
// EWOULDBLOCK spelled -EAGAIN ("would block: wait for readiness and call again"). The
// test faults (os/faults.hpp) are applied here, so every backend that calls these gets
// the same injected EINTR, short I/O, resets and accept failures without a hook of its
// own.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corio/os/handle.hpp"

namespace corio::sys {

/// accept(2) giving a non-blocking, close-on-exec descriptor; `peer` (may be null)
/// receives the peer's address.
std::intptr_t accept(native_handle listener, SocketAddress* peer) noexcept;

/// recv(2) of up to `len` bytes (0 = end of stream). `asked` receives the length really
/// asked for: less than `len` only under an injected short read, whose result then says
/// nothing about the socket being drained.
std::intptr_t recv(native_handle h, void* buf, std::size_t len, int flags,
                   std::size_t& asked) noexcept;

/// send(2) that never raises SIGPIPE; `asked` as for recv.
std::intptr_t send(native_handle h, const void* buf, std::size_t len, int flags,
                   std::size_t& asked) noexcept;

/// recvfrom(2); `from` (may be null) receives the sender.
std::intptr_t recvfrom(native_handle h, void* buf, std::size_t len, int flags,
                       SocketAddress* from) noexcept;

/// sendto(2) to `to` (null: the connected peer), never raising SIGPIPE.
std::intptr_t sendto(native_handle h, const void* buf, std::size_t len, int flags,
                     const SocketAddress* to) noexcept;

/// Starts connect(2) to `to`: 0 when connected at once, -EINPROGRESS while it carries on
/// (an interrupted connect carries on too), else -errno.
std::intptr_t connect_start(native_handle h, const SocketAddress& to) noexcept;

/// How a connect that went on in the background ended (SO_ERROR): 0 or -errno.
std::intptr_t connect_result(native_handle h) noexcept;

/// read(2) of up to `len` bytes from any descriptor (0 = end of stream).
std::intptr_t read(native_handle h, void* buf, std::size_t len) noexcept;

/// write(2) of up to `len` bytes to any descriptor. A pipe whose reader is gone gives
/// -EPIPE (see ignore_sigpipe_once()).
std::intptr_t write(native_handle h, const void* buf, std::size_t len) noexcept;

/// readv(2) into `count` slices.
std::intptr_t readv(native_handle h, const IoSlice* slices, std::size_t count) noexcept;

/// writev(2) of `count` slices.
std::intptr_t writev(native_handle h, const IoSlice* slices, std::size_t count) noexcept;

/// Sets SIGPIPE to "ignore" the first time it is called, unless the program has chosen
/// a disposition of its own, so that a write to a pipe nobody reads fails with EPIPE
/// instead of killing the process. write() and writev() call it; a backend that hands
/// descriptor writes to the kernel itself (io_uring) calls it too.
void ignore_sigpipe_once() noexcept;

/// Whether `h` is readable (or writable, with `write`) right now, without blocking:
/// 0 if so, -EAGAIN if not, -EBADF if the descriptor was closed under us.
std::intptr_t poll_ready(native_handle h, bool write) noexcept;

}  // namespace corio::sys
