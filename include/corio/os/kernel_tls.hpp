// Kernel TLS (Linux's `tls` upper layer protocol): the socket calls that let the kernel
// frame and encrypt a TLS session's records once the handshake has made the keys. The
// TLS engine decides when; these only talk to the socket. Every platform links one
// implementation (os/kernel_tls_linux.cpp, or os/kernel_tls_none.cpp without kTLS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "corio/os/handle.hpp"

namespace corio::net {

/// Whether the kernel could take over a TLS session's records: an empty error code if
/// so, else why not (ENOENT: the kernel has no tls ULP; ENOTSUP: no kTLS on this OS).
/// Probed once per process, on a socket of its own that it throws away, so no
/// connection carries the ULP by accident.
[[nodiscard]] std::error_code kernel_tls_support() noexcept;

/// Attaches the tls ULP to the connected TCP socket `h` (if it has none yet) and hands
/// it the send keys in `crypto_info` (a `struct tls12_crypto_info_*`, as OpenSSL makes
/// it: key, IV, salt and the next record's sequence number). From then on the kernel
/// encrypts what is sent on `h` as application data records. Only while nothing sent
/// before it is still to be handed to the socket. The error if the kernel refuses
/// (EOPNOTSUPP: not a TCP socket; EINVAL: a cipher it does not take); the socket keeps
/// working as before then: no key was taken.
[[nodiscard]] std::error_code start_kernel_tls_send(native_handle h,
                                                    const void* crypto_info) noexcept;

/// Sends `len` bytes of plaintext as one record of TLS content type `type` (alert,
/// handshake) on a socket whose sends the kernel encrypts; it never blocks and never
/// sends part of the record: `len`, or -EAGAIN (nothing sent) or -errno.
[[nodiscard]] std::intptr_t try_send_tls_record(native_handle h, unsigned char type,
                                                const void* buf, std::size_t len) noexcept;

}  // namespace corio::net
