// The Winsock calls behind corio/os/net.hpp (the Windows twin of net_posix.cpp).
// Sockets are created overlapped (for the IOCP backend), non-inheritable (close-on-exec)
// and non-blocking (for try_send); errors are turned into errno values in one place,
// os/winsock.cpp, so the layers above see what they see on POSIX.
// winsock2.h first: windows.h would otherwise bring in the old winsock.h.
#include <winsock2.h>

#include <afunix.h>
#include <windows.h>
#include <ws2tcpip.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "corio/os/net.hpp"
#include "os/sockaddr.hpp"
#include "os/winsock.hpp"

namespace corio {
namespace {

using sockaddr_os::native_family;
using sockaddr_os::native_type;
using sockaddr_os::sa;

static_assert(sizeof(SOCKET) <= sizeof(native_handle));

// errno values, so the generic category: mingw's system_category() reads its codes as
// Windows error numbers (its message for ECONNREFUSED would be some ERROR_* text).
[[noreturn]] void throw_code(int err, const char* what) {
  throw std::system_error(err, std::generic_category(), what);
}

[[noreturn]] void throw_wsa(const char* what) {
  throw_code(winsock::last_errno(), what);
}

SOCKET sock(native_handle h) noexcept {
  return static_cast<SOCKET>(h);
}

struct OptionSpec {
  int level;
  int name;
};

// Windows has no SO_REUSEPORT, and its SO_REUSEADDR lets another socket take over a
// bound port, which is not what POSIX's means (bind despite TIME_WAIT, which Windows
// allows by default). So reuse_address maps to nothing (see set_option) and reuse_port
// is refused with ENOPROTOOPT.
OptionSpec spec(SocketOption o) noexcept {
  switch (o) {
    case SocketOption::reuse_address:
    case SocketOption::reuse_port:
      return {SOL_SOCKET, 0};
    case SocketOption::no_delay:
      return {IPPROTO_TCP, TCP_NODELAY};
    case SocketOption::keep_alive:
      return {SOL_SOCKET, SO_KEEPALIVE};
    case SocketOption::broadcast:
      return {SOL_SOCKET, SO_BROADCAST};
    case SocketOption::v6_only:
      return {IPPROTO_IPV6, IPV6_V6ONLY};
    case SocketOption::recv_buffer:
      return {SOL_SOCKET, SO_RCVBUF};
    case SocketOption::send_buffer:
      return {SOL_SOCKET, SO_SNDBUF};
  }
  return {SOL_SOCKET, 0};
}

// The address getsockname or getpeername (`call`) gives for `h`.
template <class Call>
Address name_of(native_handle h, Call call, const char* what) {
  Address a;
  int len = sizeof a.raw().data;
  if (call(sock(h), sa(a.raw()), &len) != 0) throw_wsa(what);
  a.raw().size = static_cast<std::uint32_t>(len);
  return a;
}

SOCKET new_socket(int family, int type) {
  sockaddr_os::start();
  // Overlapped for IOCP; not inherited by child processes (POSIX's close-on-exec).
  SOCKET s =
      ::WSASocketW(family, type, 0, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) throw_wsa("socket");
  // Non-blocking too: try_send and the synchronous calls must never block the loop.
  // Overlapped operations are not affected: they still pend.
  u_long on = 1;
  if (::ioctlsocket(s, FIONBIO, &on) != 0) {
    const int err = ::WSAGetLastError();
    ::closesocket(s);
    throw_code(winsock::to_errno(static_cast<unsigned long>(err)), "ioctlsocket");
  }
  return s;
}

// Blocks until `s` is connected or fails (used only by socket_pair on loopback).
void wait_connected(SOCKET s) {
  WSAPOLLFD p{};
  p.fd = s;
  p.events = POLLWRNORM;
  if (::WSAPoll(&p, 1, 10000) != 1) throw_code(ETIMEDOUT, "socketpair: connect");
  int err = 0;
  int len = sizeof err;
  ::getsockopt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len);
  if (err != 0) throw_code(winsock::to_errno(static_cast<unsigned long>(err)), "socketpair");
}

}  // namespace

