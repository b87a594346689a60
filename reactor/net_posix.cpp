// The POSIX socket calls behind corio/reactor/net.hpp.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "corio/reactor/net.hpp"
#include "reactor/posix_fd.hpp"

namespace corio {
namespace {

static_assert(sizeof(SocketAddress::data) >= sizeof(sockaddr_storage));

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

sockaddr* sa(SocketAddress& a) noexcept {
  return reinterpret_cast<sockaddr*>(a.data);
}
const sockaddr* sa(const SocketAddress& a) noexcept {
  return reinterpret_cast<const sockaddr*>(a.data);
}

int native_family(AddressFamily f) noexcept {
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

int native_type(SocketType t) noexcept {
  return t == SocketType::stream ? SOCK_STREAM : SOCK_DGRAM;
}

void set_v4(Address& out, in_addr addr, std::uint16_t port) {
  sockaddr_in sin{};
#if CORIO_HAVE_SA_LEN
  sin.sin_len = sizeof sin;
#endif
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr = addr;
  std::memcpy(out.raw().data, &sin, sizeof sin);
  out.raw().size = sizeof sin;
}

void set_v6(Address& out, const in6_addr& addr, std::uint16_t port, std::uint32_t scope) {
  sockaddr_in6 sin6{};
#if CORIO_HAVE_SA_LEN
  sin6.sin6_len = sizeof sin6;
#endif
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin6.sin6_addr = addr;
  sin6.sin6_scope_id = scope;
  std::memcpy(out.raw().data, &sin6, sizeof sin6);
  out.raw().size = sizeof sin6;
}

struct OptionSpec {
  int level;
  int name;
};

OptionSpec spec(SocketOption o) noexcept {
  switch (o) {
    case SocketOption::reuse_address:
      return {SOL_SOCKET, SO_REUSEADDR};
    case SocketOption::reuse_port:
      return {SOL_SOCKET, SO_REUSEPORT};
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

class ResolverCategory : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "resolver"; }
  [[nodiscard]] std::string message(int code) const override { return ::gai_strerror(code); }
};

}  // namespace

Address Address::ip(std::string_view host, std::uint16_t port) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  Address a;
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    set_v4(a, v4, port);
    return a;
  }
  std::uint32_t scope = 0;
  if (auto pct = h.find('%'); pct != std::string::npos) {
    std::string zone = h.substr(pct + 1);
    h.resize(pct);
    scope = ::if_nametoindex(zone.c_str());
    if (scope == 0) {
      char* end = nullptr;
      scope = static_cast<std::uint32_t>(std::strtoul(zone.c_str(), &end, 10));
      if (end == zone.c_str() || *end != '\0') {
        throw std::invalid_argument("corio: unknown IPv6 zone '" + zone + "'");
      }
    }
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    set_v6(a, v6, port, scope);
    return a;
  }
  throw std::invalid_argument("corio: '" + std::string(host) + "' is not a numeric IP address");
}

Address Address::any(AddressFamily family, std::uint16_t port) {
  Address a;
  if (family == AddressFamily::ipv6) {
    set_v6(a, in6addr_any, port, 0);
  } else {
    set_v4(a, in_addr{htonl(INADDR_ANY)}, port);
  }
  return a;
}

Address Address::loopback(AddressFamily family, std::uint16_t port) {
  Address a;
  if (family == AddressFamily::ipv6) {
    set_v6(a, in6addr_loopback, port, 0);
  } else {
    set_v4(a, in_addr{htonl(INADDR_LOOPBACK)}, port);
  }
  return a;
}

Address Address::local(std::string_view path) {
  sockaddr_un sun{};
  if (path.empty() || path.size() >= sizeof sun.sun_path) {
    throw std::invalid_argument("corio: a Unix socket path must have 1 to " +
                                std::to_string(sizeof sun.sun_path - 1) + " bytes");
  }
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  const bool abstract = path.front() == '@';
#if !CORIO_HAVE_ABSTRACT_UNIX_SOCKETS
  // Elsewhere a leading NUL is no namespace, just a path bind() refuses with a puzzling
  // error: say what is wrong instead.
  if (abstract) {
    throw std::invalid_argument("corio: abstract Unix socket names ('@...') are Linux-only");
  }
#endif
  if (abstract) sun.sun_path[0] = '\0';
  // An abstract name is exactly its bytes; a path is NUL-terminated.
  const std::size_t size = offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1);
#if CORIO_HAVE_SA_LEN
  sun.sun_len = static_cast<std::uint8_t>(size);  // as getsockname() reports it, for ==
#endif
  Address a;
  std::memcpy(a.raw_.data, &sun, sizeof sun);
  a.raw_.size = static_cast<std::uint32_t>(size);
  return a;
}

AddressFamily Address::family() const noexcept {
  if (raw_.size == 0) return AddressFamily::unspecified;
  switch (sa(raw_)->sa_family) {
    case AF_INET:
      return AddressFamily::ipv4;
    case AF_INET6:
      return AddressFamily::ipv6;
    case AF_UNIX:
      return AddressFamily::local;
    default:
      return AddressFamily::unspecified;
  }
}

std::uint16_t Address::port() const noexcept {
  switch (family()) {
    case AddressFamily::ipv4:
      return ntohs(reinterpret_cast<const sockaddr_in*>(raw_.data)->sin_port);
    case AddressFamily::ipv6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(raw_.data)->sin6_port);
    default:
      return 0;
  }
}

