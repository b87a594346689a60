// What os/address.cpp and the platform's net file (net_posix.cpp, net_win.cpp)
// share: the platform's sockaddr headers, named by cmake/Backends.cmake in
// CORIO_SOCKADDR_HEADER (os/sockaddr_posix.hpp or os/sockaddr_win.hpp), and
// the conversions both sides need.
#pragma once

#include CORIO_SOCKADDR_HEADER

namespace corio::sockaddr_os {

static_assert(sizeof(SocketAddress::data) >= sizeof(sockaddr_storage));

inline sockaddr* sa(SocketAddress& a) noexcept {
  return reinterpret_cast<sockaddr*>(a.data);
}
inline const sockaddr* sa(const SocketAddress& a) noexcept {
  return reinterpret_cast<const sockaddr*>(a.data);
}

/// AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC.
inline int native_family(AddressFamily f) noexcept {
  switch (f) {
    case AddressFamily::ipv4:
      return AF_INET;
    case AddressFamily::ipv6:
      return AF_INET6;
    case AddressFamily::local:
      return AF_UNIX;
    case AddressFamily::unspecified:
      break;
  }
  return AF_UNSPEC;
}

/// SOCK_STREAM or SOCK_DGRAM.
inline int native_type(SocketType t) noexcept {
  return t == SocketType::stream ? SOCK_STREAM : SOCK_DGRAM;
}

}  // namespace corio::sockaddr_os
