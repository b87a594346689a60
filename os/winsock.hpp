// Winsock plumbing shared by the IOCP backend and os/net_win.cpp: starting Winsock
// once per process and the one table that turns Windows error codes into the errno
// values the layers above expect.
#pragma once

namespace corio::winsock {

/// Starts Winsock 2.2 on first use (a function-local static, so thread-safe) and returns
/// 0, or the errno equivalent of WSAStartup's failure. Every later call is free.
[[nodiscard]] int startup() noexcept;

/// The errno value for a Win32 or Winsock error code (ERROR_*, WSAE*): ECONNRESET for
/// WSAECONNRESET and ERROR_NETNAME_DELETED, ECANCELED for ERROR_OPERATION_ABORTED, ...
/// Codes with no counterpart become EIO.
[[nodiscard]] int to_errno(unsigned long code) noexcept;

/// to_errno of the calling thread's last Winsock error (WSAGetLastError).
[[nodiscard]] int last_errno() noexcept;

}  // namespace corio::winsock
