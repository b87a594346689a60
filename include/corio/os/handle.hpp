// The OS layer's names for what every layer above passes around: a handle as the OS
// numbers it, and room for any socket address. Plain integers and bytes, so no public
// header names an OS type.
#pragma once

#include <cstddef>
#include <cstdint>

namespace corio {

/// A socket, pipe or file handle as the OS names it (a file descriptor on POSIX, a
/// SOCKET or HANDLE on Windows). Kept as an integer so public headers name no OS type.
using native_handle = std::intptr_t;

/// The value of a native_handle that refers to nothing.
inline constexpr native_handle invalid_handle = -1;

/// Storage for any socket address (the size of `sockaddr_storage`), opaque above the
/// OS layer; `size` is the number of meaningful bytes.
struct SocketAddress {
  alignas(8) std::byte data[128]{};
  std::uint32_t size = 0;
};

/// One piece of a vectored read or write: `size` bytes at `data` (struct iovec's layout
/// on POSIX, so a list of them goes to readv/writev as it is).
struct IoSlice {
  void* data = nullptr;
  std::size_t size = 0;
};

}  // namespace corio