namespace net {

native_handle open_socket(AddressFamily family, SocketType type) {
  return static_cast<native_handle>(new_socket(native_family(family), native_type(type)));
}

// Windows has no socketpair(); a connected loopback pair stands in for it (what CPython's
// socket.socketpair and libuv do). Datagram pairs are two UDP sockets connected to each
// other. A stream pair gets TCP_NODELAY so small writes travel at once, as on a Unix pair.
std::pair<native_handle, native_handle> socket_pair(SocketType type) {
  Address lo = Address::loopback(AddressFamily::ipv4, 0);
  if (type == SocketType::datagram) {
    SOCKET a = new_socket(AF_INET, SOCK_DGRAM);
    SOCKET b = INVALID_SOCKET;
    try {
      b = new_socket(AF_INET, SOCK_DGRAM);
      bind(static_cast<native_handle>(a), lo);
      bind(static_cast<native_handle>(b), lo);
      const Address addr_a = local_address(static_cast<native_handle>(a));
      const Address addr_b = local_address(static_cast<native_handle>(b));
      if (::connect(a, sa(addr_b.raw()), static_cast<int>(addr_b.raw().size)) != 0 ||
          ::connect(b, sa(addr_a.raw()), static_cast<int>(addr_a.raw().size)) != 0) {
        throw_wsa("socketpair: connect");
      }
    } catch (...) {
      ::closesocket(a);
      if (b != INVALID_SOCKET) ::closesocket(b);
      throw;
    }
    return {static_cast<native_handle>(a), static_cast<native_handle>(b)};
  }
  SOCKET listener = new_socket(AF_INET, SOCK_STREAM);
  SOCKET a = INVALID_SOCKET;
  SOCKET b = INVALID_SOCKET;
  try {
    bind(static_cast<native_handle>(listener), lo);
    listen(static_cast<native_handle>(listener), 1);
    const Address addr = local_address(static_cast<native_handle>(listener));
    a = new_socket(AF_INET, SOCK_STREAM);
    if (::connect(a, sa(addr.raw()), static_cast<int>(addr.raw().size)) != 0 &&
        ::WSAGetLastError() != WSAEWOULDBLOCK) {
      throw_wsa("socketpair: connect");
    }
    WSAPOLLFD p{};
    p.fd = listener;
    p.events = POLLRDNORM;
    if (::WSAPoll(&p, 1, 10000) != 1) throw_code(ETIMEDOUT, "socketpair: accept");
    b = ::accept(listener, nullptr, nullptr);
    if (b == INVALID_SOCKET) throw_wsa("socketpair: accept");
    wait_connected(a);
    // accept() documents that the new socket shares the listener's properties, but not
    // which ones: set non-blocking and non-inheritable explicitly.
    u_long on = 1;
    ::ioctlsocket(b, FIONBIO, &on);
    ::SetHandleInformation(reinterpret_cast<HANDLE>(b), HANDLE_FLAG_INHERIT, 0);
    // Buffers the size of a Unix pair's (208 KiB on Linux) rather than TCP's autotuned
    // megabytes, so a writer fills the pair as it would on POSIX.
    const int one = 1;
    const int buffer = 208 << 10;
    for (SOCKET s : {a, b}) {
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one), sizeof one);
      ::setsockopt(s, SOL_SOCKET, SO_SNDBUF, reinterpret_cast<const char*>(&buffer), sizeof buffer);
      ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&buffer), sizeof buffer);
    }
    ::closesocket(listener);
  } catch (...) {
    ::closesocket(listener);
    if (a != INVALID_SOCKET) ::closesocket(a);
    if (b != INVALID_SOCKET) ::closesocket(b);
    throw;
  }
  return {static_cast<native_handle>(a), static_cast<native_handle>(b)};
}

void close_socket(native_handle h) noexcept {
  ::closesocket(sock(h));
}

void bind(native_handle h, const Address& addr) {
  if (::bind(sock(h), sa(addr.raw()), static_cast<int>(addr.raw().size)) != 0) throw_wsa("bind");
}

void listen(native_handle h, int backlog) {
  if (::listen(sock(h), backlog) != 0) throw_wsa("listen");
}

void set_option(native_handle h, SocketOption option, int value) {
  if (option == SocketOption::reuse_address) return;  // Windows' default already (spec())
  if (option == SocketOption::reuse_port) {
    throw_code(ENOPROTOOPT, "setsockopt(SO_REUSEPORT): not available on Windows");
  }
  const OptionSpec s = spec(option);
  if (::setsockopt(sock(h), s.level, s.name, reinterpret_cast<const char*>(&value), sizeof value) !=
      0) {
    throw_wsa("setsockopt");
  }
}

int get_option(native_handle h, SocketOption option) {
  if (option == SocketOption::reuse_address) return 1;  // what set_option(.., 1) promises
  if (option == SocketOption::reuse_port) {
    throw_code(ENOPROTOOPT, "getsockopt(SO_REUSEPORT): not available on Windows");
  }
  const OptionSpec s = spec(option);
  int value = 0;
  int len = sizeof value;
  if (::getsockopt(sock(h), s.level, s.name, reinterpret_cast<char*>(&value), &len) != 0) {
    throw_wsa("getsockopt");
  }
  return value;
}

bool is_stream(native_handle h) noexcept {
  int type = 0;
  int len = sizeof type;
  return ::getsockopt(sock(h), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &len) == 0 &&
         type == SOCK_STREAM;
}

void shutdown(native_handle h, ShutdownHow how) {
  const int native = how == ShutdownHow::read    ? SD_RECEIVE
                     : how == ShutdownHow::write ? SD_SEND
                                                 : SD_BOTH;
  if (::shutdown(sock(h), native) != 0) throw_wsa("shutdown");
}

std::intptr_t try_send(native_handle h, const void* buf, std::size_t len) noexcept {
  // Windows never raises SIGPIPE; the socket is non-blocking, so a full buffer is
  // WSAEWOULDBLOCK, i.e. -EAGAIN.
  const int n = ::send(sock(h), static_cast<const char*>(buf),
                       static_cast<int>(std::min<std::size_t>(len, 1u << 30)), 0);
  if (n >= 0) return n;
  return -winsock::last_errno();
}

Address local_address(native_handle h) {
  return name_of(h, ::getsockname, "getsockname");
}

Address peer_address(native_handle h) {
  return name_of(h, ::getpeername, "getpeername");
}

int max_backlog() noexcept {
  // Winsock's SOMAXCONN asks for "a reasonable maximum" (0x7fffffff); say so directly.
  return SOMAXCONN;
}

}  // namespace net
}  // namespace corio