std::string Address::host() const {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
  switch (family()) {
    case AddressFamily::ipv4:
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(raw_.data)->sin_addr, buf,
                  sizeof buf);
      return buf;
    case AddressFamily::ipv6: {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(raw_.data);
      ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
      std::string s = buf;
      if (sin6->sin6_scope_id != 0) {
        s += '%';
        s += std::to_string(sin6->sin6_scope_id);
      }
      return s;
    }
    case AddressFamily::local: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(raw_.data);
      const std::size_t n = raw_.size - offsetof(sockaddr_un, sun_path);
      if (n == 0) return "";  // unnamed (a socketpair end, an unbound client)
      if (sun->sun_path[0] == '\0') {
        std::string name(1, '@');
        name.append(sun->sun_path + 1, n - 1);
        return name;
      }
      return std::string(sun->sun_path, ::strnlen(sun->sun_path, n));
    }
    case AddressFamily::unspecified:
      break;
  }
  return "";
}

std::string Address::to_string() const {
  switch (family()) {
    case AddressFamily::ipv4:
      return host().append(1, ':').append(std::to_string(port()));
    case AddressFamily::ipv6:
      // Appends only: g++ 12 at -O3 warns falsely (-Wrestrict) on "literal" + string.
      return std::string(1, '[').append(host()).append("]:").append(std::to_string(port()));
    default:
      return host();
  }
}

bool operator==(const Address& a, const Address& b) noexcept {
  return a.raw_.size == b.raw_.size && std::memcmp(a.raw_.data, b.raw_.data, a.raw_.size) == 0;
}

namespace net {

native_handle open_socket(AddressFamily family, SocketType type) {
  const int fd = posix::open_socket(native_family(family), native_type(type), 0);
  if (fd < 0) throw_errno("socket");
  return fd;
}

std::pair<native_handle, native_handle> socket_pair(SocketType type) {
  int fd[2];
  if (posix::socket_pair(AF_UNIX, native_type(type), fd) != 0) {
    throw_errno("socketpair");
  }
  return {fd[0], fd[1]};
}

void close_socket(native_handle h) noexcept {
  ::close(static_cast<int>(h));
}

void bind(native_handle h, const Address& addr) {
  if (::bind(static_cast<int>(h), sa(addr.raw()), addr.raw().size) != 0) throw_errno("bind");
}

void listen(native_handle h, int backlog) {
  if (::listen(static_cast<int>(h), backlog) != 0) throw_errno("listen");
}

void set_option(native_handle h, SocketOption option, int value) {
  const OptionSpec s = spec(option);
  if (::setsockopt(static_cast<int>(h), s.level, s.name, &value, sizeof value) != 0) {
    throw_errno("setsockopt");
  }
}

int get_option(native_handle h, SocketOption option) {
  const OptionSpec s = spec(option);
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(static_cast<int>(h), s.level, s.name, &value, &len) != 0) {
    throw_errno("getsockopt");
  }
  return value;
}

bool is_stream(native_handle h) noexcept {
  int type = 0;
  socklen_t len = sizeof type;
  return ::getsockopt(static_cast<int>(h), SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
         type == SOCK_STREAM;
}

void shutdown(native_handle h, ShutdownHow how) {
  const int native = how == ShutdownHow::read    ? SHUT_RD
                     : how == ShutdownHow::write ? SHUT_WR
                                                 : SHUT_RDWR;
  if (::shutdown(static_cast<int>(h), native) != 0) throw_errno("shutdown");
}

std::intptr_t try_send(native_handle h, const void* buf, std::size_t len) noexcept {
  for (;;) {
    // MSG_NOSIGNAL: a vanished peer must be EPIPE, not a signal that kills the process.
    const ssize_t n = ::send(static_cast<int>(h), buf, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

Address local_address(native_handle h) {
  Address a;
  socklen_t len = sizeof a.raw().data;
  if (::getsockname(static_cast<int>(h), sa(a.raw()), &len) != 0) throw_errno("getsockname");
  a.raw().size = len;
  return a;
}

Address peer_address(native_handle h) {
  Address a;
  socklen_t len = sizeof a.raw().data;
  if (::getpeername(static_cast<int>(h), sa(a.raw()), &len) != 0) throw_errno("getpeername");
  a.raw().size = len;
  return a;
}

int max_backlog() noexcept {
  return SOMAXCONN;
}

const std::error_category& resolver_category() noexcept {
  static const ResolverCategory category;
  return category;
}

std::vector<Address> resolve(const std::string& host, std::uint16_t port, AddressFamily family,
                             SocketType type) {
  addrinfo hints{};
  hints.ai_family = native_family(family);
  hints.ai_socktype = native_type(type);
  hints.ai_flags = host.empty() ? AI_PASSIVE : 0;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
  if (rc == EAI_SYSTEM) throw_errno("getaddrinfo");
  if (rc != 0) throw std::system_error(rc, resolver_category(), "getaddrinfo " + host);
  std::vector<Address> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(SocketAddress::data)) continue;
    Address a;
    std::memcpy(a.raw().data, ai->ai_addr, ai->ai_addrlen);
    a.raw().size = static_cast<std::uint32_t>(ai->ai_addrlen);
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeaddrinfo(list);
  return out;
}

}  // namespace net
}  // namespace corio
