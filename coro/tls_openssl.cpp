// The TLS engine over OpenSSL 3: contexts are SSL_CTXs, sessions are SSLs over two
// memory BIOs (the transport moves the ciphertext; OpenSSL never sees a socket, so no
// OpenSSL call can block the loop).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>
#include <utility>

#include "coro/tls_engine.hpp"

namespace corio {

struct TlsContext::Impl {
  SSL_CTX* ctx = nullptr;
  TlsRole role = TlsRole::client;
  std::string alpn_wire;  // length-prefixed protocols (RFC 7301), by preference
  std::function<std::optional<TlsContext>(std::string_view)> sni;
  Impl(SSL_CTX* c, TlsRole r) noexcept : ctx(c), role(r) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { SSL_CTX_free(ctx); }
};

namespace {

// OpenSSL's queue of errors for this thread, as one line; clears it.
std::string drain_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

[[noreturn]] void config_error(const std::string& what) {
  std::string reason = drain_errors();
  throw TlsError(TlsErrc::configuration,
                 "corio: " + what + (reason.empty() ? std::string() : ": " + reason));
}

void check_config(int ok, const std::string& what) {
  if (ok != 1) config_error(what);
}

std::shared_ptr<TlsContext::Impl> new_context(TlsRole role) {
  SSL_CTX* ctx = SSL_CTX_new(role == TlsRole::client ? TLS_client_method() : TLS_server_method());
  if (ctx == nullptr) config_error("SSL_CTX_new");
  auto impl = std::make_shared<TlsContext::Impl>(ctx, role);
  check_config(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION), "TLS minimum version");
  // Partial writes: a write returns what it encrypted, as a socket's does. Moving write
  // buffers: the streams' send buffer may move between a retried write and the next.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Renegotiation is a TLS 1.2 feature with a history of attacks and no use to a server
  // we write; TLS 1.3 has none.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  return impl;
}

// BIO over a view of memory, for the *_pem loaders.
struct MemBio {
  BIO* bio;
  explicit MemBio(std::string_view text)
      : bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))) {
    if (bio == nullptr) config_error("BIO_new_mem_buf");
  }
  MemBio(const MemBio&) = delete;
  MemBio& operator=(const MemBio&) = delete;
  ~MemBio() { BIO_free(bio); }
};

int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* arg) {
  const auto& wire = static_cast<TlsContext::Impl*>(arg)->alpn_wire;
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned int>(wire.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no protocol in common: go on without ALPN
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// "CN=localhost,O=Example": the RFC 2253 form, as Python's and Go's TLS print it.
std::string rfc2253(const X509_NAME* name) {
  BIO* mem = BIO_new(BIO_s_mem());
  if (mem == nullptr) return {};
  X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long len = BIO_get_mem_data(mem, &data);
  std::string out(data, len > 0 ? static_cast<std::size_t>(len) : 0);
  BIO_free(mem);
  return out;
}

class OpenSslEngine;
int pick_by_name(SSL* ssl, int* alert, void* arg);

class OpenSslEngine final : public detail::TlsEngine {
 public:
  OpenSslEngine(std::shared_ptr<TlsContext::Impl> ctx, const std::string& host)
      : ctx_(std::move(ctx)), ssl_(SSL_new(ctx_->ctx)) {
    if (ssl_ == nullptr) config_error("SSL_new");
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (in == nullptr || out == nullptr) {
      BIO_free(in);
      BIO_free(out);
      SSL_free(ssl_);
      config_error("BIO_new");
    }
    // An empty memory BIO is "try again", not end of file.
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    SSL_set_bio(ssl_, in, out);  // the SSL owns both now
    in_ = in;
    out_ = out;
    SSL_set_app_data(ssl_, this);
    if (ctx_->role == TlsRole::server) {
      SSL_set_accept_state(ssl_);
      return;
    }
    SSL_set_connect_state(ssl_);
    if (host.empty()) return;
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
    if (ip != nullptr) {
      ASN1_OCTET_STRING_free(ip);
      // SNI carries host names only (RFC 6066); an IP is checked against the
      // certificate's IP entries.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, host.c_str());
      SSL_set1_host(ssl_, host.c_str());
    }
  }
  OpenSslEngine(const OpenSslEngine&) = delete;
  OpenSslEngine& operator=(const OpenSslEngine&) = delete;
  ~OpenSslEngine() override { SSL_free(ssl_); }

  Status handshake() override {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) return Status::ok;
    return status_of(r, "handshake");
  }

  Status read(std::span<char> out, std::size_t& n) override {
    ERR_clear_error();
    n = 0;
    if (SSL_read_ex(ssl_, out.data(), out.size(), &n) == 1) return Status::ok;
    return status_of(0, "read");
  }

  std::size_t write(std::span<const char> in) override {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, in.data(), in.size(), &n) == 1) return n;
    // A memory BIO takes any amount, so the only way to fail is an error.
    (void)status_of(0, "write");
    return 0;
  }

  void shutdown() noexcept override {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_);  // 0: close_notify queued, the peer's not seen yet
    ERR_clear_error();
  }

  void feed(std::span<const char> ciphertext) override {
    while (!ciphertext.empty()) {
      const int chunk = static_cast<int>(std::min<std::size_t>(ciphertext.size(), INT_MAX));
      const int r = BIO_write(in_, ciphertext.data(), chunk);
      if (r <= 0) throw TlsError(TlsErrc::protocol, "corio: TLS: out of memory for input");
      ciphertext = ciphertext.subspan(static_cast<std::size_t>(r));
    }
  }

  [[nodiscard]] std::size_t output_size() const noexcept override { return BIO_ctrl_pending(out_); }

  std::size_t take_output(std::span<char> out) noexcept override {
    const int r =
        BIO_read(out_, out.data(), static_cast<int>(std::min<std::size_t>(out.size(), INT_MAX)));
    return r > 0 ? static_cast<std::size_t>(r) : 0;
  }

  [[nodiscard]] TlsInfo info() const override {
    TlsInfo i;
    i.version = SSL_get_version(ssl_);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_)) i.cipher = SSL_CIPHER_get_name(c);
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
    if (alpn != nullptr) i.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
      i.server_name = name;
    }
    if (X509* peer = SSL_get1_peer_certificate(ssl_)) {
      i.peer_subject = rfc2253(X509_get_subject_name(peer));
      X509_free(peer);
    }
    i.resumed = SSL_session_reused(ssl_) == 1;
    return i;
  }

  // The context an SNI callback switched the session to, kept alive with it.
  std::shared_ptr<TlsContext::Impl> switched;

 private:
  Status status_of(int r, const char* what) {
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:  // not with a memory BIO, but harmless: wait for input
        return Status::want_read;
      case SSL_ERROR_ZERO_RETURN:
        return Status::closed;
      default:
        break;
    }
    std::string reason = drain_errors();
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK && !SSL_is_init_finished(ssl_)) {
      const char* why = X509_verify_cert_error_string(verify);
      throw TlsError(TlsErrc::verification,
                     std::string("corio: TLS ") + what + ": certificate verify failed: " + why,
                     why);
    }
    if (reason.empty()) reason = "the connection failed";
    throw TlsError(TlsErrc::protocol, std::string("corio: TLS ") + what + ": " + reason);
  }

  std::shared_ptr<TlsContext::Impl> ctx_;
  SSL* ssl_;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

