// corio/os/kernel_tls.hpp where the OS has no kernel TLS behind socket options (Windows'
// is Schannel's, behind its own API; the BSDs' and macOS's are not wired up).
#include <cerrno>

#include "corio/os/kernel_tls.hpp"

namespace corio::net {

std::error_code kernel_tls_support() noexcept {
  return std::make_error_code(std::errc::not_supported);
}

std::error_code start_kernel_tls_send(native_handle /*h*/, const void* /*crypto_info*/) noexcept {
  return std::make_error_code(std::errc::not_supported);
}

std::intptr_t try_send_tls_record(native_handle /*h*/, unsigned char /*type*/, const void* /*buf*/,
                                  std::size_t /*len*/) noexcept {
  return -ENOTSUP;
}

}  // namespace corio::net
