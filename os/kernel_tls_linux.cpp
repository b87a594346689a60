// corio/os/kernel_tls.hpp on Linux: the tls ULP, TLS_TX and TLS_SET_RECORD_TYPE (the
// kernel's Documentation/networking/tls.rst).
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "corio/os/kernel_tls.hpp"

namespace corio::net {
namespace {

constexpr char kUlp[] = "tls";

std::error_code last_error() noexcept {
  return {errno, std::generic_category()};
}

// The size of the crypto_info the kernel expects for its cipher: OpenSSL's own struct
// around it is private to OpenSSL, the kernel's header is not.
std::size_t crypto_info_size(const tls_crypto_info& head) noexcept {
  switch (head.cipher_type) {
    case TLS_CIPHER_AES_GCM_128:
      return sizeof(tls12_crypto_info_aes_gcm_128);
    case TLS_CIPHER_AES_GCM_256:
      return sizeof(tls12_crypto_info_aes_gcm_256);
    case TLS_CIPHER_AES_CCM_128:
      return sizeof(tls12_crypto_info_aes_ccm_128);
    case TLS_CIPHER_CHACHA20_POLY1305:
      return sizeof(tls12_crypto_info_chacha20_poly1305);
    default:
      return 0;
  }
}

}  // namespace

std::error_code kernel_tls_support() noexcept {
  static const std::error_code support = [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return last_error();
    // Asking an unconnected socket for the ULP loads the tls module if there is one,
    // then refuses (ENOTCONN: the ULP exists but needs a connection); ENOENT means the
    // kernel has none. Asking a real connection would attach it for good.
    const int r = ::setsockopt(fd, IPPROTO_TCP, TCP_ULP, kUlp, sizeof kUlp - 1);
    const int e = r == 0 ? 0 : errno;
    ::close(fd);
    if (r == 0 || e == ENOTCONN) return std::error_code();
    return std::error_code(e, std::generic_category());
  }();
  return support;
}

std::error_code start_kernel_tls_send(native_handle h, const void* crypto_info) noexcept {
  tls_crypto_info head{};
  std::memcpy(&head, crypto_info, sizeof head);
  const std::size_t size = crypto_info_size(head);
  if (size == 0) return std::make_error_code(std::errc::invalid_argument);  // as the kernel
  const int fd = static_cast<int>(h);
  // EEXIST: attached already (a key change after the first).
  if (::setsockopt(fd, IPPROTO_TCP, TCP_ULP, kUlp, sizeof kUlp - 1) != 0 && errno != EEXIST) {
    return last_error();
  }
  if (::setsockopt(fd, SOL_TLS, TLS_TX, crypto_info, static_cast<socklen_t>(size)) != 0) {
    return last_error();
  }
  return {};
}

std::intptr_t try_send_tls_record(native_handle h, unsigned char type, const void* buf,
                                  std::size_t len) noexcept {
  iovec part{const_cast<void*>(buf), len};
  alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof type)] = {};
  msghdr msg{};
  msg.msg_iov = &part;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_TLS;
  c->cmsg_type = TLS_SET_RECORD_TYPE;
  c->cmsg_len = CMSG_LEN(sizeof type);
  std::memcpy(CMSG_DATA(c), &type, sizeof type);
  for (;;) {
    // A non-blocking send with a record type pushes the whole record or nothing
    // (EAGAIN). MSG_NOSIGNAL: a vanished peer is EPIPE, not a signal.
    const ssize_t n = ::sendmsg(static_cast<int>(h), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

}  // namespace corio::net