int pick_by_name(SSL* ssl, int* /*alert*/, void* arg) {
  auto* impl = static_cast<TlsContext::Impl*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr || !impl->sni) return SSL_TLSEXT_ERR_NOACK;
  try {
    std::optional<TlsContext> picked = impl->sni(name);
    if (picked && picked->impl() && picked->impl().get() != impl) {
      SSL_set_SSL_CTX(ssl, picked->impl()->ctx);
      // SSL_set_SSL_CTX changes the certificate, not what the session asks of the peer.
      SSL_set_verify(ssl, SSL_CTX_get_verify_mode(picked->impl()->ctx), nullptr);
      static_cast<OpenSslEngine*>(SSL_get_app_data(ssl))->switched = picked->impl();
    }
    return SSL_TLSEXT_ERR_OK;
  } catch (...) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // an exception must not cross OpenSSL's C frames
  }
}

}  // namespace

TlsContext TlsContext::client() {
  auto impl = new_context(TlsRole::client);
  check_config(SSL_CTX_set_default_verify_paths(impl->ctx), "the system's trust store");
  SSL_CTX_set_verify(impl->ctx, SSL_VERIFY_PEER, nullptr);
  return TlsContext(std::move(impl));
}

TlsContext TlsContext::server(const std::string& cert_file, const std::string& key_file) {
  TlsContext c(new_context(TlsRole::server));
  c.load_cert_chain(cert_file, key_file);
  return c;
}

TlsContext TlsContext::server_pem(std::string_view cert_pem, std::string_view key_pem) {
  TlsContext c(new_context(TlsRole::server));
  c.load_cert_chain_pem(cert_pem, key_pem);
  return c;
}

TlsContext& TlsContext::load_cert_chain(const std::string& cert_file, const std::string& key_file) {
  check_config(SSL_CTX_use_certificate_chain_file(impl_->ctx, cert_file.c_str()),
               "certificate chain " + cert_file);
  check_config(SSL_CTX_use_PrivateKey_file(impl_->ctx, key_file.c_str(), SSL_FILETYPE_PEM),
               "private key " + key_file);
  check_config(SSL_CTX_check_private_key(impl_->ctx), "the key does not match the certificate");
  return *this;
}

