// The TLS engine over OpenSSL 3: contexts are SSL_CTXs, sessions are SSLs over the
// session's own buffers (tls_openssl_bio.hpp; the transport moves the ciphertext; OpenSSL never
// sees a socket, so no OpenSSL call can block the loop).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "coro/tls_engine.hpp"
#include "coro/tls_openssl_bio.hpp"

namespace corio {

struct TlsContext::Impl {
  SSL_CTX* ctx = nullptr;
  TlsRole role = TlsRole::client;
  std::string alpn_wire;  // length-prefixed protocols (RFC 7301), by preference
  std::function<std::optional<TlsContext>(std::string_view)> sni;
  bool kernel_tls = true;  // set_kernel_tls()
  Impl(SSL_CTX* c, TlsRole r) noexcept : ctx(c), role(r) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    for (auto& [name, session] : sessions)
      SSL_SESSION_free(session);
    SSL_CTX_free(ctx);
  }

  /// Client: the session to resume with a server called `name`, taken out of the cache
  /// (TLS 1.3 tickets are single use); nullptr if none. The caller owns the reference.
  SSL_SESSION* take_session(const std::string& name) {
    const std::lock_guard lock(sessions_mutex);
    const auto found = by_name.find(name);
    if (found == by_name.end()) return nullptr;
    SSL_SESSION* session = found->second->second;
    sessions.erase(found->second);
    by_name.erase(found);
    return session;
  }

  /// Client: keeps `session` (taking the caller's reference) as the one to resume
  /// `name` with, replacing the one before; unless `only_if_none` and one is there.
  void keep_session(const std::string& name, SSL_SESSION* session, bool only_if_none = false) {
    SSL_SESSION* dropped = session;
    {
      const std::lock_guard lock(sessions_mutex);
      if (!session_cache_on) {
        // off since the handshake began: keep nothing
      } else if (const auto found = by_name.find(name); found != by_name.end()) {
        if (!only_if_none) {
          dropped = found->second->second;
          sessions.erase(found->second);
          sessions.emplace_back(name, session);
          found->second = std::prev(sessions.end());
        }
      } else {
        dropped = nullptr;
        if (sessions.size() >= max_sessions) {
          dropped = sessions.front().second;
          by_name.erase(sessions.front().first);
          sessions.pop_front();
        }
        sessions.emplace_back(name, session);
        by_name.emplace(name, std::prev(sessions.end()));
      }
    }
    SSL_SESSION_free(dropped);  // nullptr is fine
  }

  /// Client: whether sessions are cached and resumed (set_session_cache()).
  bool session_cache() {
    const std::lock_guard lock(sessions_mutex);
    return session_cache_on;
  }

