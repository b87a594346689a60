// TLS: contexts, errors and what a session negotiated (asyncio's ssl.SSLContext and the
// ssl= arguments of open_connection and start_server). The sessions themselves are
// transports (corio/coro/transport.hpp): streams run over them unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "corio/coro/coro.hpp"
#include "corio/coro/transport.hpp"
#include "corio/reactor/clock.hpp"

namespace corio {

/// What went wrong in a TLS session (the category of TlsError's code).
enum class TlsErrc : int {
  protocol = 1,   ///< the peer broke the protocol, or the handshake failed
  verification,   ///< the peer's certificate was refused (see TlsError::verify_result)
  truncated,      ///< the connection closed without close_notify (a truncation attack?)
  configuration,  ///< a context setting was refused (bad certificate file, ...)
  unavailable,    ///< this corio was built without TLS
};

/// The error category of TlsErrc ("corio.tls").
[[nodiscard]] const std::error_category& tls_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(TlsErrc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

/// A TLS failure (asyncio's ssl.SSLError and ssl.SSLCertVerificationError): what() has
/// the TLS library's reason; for a refused certificate, verify_result() says why
/// ("certificate has expired", "hostname mismatch", ...).
class TlsError : public std::system_error {
 public:
  TlsError(TlsErrc code, const std::string& what, std::string verify_result = {})
      : std::system_error(make_error_code(code), what), verify_result_(std::move(verify_result)) {}
  /// Why the peer's certificate was refused; empty unless code() is verification.
  [[nodiscard]] const std::string& verify_result() const noexcept { return verify_result_; }

 private:
  std::string verify_result_;
};

/// The lowest protocol version a context accepts.
enum class TlsVersion : std::uint8_t { tls1_2, tls1_3 };

/// Which side of the handshake a context is for.
enum class TlsRole : std::uint8_t { client, server };

/// What a session negotiated (asyncio's ssl_object.version(), cipher(),
/// selected_alpn_protocol(), server_hostname, getpeercert()).
struct TlsInfo {
  std::string version;       ///< "TLSv1.3"
  std::string cipher;        ///< "TLS_AES_256_GCM_SHA384"
  std::string alpn;          ///< the ALPN protocol chosen, "" if none
  std::string server_name;   ///< SNI: the name the client asked for, "" if none
  std::string peer_subject;  ///< the peer certificate's subject, "" if it sent none
  bool resumed = false;      ///< whether the session was resumed (no full handshake)
  /// Whether the kernel encrypts and frames the records this side sends (Linux kTLS,
  /// from the end of the handshake on): plaintext then goes to the socket as it is,
  /// with no copy and no encryption in user space. Received records are still
  /// decrypted in user space (OpenSSL 3.0 takes no TLS 1.3 receive keys to the
  /// kernel). false: corio makes every record. Debug mode says after each handshake
  /// which it is, and why.
  bool kernel_tls = false;
};

/// Settings shared by many TLS sessions (asyncio's ssl.SSLContext). A cheap handle:
/// copies share one context, so change it before sessions use it. Clients verify the
/// server by default (its certificate against the system's trust store, and its name);
/// TLS 1.2 is the minimum version. Setters throw TlsError(configuration) when the TLS
/// library refuses (an unreadable file, a key that does not match its certificate).
class TlsContext {
 public:
  /// A client context (asyncio's ssl.create_default_context()): verification on,
  /// the system's trust store.
  [[nodiscard]] static TlsContext client();
  /// A server context presenting the PEM chain in `cert_file` with the key in
  /// `key_file`.
  [[nodiscard]] static TlsContext server(const std::string& cert_file, const std::string& key_file);
  /// As server(), from PEM text in memory (a certificate made at run time, or one kept
  /// out of the file system).
  [[nodiscard]] static TlsContext server_pem(std::string_view cert_pem, std::string_view key_pem);

  /// The certificate chain and key this side presents (a server's, or a client
  /// certificate for mutual TLS), from PEM files.
  TlsContext& load_cert_chain(const std::string& cert_file, const std::string& key_file);
  /// As load_cert_chain, from PEM text in memory.
  TlsContext& load_cert_chain_pem(std::string_view cert_pem, std::string_view key_pem);
  /// Trusts the CA certificates in `ca_file` (PEM) and/or the hashed directory
  /// `ca_dir`, besides what was trusted before.
  TlsContext& load_verify_locations(const std::string& ca_file, const std::string& ca_dir = {});
  /// Trusts the CA certificates in `ca_pem` (PEM text).
  TlsContext& load_verify_pem(std::string_view ca_pem);
  /// Client: whether to verify the server's certificate and name (on by default;
  /// off is asyncio's CERT_NONE with check_hostname=False). Server: whether to ask for
  /// and require a client certificate (mutual TLS; off by default).
  TlsContext& set_verify_peer(bool on);
  /// The ALPN protocols offered (client) or accepted (server), by preference.
  TlsContext& set_alpn_protocols(std::vector<std::string> protocols);
  /// The lowest protocol version accepted (TLS 1.2 by default).
  TlsContext& set_minimum_version(TlsVersion v);
  /// Server: picks the context whose certificate a session presents, from the name
  /// the client sent (SNI); nullopt keeps this context.
  TlsContext& set_sni_callback(
      std::function<std::optional<TlsContext>(std::string_view server_name)> pick);

  /// Session resumption (on by default). Client: keeps the sessions servers send, by
  /// server name (the last 256 names), and offers one when it connects to that name
  /// again, so the handshake is shorter; off forgets them and every handshake is full.
  /// Server: off sends no tickets and keeps no sessions, so no client resumes.
  TlsContext& set_session_cache(bool on);
  /// Whether sessions over a TCP socket hand their sends to the kernel after the
  /// handshake where it can take them (Linux's tls ULP, and an AES-GCM, AES-CCM or
  /// ChaCha20-Poly1305 cipher): on by default. Off keeps every record in user space.
  TlsContext& set_kernel_tls(bool on);

  [[nodiscard]] TlsRole role() const noexcept;

  /// The engine's state; for corio's TLS sessions.
  struct Impl;
  [[nodiscard]] const std::shared_ptr<Impl>& impl() const noexcept { return impl_; }

 private:
  explicit TlsContext(std::shared_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

/// How start_tls() runs its handshake (asyncio's start_tls() keywords).
struct TlsOptions {
  /// Client: the name the server's certificate must carry, sent as SNI (an IP address
  /// is checked but not sent). Needed when the context verifies. Copied during the call.
  std::string_view server_hostname;
  /// Bounds the handshake (asyncio's ssl_handshake_timeout): TimeoutError past it.
  Duration handshake_timeout = std::chrono::seconds(60);
  /// Bounds close_gracefully()'s wait for the peer's close_notify (asyncio's
  /// ssl_shutdown_timeout).
  Duration shutdown_timeout = std::chrono::seconds(30);
};
// Trivially destructible, as StreamOptions: `co_await start_tls(t, ctx, {...})` is how it
// is used, and GCC 12 frees such an aggregate temporary twice when its destructor is not.
static_assert(std::is_trivially_destructible_v<TlsOptions>);

/// Runs a TLS handshake over `inner` (a connected transport, usually socket_transport())
/// on `ctx`'s side and returns the session: a transport that encrypts on top of it
/// (asyncio's loop.start_tls()). TlsError if the handshake fails, TimeoutError past the
/// timeout, std::invalid_argument if a verifying client names no server; `inner` is
/// closed then. The context and the name are copied before the handshake starts.
[[nodiscard]] Coro<std::unique_ptr<Transport>> start_tls(std::unique_ptr<Transport> inner,
                                                         const TlsContext& ctx,
                                                         TlsOptions options = {});

/// What `t` negotiated if it is a TLS session start_tls() made (or one under a stream);
/// nullopt for any other transport.
[[nodiscard]] std::optional<TlsInfo> tls_info(const Transport& t);

/// Whether this corio was built with TLS (false where no TLS library was found: then
/// every TlsContext factory throws TlsError(unavailable)).
[[nodiscard]] bool tls_available() noexcept;

}  // namespace corio

template <>
struct std::is_error_code_enum<corio::TlsErrc> : std::true_type {};
