// Winsock's socket address headers and the few address details that differ from POSIX,
// for os/address.cpp and os/net_win.cpp (the twin of sockaddr_posix.hpp).
#pragma once

// winsock2.h first: windows.h would otherwise bring in the old winsock.h.
#include <winsock2.h>

#include <afunix.h>
#include <windows.h>
#include <ws2tcpip.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "corio/os/net.hpp"
#include "os/winsock.hpp"

namespace corio::sockaddr_os {

/// Starts Winsock once (inet_pton and every socket call need it); throws
/// std::system_error if it cannot start.
inline void start() {
  if (const int err = winsock::startup(); err != 0) {
    throw std::system_error(err, std::generic_category(), "WSAStartup");
  }
}

/// Windows sockaddrs carry no length field.
template <class SockaddrT>
void set_length(SockaddrT&, std::size_t) noexcept {}

/// Only numeric IPv6 zones: interface names would need iphlpapi for one rare case.
inline std::uint32_t zone_index(const std::string&) noexcept {
  return 0;
}

/// getaddrinfo's text for its error `code` (the narrow-character variant).
inline std::string resolver_message(int code) {
  return ::gai_strerrorA(code);
}

/// Winsock's getaddrinfo reports every error in its result: none is left in errno.
inline bool resolver_failed_in_errno(int) noexcept {
  return false;
}

}  // namespace corio::sockaddr_os
