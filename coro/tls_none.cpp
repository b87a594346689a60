// The TLS engine where corio was built without a TLS library (the Windows cross builds:
// Debian has no mingw OpenSSL): every entry point says so with TlsError(unavailable).
#include "coro/tls_engine.hpp"

namespace corio {

struct TlsContext::Impl {};

namespace {

[[noreturn]] void unavailable() {
  throw TlsError(TlsErrc::unavailable, "corio: this build has no TLS (no TLS library was found)");
}

}  // namespace

TlsContext TlsContext::client() {
  unavailable();
}
TlsContext TlsContext::server(const std::string& /*cert_file*/, const std::string& /*key_file*/) {
  unavailable();
}
TlsContext TlsContext::server_pem(std::string_view /*cert_pem*/, std::string_view /*key_pem*/) {
  unavailable();
}
TlsContext& TlsContext::load_cert_chain(const std::string& /*cert_file*/,
                                        const std::string& /*key_file*/) {
  unavailable();
}
TlsContext& TlsContext::load_cert_chain_pem(std::string_view /*cert_pem*/,
                                            std::string_view /*key_pem*/) {
  unavailable();
}
TlsContext& TlsContext::load_verify_locations(const std::string& /*ca_file*/,
                                              const std::string& /*ca_dir*/) {
  unavailable();
}
TlsContext& TlsContext::load_verify_pem(std::string_view /*ca_pem*/) {
  unavailable();
}
TlsContext& TlsContext::set_verify_peer(bool /*on*/) {
  unavailable();
}
TlsContext& TlsContext::set_alpn_protocols(std::vector<std::string> /*protocols*/) {
  unavailable();
}
TlsContext& TlsContext::set_minimum_version(TlsVersion /*v*/) {
  unavailable();
}
TlsContext& TlsContext::set_sni_callback(
    std::function<std::optional<TlsContext>(std::string_view)> /*pick*/) {
  unavailable();
}
TlsContext& TlsContext::set_session_cache(bool /*on*/) {
  unavailable();
}
TlsContext& TlsContext::set_kernel_tls(bool /*on*/) {
  unavailable();
}
TlsRole TlsContext::role() const noexcept {
  return TlsRole::client;
}

bool tls_available() noexcept {
  return false;
}

namespace detail {

std::unique_ptr<TlsEngine> make_tls_engine(const TlsContext& /*ctx*/,
                                           const std::string& /*server_hostname*/) {
  unavailable();
}

void check_server_hostname(const TlsContext& /*ctx*/, std::string_view /*server_hostname*/) {
  unavailable();
}

}  // namespace detail
}  // namespace corio