  // Client sessions by the server name they were made for, oldest first: a bounded
  // cache, so a client talking to many hosts does not grow without end. The mutex
  // because one context may serve sessions on several loop threads.
  static constexpr std::size_t max_sessions = 256;
  std::mutex sessions_mutex;
  bool session_cache_on = true;
  std::list<std::pair<std::string, SSL_SESSION*>> sessions;
  std::unordered_map<std::string, std::list<std::pair<std::string, SSL_SESSION*>>::iterator>
      by_name;
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

int new_client_session(SSL* ssl, SSL_SESSION* session);

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
  if (role == TlsRole::client) {
    // OpenSSL's own client cache would look sessions up by session id, which a client
    // never has before it connects: the sessions go to keep_session() instead.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &new_client_session);
  } else {
    // Without a session id context a server that verifies client certificates fails
    // every resumption attempt (OpenSSL cannot tell the session was made under the same
    // verification settings). One per context: a session made where no client
    // certificate was asked for must not resume where one is.
    static std::atomic<unsigned long> next_id{0};
    const std::string id = "corio " + std::to_string(++next_id);
    check_config(
        SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(id.data()),
                                       static_cast<unsigned int>(id.size())),
        "session id context");
  }
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
    BIO* bio = buffers_.make_bio();
    if (bio == nullptr) {
      SSL_free(ssl_);
      config_error("BIO_new");
    }
    SSL_set_bio(ssl_, bio, bio);  // the SSL owns it now (one reference for both ends)
    SSL_set_app_data(ssl_, this);
    if (ctx_->role == TlsRole::server) {
      SSL_set_accept_state(ssl_);
      return;
    }
    SSL_set_connect_state(ssl_);
    if (host.empty()) return;
    // Keyed by the name alone (the engine never knows the port): a session is only
    // offered to a server of the name whose certificate it was made with.
    if (ctx_->session_cache()) {
      cache_key_ = host;
      if (SSL_SESSION* session = ctx_->take_session(host)) {
        (void)SSL_set_session(ssl_, session);  // refused (a stale one): a full handshake
        SSL_SESSION_free(session);             // the SSL holds its own reference
      }
    }
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
    if (r == 1) {
      keep_reusable_session();
      return Status::ok;
    }
    return status_of(r, "handshake");
  }

  Status read(std::span<char> out, std::size_t& n) override {
    n = 0;
    if (key_update_refused_) refuse_key_update();
    ERR_clear_error();
    const bool got = SSL_read_ex(ssl_, out.data(), out.size(), &n) == 1;
    // A peer's KeyUpdate request: OpenSSL answers it at its next SSL_write(), which a
    // session whose sends the kernel encrypts never makes, and would then change only
    // its own keys, not the kernel's. Not answering breaks RFC 8446's "MUST send its
    // own KeyUpdate", so the session fails, after the bytes read with it.
    if (buffers_.kernel_sends() && SSL_get_key_update_type(ssl_) != SSL_KEY_UPDATE_NONE) {
      key_update_refused_ = true;
      if (!got) refuse_key_update();
    }
    return got ? Status::ok : status_of(0, "read");
  }

  std::size_t write(std::span<const char> in) override {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, in.data(), in.size(), &n) == 1) return n;
    // The output takes any amount, so the only way to fail is an error.
    (void)status_of(0, "write");
    return 0;
  }

  Status shutdown() noexcept override {
    ERR_clear_error();
    // 0: close_notify queued, the peer's not seen yet. -1 wanting a write: the kernel
    // sends, and the socket could not take the alert now.
    const int r = SSL_shutdown(ssl_);
    const bool again = r < 0 && SSL_get_error(ssl_, r) == SSL_ERROR_WANT_WRITE;
    ERR_clear_error();
    return again ? Status::want_write : Status::ok;
  }

  void offer_kernel_tls(detail::KernelTlsSocket& socket) noexcept override {
    if (!ctx_->kernel_tls) return;
    buffers_.offer_kernel(socket);
    // OpenSSL hands the keys over only when asked (its kTLS is off by default), and
    // then only to a BIO that takes them: ours passes them on to the socket.
    SSL_set_options(ssl_, SSL_OP_ENABLE_KTLS);
  }
  [[nodiscard]] bool kernel_sends() const noexcept override { return buffers_.kernel_sends(); }
  [[nodiscard]] std::string kernel_tls_note() const override {
    if (!buffers_.kernel_offered()) {
      return ctx_->kernel_tls ? "" : "kernel TLS is off in the context";
    }
    if (buffers_.kernel_sends()) return "";
    if (!buffers_.kernel_note().empty()) return buffers_.kernel_note();
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    return std::string("OpenSSL kept the records: its kTLS does not take ") +
           (c != nullptr ? SSL_CIPHER_get_name(c) : "this cipher");
  }

  void feed(std::span<const char> ciphertext) override { buffers_.feed(ciphertext); }
  std::span<char> input_space() override { return buffers_.input_space(); }
  void commit_input(std::size_t n) noexcept override { buffers_.commit_input(n); }

  [[nodiscard]] std::size_t output_size() const noexcept override { return buffers_.output_size(); }
  std::size_t take_output(std::span<char> out) noexcept override {
    return buffers_.take_output(out);
  }
  void take_output(std::string& out) override { buffers_.take_output(out); }

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
    i.kernel_tls = buffers_.kernel_sends();
    return i;
  }

  // The context an SNI callback switched the session to, kept alive with it.
  std::shared_ptr<TlsContext::Impl> switched;

  /// A session the server sent (new_client_session()): kept for the next connection to
  /// this server name. Takes the reference: false leaves it to OpenSSL.
  bool keep(SSL_SESSION* session) {
    if (cache_key_.empty() || SSL_SESSION_is_resumable(session) != 1) return false;
    ctx_->keep_session(cache_key_, session);
    return true;
  }

 private:
  // A TLS 1.2 session may be resumed again and again, and a resumption brings no new
  // one: back into the cache it goes once it proved good. A TLS 1.3 ticket is used once
  // (RFC 8446 C.4); the server sends fresh ones after the handshake.
  void keep_reusable_session() {
    if (cache_key_.empty() || SSL_session_reused(ssl_) != 1) return;
    SSL_SESSION* session = SSL_get1_session(ssl_);
    if (session == nullptr) return;
    if (SSL_SESSION_get_protocol_version(session) < TLS1_3_VERSION &&
        SSL_SESSION_is_resumable(session) == 1) {
      ctx_->keep_session(cache_key_, session, /*only_if_none=*/true);
    } else {
      SSL_SESSION_free(session);
    }
  }

  [[noreturn]] static void refuse_key_update() {
    throw TlsError(TlsErrc::protocol,
                   "corio: TLS read: the peer asked for a key update, which a session whose "
                   "sends the kernel encrypts cannot make (turn kernel TLS off in the context "
                   "for such peers)");
  }

  Status status_of(int r, const char* what) {
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        return Status::want_read;
      case SSL_ERROR_WANT_WRITE:  // only with the kernel sending: the output takes any amount
        return Status::want_write;
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
    if (buffers_.kernel_sends() && !buffers_.kernel_note().empty()) {
      // What failed was the BIO's own send of a record (OpenSSL only saw it fail).
      reason = buffers_.kernel_note() + (reason.empty() ? "" : " (" + reason + ")");
    }
    if (reason.empty()) reason = "the connection failed";
    throw TlsError(TlsErrc::protocol, std::string("corio: TLS ") + what + ": " + reason);
  }

  // Before ssl_: the SSL's BIO points into them until SSL_free.
  detail::SessionBuffers buffers_;
  std::shared_ptr<TlsContext::Impl> ctx_;
  SSL* ssl_;
  std::string cache_key_;            // client: the server name its sessions are kept under
  bool key_update_refused_ = false;  // the peer asked for one: every read fails
};

