// Windows side of raw_socket.hpp (Winsock). Sockets from corio::net are non-blocking.
// winsock2.h first: windows.h would otherwise bring in the old winsock.h.
#include <winsock2.h>

#include <windows.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "os/winsock.hpp"
#include "support/raw_socket.hpp"

namespace corio::testing {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error(winsock::last_errno(), std::generic_category(), what);
}

SOCKET sock(native_handle h) noexcept {
  return static_cast<SOCKET>(h);
}

int clamp(std::size_t n) noexcept {
  return static_cast<int>(std::min<std::size_t>(n, 1u << 30));
}

}  // namespace

std::intptr_t raw_recv(native_handle h, void* buf, std::size_t len) noexcept {
  const int n = ::recv(sock(h), static_cast<char*>(buf), clamp(len), 0);
  return n >= 0 ? n : -winsock::last_errno();
}

bool wait_readable(native_handle h, int timeout_ms) {
  WSAPOLLFD p{};
  p.fd = sock(h);
  p.events = POLLRDNORM;
  return ::WSAPoll(&p, 1, timeout_ms) == 1;
}

int peek_flag() noexcept {
  return MSG_PEEK;
}

std::pair<native_handle, native_handle> seqpacket_pair() {
  return {invalid_handle, invalid_handle};  // Winsock has no SOCK_SEQPACKET for AF_UNIX
}

void set_abortive_close(native_handle h) {
  const linger abort_on_close{1, 0};
  if (::setsockopt(sock(h), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&abort_on_close),
                   sizeof abort_on_close) != 0) {
    fail("setsockopt(SO_LINGER)");
  }
}

native_handle connect_blocking(const Address& addr) {
  const native_handle h = net::open_socket(addr.family(), SocketType::stream);
  if (::connect(sock(h), reinterpret_cast<const sockaddr*>(addr.raw().data),
                static_cast<int>(addr.raw().size)) != 0) {
    if (::WSAGetLastError() != WSAEWOULDBLOCK) fail("connect");
    WSAPOLLFD p{};
    p.fd = sock(h);
    p.events = POLLWRNORM;
    if (::WSAPoll(&p, 1, 5000) != 1) fail("WSAPoll");
    int err = 0;
    int len = sizeof err;
    ::getsockopt(sock(h), SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len);
    if (err != 0) {
      throw std::system_error(winsock::to_errno(static_cast<unsigned long>(err)),
                              std::generic_category(), "connect");
    }
  }
  return h;
}

native_handle accept_blocking(native_handle listener) {
  WSAPOLLFD p{};
  p.fd = sock(listener);
  p.events = POLLRDNORM;
  if (::WSAPoll(&p, 1, 5000) != 1) fail("WSAPoll");
  const SOCKET s = ::accept(sock(listener), nullptr, nullptr);
  if (s == INVALID_SOCKET) fail("accept");
  u_long on = 1;
  ::ioctlsocket(s, FIONBIO, &on);
  return static_cast<native_handle>(s);
}

bool inheritable(native_handle h) {
  DWORD flags = 0;
  if (!::GetHandleInformation(reinterpret_cast<HANDLE>(sock(h)), &flags))
    fail("GetHandleInformation");
  return (flags & HANDLE_FLAG_INHERIT) != 0;
}

native_handle renumber(native_handle h, native_handle /*wanted*/) {
  return h;  // Windows hands out handle values itself
}

}  // namespace corio::testing