TlsContext& TlsContext::load_cert_chain_pem(std::string_view cert_pem, std::string_view key_pem) {
  MemBio certs(cert_pem);
  X509* leaf = PEM_read_bio_X509_AUX(certs.bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr) config_error("certificate PEM");
  const int used = SSL_CTX_use_certificate(impl_->ctx, leaf);
  X509_free(leaf);
  check_config(used, "certificate");
  SSL_CTX_clear_chain_certs(impl_->ctx);
  while (X509* ca = PEM_read_bio_X509(certs.bio, nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(impl_->ctx, ca) != 1) {
      X509_free(ca);
      config_error("certificate chain");
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  MemBio key(key_pem);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(key.bio, nullptr, nullptr, nullptr);
  if (pkey == nullptr) config_error("private key PEM");
  const int key_used = SSL_CTX_use_PrivateKey(impl_->ctx, pkey);
  EVP_PKEY_free(pkey);
  check_config(key_used, "private key");
  check_config(SSL_CTX_check_private_key(impl_->ctx), "the key does not match the certificate");
  return *this;
}

TlsContext& TlsContext::load_verify_locations(const std::string& ca_file,
                                              const std::string& ca_dir) {
  check_config(
      SSL_CTX_load_verify_locations(impl_->ctx, ca_file.empty() ? nullptr : ca_file.c_str(),
                                    ca_dir.empty() ? nullptr : ca_dir.c_str()),
      "CA locations " + ca_file + " " + ca_dir);
  return *this;
}

TlsContext& TlsContext::load_verify_pem(std::string_view ca_pem) {
  MemBio certs(ca_pem);
  X509_STORE* store = SSL_CTX_get_cert_store(impl_->ctx);
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(certs.bio, nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_cert(store, ca);
    X509_free(ca);
    check_config(ok, "CA certificate");
    ++added;
  }
  ERR_clear_error();
  if (added == 0) config_error("no CA certificate in the PEM text");
  return *this;
}

TlsContext& TlsContext::set_verify_peer(bool on) {
  int mode = SSL_VERIFY_NONE;
  if (on) {
    mode = SSL_VERIFY_PEER;
    if (impl_->role == TlsRole::server) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(impl_->ctx, mode, nullptr);
  return *this;
}

TlsContext& TlsContext::set_alpn_protocols(std::vector<std::string> protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) {
      throw TlsError(TlsErrc::configuration, "corio: an ALPN protocol name is 1 to 255 bytes");
    }
    wire += static_cast<char>(p.size());
    wire += p;
  }
  impl_->alpn_wire = std::move(wire);
  if (impl_->role == TlsRole::client) {
    // 0 is success here, unlike the rest of OpenSSL.
    if (SSL_CTX_set_alpn_protos(impl_->ctx,
                                reinterpret_cast<const unsigned char*>(impl_->alpn_wire.data()),
                                static_cast<unsigned int>(impl_->alpn_wire.size())) != 0) {
      config_error("ALPN protocols");
    }
  } else {
    SSL_CTX_set_alpn_select_cb(impl_->ctx, impl_->alpn_wire.empty() ? nullptr : &select_alpn,
                               impl_.get());
  }
  return *this;
}

TlsContext& TlsContext::set_minimum_version(TlsVersion v) {
  check_config(SSL_CTX_set_min_proto_version(
                   impl_->ctx, v == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION),
               "TLS minimum version");
  return *this;
}

TlsContext& TlsContext::set_sni_callback(
    std::function<std::optional<TlsContext>(std::string_view server_name)> pick) {
  impl_->sni = std::move(pick);
  using Pick = int (*)(SSL*, int*, void*);
  const Pick cb = impl_->sni ? &pick_by_name : nullptr;  // the macro casts its argument
  SSL_CTX_set_tlsext_servername_callback(impl_->ctx, cb);
  SSL_CTX_set_tlsext_servername_arg(impl_->ctx, impl_.get());
  return *this;
}

TlsRole TlsContext::role() const noexcept {
  return impl_->role;
}

bool tls_available() noexcept {
  return true;
}

namespace detail {

void check_server_hostname(const TlsContext& ctx, std::string_view server_hostname) {
  const TlsContext::Impl& impl = *ctx.impl();
  // Without a name only the chain would be checked: any certificate the CA ever signed
  // would pass. asyncio refuses the same way.
  if (impl.role == TlsRole::client && server_hostname.empty() &&
      (SSL_CTX_get_verify_mode(impl.ctx) & SSL_VERIFY_PEER) != 0) {
    throw std::invalid_argument(
        "corio: a TLS client that verifies the server needs server_hostname");
  }
}

std::unique_ptr<TlsEngine> make_tls_engine(const TlsContext& ctx,
                                           const std::string& server_hostname) {
  check_server_hostname(ctx, server_hostname);
  return std::make_unique<OpenSslEngine>(ctx.impl(), server_hostname);
}

}  // namespace detail
}  // namespace corio
