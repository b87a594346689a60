// The few raw socket calls the tests make behind corio's back (to play the peer, or to
// check what a backend did), with no OS type in sight. Each platform implements them in
// one file the build picks (raw_socket_posix.cpp, raw_socket_win.cpp). Everything else
// a test needs goes through corio::net (a raw send is net::try_send).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "corio/os/net.hpp"

namespace corio::testing {

/// One non-blocking receive: bytes received (0 = end of stream) or -errno (-EAGAIN if none).
std::intptr_t raw_recv(native_handle h, void* buf, std::size_t len) noexcept;
/// Waits at most `timeout_ms` for `h` to be readable (data, end of stream or an error).
bool wait_readable(native_handle h, int timeout_ms);
/// The recv flag that peeks without consuming (MSG_PEEK).
int peek_flag() noexcept;
/// A connected SOCK_SEQPACKET pair, or two invalid_handle where there is no such type.
std::pair<native_handle, native_handle> seqpacket_pair();
/// Makes close() reset the connection (SO_LINGER with a zero timeout).
void set_abortive_close(native_handle h);
/// A blocking connect of a new non-blocking socket of `addr`'s family; throws on failure.
native_handle connect_blocking(const Address& addr);
/// Waits (at most a few seconds) for a pending connection and accepts it, non-blocking.
native_handle accept_blocking(native_handle listener);
/// Whether a child process would inherit `h` (POSIX: no FD_CLOEXEC).
bool inheritable(native_handle h);
/// Makes `h` answer to the number `wanted` (dup2) and returns it; where handle numbers
/// cannot be chosen (Windows) returns `h` unchanged.
native_handle renumber(native_handle h, native_handle wanted);

}  // namespace corio::testing
