// POSIX's socket address headers and the few address details that differ from
// Windows, for os/address.cpp and os/net_posix.cpp. cmake/Backends.cmake names
// this file (or its twin, sockaddr_win.hpp) in CORIO_SOCKADDR_HEADER.
#pragma once

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "corio/os/net.hpp"

namespace corio::sockaddr_os {

/// Readies the OS's socket library before an address call (nothing to do on POSIX).
inline void start() {}

/// Fills in the length byte BSD sockaddrs carry first (sin_len, sin6_len, sun_len), which
/// getsockname() reports, so that addresses corio builds compare equal to the kernel's.
template <class SockaddrT>
void set_length([[maybe_unused]] SockaddrT& addr, [[maybe_unused]] std::size_t size) noexcept {
#if CORIO_HAVE_SA_LEN
  reinterpret_cast<sockaddr&>(addr).sa_len = static_cast<std::uint8_t>(size);
#endif
}

/// The index of the interface an IPv6 zone names ("eth0"), or 0 if there is none.
inline std::uint32_t zone_index(const std::string& name) noexcept {
  return ::if_nametoindex(name.c_str());
}

/// getaddrinfo's text for its error `code`.
inline std::string resolver_message(int code) {
  return ::gai_strerror(code);
}

/// Whether getaddrinfo's `rc` means "the error is in errno".
inline bool resolver_failed_in_errno(int rc) noexcept {
  return rc == EAI_SYSTEM;
}

}  // namespace corio::sockaddr_os