int new_client_session(SSL* ssl, SSL_SESSION* session) {
  auto* engine = static_cast<OpenSslEngine*>(SSL_get_app_data(ssl));
  try {
    return engine != nullptr && engine->keep(session) ? 1 : 0;
  } catch (...) {
    return 0;  // out of memory for the cache: no resumption, and no exception in C frames
  }
}

// The host name in a ClientHello's server_name extension (RFC 6066 section 3), "" if
// it has none.
std::string sni_of(SSL* ssl) {
  const unsigned char* p = nullptr;
  std::size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1) return {};
  if (len < 2) return {};
  std::size_t list = (std::size_t{p[0]} << 8) | p[1];
  p += 2;
  len = std::min(len - 2, list);
  while (len >= 3) {
    const unsigned type = p[0];
    const std::size_t n = (std::size_t{p[1]} << 8) | p[2];
    if (n > len - 3) return {};
    if (type == TLSEXT_NAMETYPE_host_name) return {reinterpret_cast<const char*>(p + 3), n};
    p += 3 + n;
    len -= 3 + n;
  }
  return {};
}

// Switches the session to the context the SNI callback picks. From the ClientHello
// callback, which runs before OpenSSL decides on resumption: from the servername
// callback (too late) a session made on another context, one asking for no client
// certificate, would be resumed on a context that requires one. Now a session is only
// resumed on the context whose session id context it carries.
int pick_by_name(SSL* ssl, int* alert, void* arg) {
  auto* impl = static_cast<TlsContext::Impl*>(arg);
  try {
    const std::string name = sni_of(ssl);
    if (name.empty() || !impl->sni) return SSL_CLIENT_HELLO_SUCCESS;
    std::optional<TlsContext> picked = impl->sni(name);
    if (picked && picked->impl() && picked->impl().get() != impl) {
      SSL_set_SSL_CTX(ssl, picked->impl()->ctx);  // its session id context too
      // SSL_set_SSL_CTX changes the certificate, not what the session asks of the peer.
      SSL_set_verify(ssl, SSL_CTX_get_verify_mode(picked->impl()->ctx), nullptr);
      static_cast<OpenSslEngine*>(SSL_get_app_data(ssl))->switched = picked->impl();
    }
    return SSL_CLIENT_HELLO_SUCCESS;
  } catch (...) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;  // an exception must not cross OpenSSL's C frames
  }
}

// Acknowledges the name the client sent (the switch was made before).
int ack_name(SSL* ssl, int* /*alert*/, void* /*arg*/) {
  return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) != nullptr ? SSL_TLSEXT_ERR_OK
                                                                       : SSL_TLSEXT_ERR_NOACK;
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
  SSL_CTX_set_client_hello_cb(impl_->ctx, impl_->sni ? &pick_by_name : nullptr, impl_.get());
  using Ack = int (*)(SSL*, int*, void*);
  const Ack ack = impl_->sni ? &ack_name : nullptr;  // the macro casts its argument
  SSL_CTX_set_tlsext_servername_callback(impl_->ctx, ack);
  return *this;
}

TlsContext& TlsContext::set_session_cache(bool on) {
  if (impl_->role == TlsRole::client) {
    std::list<std::pair<std::string, SSL_SESSION*>> dropped;
    {
      const std::lock_guard lock(impl_->sessions_mutex);
      impl_->session_cache_on = on;
      if (!on) {
        dropped.swap(impl_->sessions);
        impl_->by_name.clear();
      }
    }
    for (auto& [name, session] : dropped)
      SSL_SESSION_free(session);
  } else {
    // Neither tickets (TLS 1.2's or 1.3's) nor the server's own cache of session ids.
    SSL_CTX_set_session_cache_mode(impl_->ctx, on ? SSL_SESS_CACHE_SERVER : SSL_SESS_CACHE_OFF);
    check_config(SSL_CTX_set_num_tickets(impl_->ctx, on ? 2 : 0), "number of tickets");
    if (on) {
      SSL_CTX_clear_options(impl_->ctx, SSL_OP_NO_TICKET);
    } else {
      SSL_CTX_set_options(impl_->ctx, SSL_OP_NO_TICKET);
    }
  }
  return *this;
}

TlsContext& TlsContext::set_kernel_tls(bool on) {
  impl_->kernel_tls = on;
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
