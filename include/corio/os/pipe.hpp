// Anonymous pipes the backends can await: both ends non-blocking and close-on-exec on
// POSIX; on Windows an overlapped named-pipe pair (anonymous pipes cannot do overlapped
// I/O, so IOCP could not wait on them). Read and write them with OpCode::read/write
// (corio::io::read/write).
#pragma once

#include <cstddef>
#include <cstdint>

#include "corio/os/handle.hpp"

namespace corio::os {

/// The two ends of a pipe: bytes written to `write_end` come out of `read_end`.
struct PipeEnds {
  native_handle read_end = invalid_handle;
  native_handle write_end = invalid_handle;
};

/// A new pipe (like os.pipe(), made for asynchronous use). Throws std::system_error
/// (errno values, generic category) if the OS refuses, e.g. EMFILE.
[[nodiscard]] PipeEnds open_pipe();

/// Writes what `h` (a pipe end or other byte stream) takes now without waiting: the
/// byte count, -EAGAIN if it would block, else -errno (-EPIPE when nobody reads; never
/// SIGPIPE). On Windows always -EAGAIN: an overlapped handle has no non-blocking
/// write, so the caller submits OpCode::write instead.
[[nodiscard]] std::intptr_t try_write(native_handle h, const void* buf, std::size_t len) noexcept;

/// Closes a pipe end, file or other non-socket handle; tell the loop's backend first
/// (io::release). Sockets close with net::close_socket.
void close_handle(native_handle h) noexcept;

}  // namespace corio::os
