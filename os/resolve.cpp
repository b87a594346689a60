// net::resolve: getaddrinfo as corio addresses. The same on every platform; the error
// text and the "see errno" code differ and come from the platform's sockaddr header.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "corio/os/net.hpp"
#include "os/sockaddr.hpp"

namespace corio::net {
namespace {

class ResolverCategory : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "resolver"; }
  [[nodiscard]] std::string message(int code) const override {
    return sockaddr_os::resolver_message(code);
  }
};

}  // namespace

const std::error_category& resolver_category() noexcept {
  static const ResolverCategory category;
  return category;
}

std::vector<Address> resolve(const std::string& host, std::uint16_t port, AddressFamily family,
                             SocketType type) {
  sockaddr_os::start();
  addrinfo hints{};
  hints.ai_family = sockaddr_os::native_family(family);
  hints.ai_socktype = sockaddr_os::native_type(type);
  hints.ai_flags = host.empty() ? AI_PASSIVE : 0;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
  if (sockaddr_os::resolver_failed_in_errno(rc)) {
    throw std::system_error(errno, std::system_category(), "getaddrinfo");
  }
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

}  // namespace corio::net
