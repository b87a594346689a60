// corio::Address: building, reading and printing socket addresses. The same on every
// platform; what differs (headers, BSD length bytes, IPv6 zone names, Winsock start-up)
// comes from the platform's sockaddr header through os/sockaddr.hpp.
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "corio/os/net.hpp"
#include "os/sockaddr.hpp"

namespace corio {
namespace {

using sockaddr_os::sa;

void set_v4(Address& out, in_addr addr, std::uint16_t port) {
  sockaddr_in sin{};
  sockaddr_os::set_length(sin, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr = addr;
  std::memcpy(out.raw().data, &sin, sizeof sin);
  out.raw().size = sizeof sin;
}

void set_v4(Address& out, std::uint32_t host_order, std::uint16_t port) {
  in_addr addr{};
  addr.s_addr = htonl(host_order);
  set_v4(out, addr, port);
}

void set_v6(Address& out, const in6_addr& addr, std::uint16_t port, std::uint32_t scope) {
  sockaddr_in6 sin6{};
  sockaddr_os::set_length(sin6, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin6.sin6_addr = addr;
  sin6.sin6_scope_id = scope;
  std::memcpy(out.raw().data, &sin6, sizeof sin6);
  out.raw().size = sizeof sin6;
}

// An IPv6 address for ipv6, else the IPv4 one (given in host byte order).
Address well_known(AddressFamily family, const in6_addr& v6, std::uint32_t v4, std::uint16_t port) {
  Address a;
  if (family == AddressFamily::ipv6) {
    set_v6(a, v6, port, 0);
  } else {
    set_v4(a, v4, port);
  }
  return a;
}

}  // namespace

Address Address::ip(std::string_view host, std::uint16_t port) {
  sockaddr_os::start();
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
    scope = sockaddr_os::zone_index(zone);
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
  return well_known(family, in6addr_any, INADDR_ANY, port);
}

Address Address::loopback(AddressFamily family, std::uint16_t port) {
  return well_known(family, in6addr_loopback, INADDR_LOOPBACK, port);
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
  // error (or, on Windows, '@' is an ordinary file name): say what is wrong instead.
  if (abstract) {
    throw std::invalid_argument("corio: abstract Unix socket names ('@...') are Linux-only");
  }
#endif
  if (abstract) sun.sun_path[0] = '\0';
  // An abstract name is exactly its bytes; a path is NUL-terminated.
  const std::size_t size = offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1);
  sockaddr_os::set_length(sun, size);
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
  char buf[INET6_ADDRSTRLEN + 1] = {};
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

}  // namespace corio
