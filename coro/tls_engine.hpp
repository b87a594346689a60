// The seam between corio's TLS transport and a TLS library: one session that takes
// ciphertext in and gives ciphertext out through buffers it owns, never touching a
// socket, so the transport can move the bytes with the loop's own operations on any
// backend. tls_openssl.cpp implements it with OpenSSL; tls_none.cpp where no TLS library
// was found (a Schannel engine would be a third file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "corio/coro/tls.hpp"

namespace corio::detail {

/// The socket under a session, for a session that hands its sends to the kernel (Linux
/// kTLS) once the handshake made the keys: the engine calls these from inside its own
/// steps, so none of them may wait.
class KernelTlsSocket {
 public:
  /// Hands every record made so far (the transport's and the engine's output) to the
  /// socket now: true if all of it went, false if some must wait (nothing lost: it
  /// stays for the next flush).
  virtual bool send_all_now() noexcept = 0;
  /// Gives the socket the send keys (os/kernel_tls.hpp); the error if it refuses.
  virtual std::error_code start_kernel_send(const void* crypto_info) noexcept = 0;
  /// Sends one non-application record of `type` as plaintext for the kernel to frame:
  /// its size, -EAGAIN if the socket cannot take it whole now, or -errno.
  virtual std::intptr_t send_record(unsigned char type, std::span<const char> record) noexcept = 0;

 protected:
  ~KernelTlsSocket() = default;
};

class TlsEngine {
 public:
  /// How a step ended: done, it needs more ciphertext from the peer first, or (with the
  /// kernel sending) the socket must take what waits before the step can go on.
  enum class Status : unsigned char { ok, want_read, want_write, closed };

  TlsEngine() = default;
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;
  virtual ~TlsEngine() = default;

  /// Advances the handshake: ok once it is complete, want_read if it waits for the
  /// peer. Throws TlsError (protocol, verification).
  virtual Status handshake() = 0;
  /// Decrypts into `out`: ok with `n` > 0 bytes, want_read, or closed (the peer's
  /// close_notify). Throws TlsError.
  virtual Status read(std::span<char> out, std::size_t& n) = 0;
  /// Encrypts up to all of `in` into records waiting in the output; returns how much
  /// plaintext it took. Throws TlsError.
  virtual std::size_t write(std::span<const char> in) = 0;
  /// Queues close_notify in the output (ok), or want_write if the kernel sends and the
  /// socket cannot take it now (call again once it can).
  virtual Status shutdown() noexcept = 0;

  /// Lets the session hand its sends to the kernel through `socket` (which must outlive
  /// it) when the handshake makes the keys, where the kernel and the cipher allow.
  /// Before the handshake.
  virtual void offer_kernel_tls(KernelTlsSocket& socket) noexcept = 0;
  /// Whether the kernel encrypts this session's sends now: plaintext written to the
  /// socket goes out as application data records, and write() is not needed.
  [[nodiscard]] virtual bool kernel_sends() const noexcept = 0;
  /// Why an offered session still sends its own records ("" if it does not, or if
  /// kernel TLS was never offered).
  [[nodiscard]] virtual std::string kernel_tls_note() const = 0;

  /// Hands ciphertext received from the peer to the session (a copy).
  virtual void feed(std::span<const char> ciphertext) = 0;
  /// Where the next receive may put ciphertext, so it reaches the decrypter without a
  /// copy of ours: room for at least one full record at the end of the session's input.
  /// It stays valid until the next input_space() or feed(); commit_input(n) then hands
  /// its first `n` bytes to the session.
  [[nodiscard]] virtual std::span<char> input_space() = 0;
  virtual void commit_input(std::size_t n) noexcept = 0;
  /// Ciphertext waiting to be sent, in bytes.
  [[nodiscard]] virtual std::size_t output_size() const noexcept = 0;
  /// Moves up to `out.size()` bytes of the waiting ciphertext into `out`.
  virtual std::size_t take_output(std::span<char> out) noexcept = 0;
  /// Appends all the waiting ciphertext to `out`; into an empty `out` it moves without
  /// a copy (the two buffers trade places, so neither allocates again).
  virtual void take_output(std::string& out) = 0;

  /// What the handshake negotiated.
  [[nodiscard]] virtual TlsInfo info() const = 0;
};

/// A session for `ctx`'s side. A client names the server in `server_hostname`, which it
/// sends as SNI (unless it is an IP address) and checks the certificate against when
/// the context verifies. TlsError(unavailable) without a TLS library.
[[nodiscard]] std::unique_ptr<TlsEngine> make_tls_engine(const TlsContext& ctx,
                                                         const std::string& server_hostname);
/// std::invalid_argument if a session of `ctx` could not check who the peer is: a
/// verifying client given no server name. Called before anything is committed to TLS.
void check_server_hostname(const TlsContext& ctx, std::string_view server_hostname);

}  // namespace corio::detail
