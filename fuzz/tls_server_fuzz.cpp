// libFuzzer target: the server side of a TLS session (the OpenSSL engine behind
// coro/tls_engine.hpp, over memory buffers, no socket) on arbitrary bytes. Two modes:
//  - raw: the bytes go straight at a fresh server, as a client's first flights (the
//    ClientHello parser, SNI and ALPN callbacks, alerts);
//  - after-handshake: a real client engine completes a handshake with the server first
//    (mostly a resumed one: see run_after_handshake), then the bytes reach the server as
//    records of the established session. Raw ciphertext can never be forged, so some
//    chunks go through the client instead, as plaintext it encrypts: the server's record
//    layer then sees valid records (of sizes and splits the input picks) mixed with
//    garbage, and maybe the client's close_notify.
// Only TlsError may come out of the engine (it ends the session, as the transport does);
// anything else escapes and crashes. Checked besides: output drains completely; reads,
// writes and receives (input_space(), room for a full record) stay within their
// buffers; while only the client's records have arrived,
// the server reads exactly the plaintext the client wrote, in order, and raises nothing;
// a client offering the ticket the last session left resumes, and one offering none
// does not.
//
// Input layout: byte 0 the mode (bit 0 after-handshake, bit 1 chunks through the client,
// bit 2 the client closes at the end, bit 3 a full handshake instead of a resumed one),
// byte 1 the chunking seed, then the bytes.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "corio/coro/tls.hpp"
#include "coro/tls_engine.hpp"

namespace {

using corio::TlsContext;
using corio::TlsError;
using corio::detail::TlsEngine;
using Status = TlsEngine::Status;

void check(bool ok) {
  if (!ok) std::abort();  // libFuzzer saves the input that broke a promise
}

std::string to_pem(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  check(len > 0);
  return {data, static_cast<std::size_t>(len)};
}

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed P-256 certificate for localhost, made in memory: the target needs no
// file and no openssl command. Fixed validity dates, so nothing depends on the clock
// (the client does not verify anyway).
Pem self_signed_localhost() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  check(key != nullptr);
  X509* x = X509_new();
  check(x != nullptr);
  check(X509_set_version(x, X509_VERSION_3) == 1);
  check(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
  check(ASN1_TIME_set_string(X509_getm_notBefore(x), "20260101000000Z") == 1);
  check(ASN1_TIME_set_string(X509_getm_notAfter(x), "20360101000000Z") == 1);
  check(X509_set_pubkey(x, key) == 1);
  X509_NAME* name = X509_get_subject_name(x);
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                   0) == 1);
  check(X509_set_issuer_name(x, name) == 1);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost");
  check(san != nullptr && X509_add_ext(x, san, -1) == 1);
  X509_EXTENSION_free(san);
  check(X509_sign(x, key, EVP_sha256()) > 0);

  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  check(cert_bio != nullptr && key_bio != nullptr);
  check(PEM_write_bio_X509(cert_bio, x) == 1);
  check(PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  Pem pem{to_pem(cert_bio), to_pem(key_bio)};
  BIO_free(cert_bio);
  BIO_free(key_bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

struct Contexts {
  TlsContext server;
  TlsContext client;       // resumes: keeps the tickets the server sends, for "localhost"
  TlsContext client_full;  // session cache off: every handshake is a full one
};

// Built once: a context per input would cost a key generation each. The server offers
// ALPN and picks a context by SNI, so corio's two callbacks run on fuzzed ClientHellos.
const Contexts& contexts() {
  static const Contexts c = [] {
    const Pem pem = self_signed_localhost();
    TlsContext by_name = TlsContext::server_pem(pem.cert, pem.key);
    // The session switches to this one: it needs its own ALPN list to offer any.
    by_name.set_alpn_protocols({"http/1.1", "h2"});
    TlsContext server = TlsContext::server_pem(pem.cert, pem.key);
    server.set_alpn_protocols({"h2", "http/1.1"});
    server.set_sni_callback([by_name](std::string_view name) -> std::optional<TlsContext> {
      if (name == "localhost") return by_name;
      return std::nullopt;
    });
    TlsContext client = TlsContext::client();
    client.set_verify_peer(false);
    client.set_alpn_protocols({"http/1.1"});
    TlsContext client_full = TlsContext::client();
    client_full.set_verify_peer(false);
    client_full.set_alpn_protocols({"http/1.1"});
    client_full.set_session_cache(false);
    return Contexts{std::move(server), std::move(client), std::move(client_full)};
  }();
  return c;
}

// Chunk sizes from the seed byte: 0 feeds everything at once, any other value sizes in
// 1..2^(seed % 12) from a xorshift it seeds, so record boundaries fall anywhere.
class Chunker {
 public:
  explicit Chunker(std::uint8_t seed)
      : state_(0x9e3779b9u ^ (static_cast<std::uint32_t>(seed) * 0x01000193u)),
        whole_(seed == 0),
        max_(std::size_t{1} << (seed % 12)) {}

  std::uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  std::size_t size(std::size_t left) {
    if (whole_) return left;
    return std::min<std::size_t>(left, 1 + next() % max_);
  }

 private:
  std::uint32_t state_;
  bool whole_;
  std::size_t max_;
};

std::array<char, 1 << 16> scratch;  // what pump() moves passes through here
std::string sink;                   // where the server's output goes: nobody reads it

// The server's output, taken as the transport takes it: all at once, into an empty
// buffer (the two trade places, so neither allocates again).
void drain(TlsEngine& e) {
  const std::size_t waiting = e.output_size();
  e.take_output(sink);
  check(sink.size() == waiting && e.output_size() == 0);
  sink.clear();
}

// The fuzzed bytes reach the server as the transport's receives do: written into
// input_space(), then commit_input(). (pump() and the client's records use feed().)
void receive(TlsEngine& e, std::string_view bytes) {
  while (!bytes.empty()) {
    const std::span<char> space = e.input_space();
    check(space.size() >= (1u << 14) + 256 + 5);  // one full record (RFC 8446 5.2)
    const std::size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);  // ASan: the space is the engine's
    e.commit_input(n);
    bytes.remove_prefix(n);
  }
}

// Moves `from`'s output into `to`.
void pump(TlsEngine& from, TlsEngine& to) {
  while (const std::size_t n = from.take_output(scratch))
    to.feed(std::span(scratch.data(), n));
  check(from.output_size() == 0);
}

struct Server {
  std::unique_ptr<TlsEngine> engine;
  bool established = false;
  bool closed = false;        // the client's close_notify was read
  bool clean = false;         // only a real client's records have reached it so far
  TlsEngine* peer = nullptr;  // where its output goes while a client handshakes with it
  std::string received;
};

void flush(Server& s) {
  if (s.peer != nullptr) {
    pump(*s.engine, *s.peer);
  } else {
    drain(*s.engine);
  }
}

// What the transport does after new ciphertext: the handshake, else reads (each
// answered by a small write) until the engine wants more. Throws TlsError.
void drive(Server& s) {
  if (!s.established) {
    const Status st = s.engine->handshake();
    flush(s);
    if (st == Status::closed) s.closed = true;
    if (st != Status::ok) return;
    s.established = true;
  }
  std::array<char, 1024> buf;
  while (!s.closed) {
    std::size_t n = 0;
    const Status st = s.engine->read(buf, n);
    if (st == Status::closed) {
      s.closed = true;
    } else if (st == Status::ok) {
      check(n > 0 && n <= buf.size());
      s.received.append(buf.data(), n);
      constexpr std::string_view reply = "ok\n";
      check(s.engine->write(reply) == reply.size());
    } else {
      check(n == 0);
      break;
    }
  }
  flush(s);
}

// Client and server handshake with each other; the server's tickets end up fed to the
// client, unread.
void handshake(TlsEngine& client, Server& server) {
  server.peer = &client;
  for (int round = 0; round < 8; ++round) {
    const Status c = client.handshake();
    pump(client, *server.engine);
    drive(server);
    if (c == Status::ok && server.established) {
      server.peer = nullptr;
      return;
    }
  }
  std::abort();  // two round trips suffice: a clean handshake that goes on is a bug
}

// A client ends as the transport ends one, with its close_notify queued (it reaches the
// server only where the input says so): OpenSSL marks the session of a connection freed
// without one as not resumable (SSL_free's ssl_clear_bad_session), and that session is
// the ticket the client's cache holds for the next input.
struct EndClient {
  void operator()(TlsEngine* client) const noexcept {
    client->shutdown();
    delete client;
  }
};
using Client = std::unique_ptr<TlsEngine, EndClient>;

// A client of `ctx` handshakes with the server, then reads what came after the server's
// Finished: TLS 1.3's tickets, which a resuming client keeps for the next connection to
// "localhost" (no plaintext can have come yet).
Client connect(const TlsContext& ctx, Server& server) {
  Client client(corio::detail::make_tls_engine(ctx, "localhost").release());
  server.clean = true;
  handshake(*client, server);
  std::array<char, 64> buf;
  std::size_t n = 0;
  check(client->read(buf, n) == Status::want_read && n == 0);
  return client;
}

void run_raw(Server& server, std::string_view bytes, Chunker& chunks) {
  while (!bytes.empty() && !server.closed) {
    const std::size_t n = chunks.size(bytes.size());
    receive(*server.engine, bytes.substr(0, n));
    bytes.remove_prefix(n);
    drive(server);
  }
}

void run_after_handshake(Server& server, std::string_view bytes, Chunker& chunks,
                         std::uint8_t mode) {
  // Bit 3 clear: the client resumes with the ticket the last such input (or
  // LLVMFuzzerInitialize) left: no certificate, no signature, half the cost of an input.
  // Set: a full handshake, by a client that keeps no tickets.
  const bool full = (mode & 8) != 0;
  const Client client = connect(full ? contexts().client_full : contexts().client, server);
  check(server.engine->info().resumed == !full);
  const bool through_client = (mode & 2) != 0;
  std::string sent;  // what the client encrypted while the server was clean
  std::string ciphertext;
  while (!bytes.empty() && !server.closed) {
    const std::size_t n = chunks.size(bytes.size());
    const std::string_view chunk = bytes.substr(0, n);
    bytes.remove_prefix(n);
    if (through_client && (chunks.next() & 1) != 0) {
      std::span<const char> rest(chunk.data(), chunk.size());
      while (!rest.empty())
        rest = rest.subspan(client->write(rest));
      if (server.clean) sent.append(chunk);
      // The records, fed in pieces of their own sizes.
      ciphertext.clear();
      while (const std::size_t got = client->take_output(scratch))
        ciphertext.append(scratch.data(), got);
      std::string_view pending = ciphertext;
      while (!pending.empty()) {
        const std::size_t piece = chunks.size(pending.size());
        server.engine->feed(pending.substr(0, piece));
        pending.remove_prefix(piece);
        drive(server);
      }
    } else {
      server.clean = false;
      receive(*server.engine, chunk);
      drive(server);
    }
    if (server.clean) check(server.received == sent);
  }
  if ((mode & 4) != 0 && !server.closed) {
    client->shutdown();
    pump(*client, *server.engine);
    drive(server);
    if (server.clean) check(server.closed && server.received == sent);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // A first full handshake leaves the resuming client a ticket: every input then finds
  // one, whatever ran before it.
  Server server;
  server.engine = corio::detail::make_tls_engine(contexts().server, "");
  const Client client = connect(contexts().client, server);
  check(!client->info().resumed);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0];
  Chunker chunks(data[1]);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  Server server;
  server.engine = corio::detail::make_tls_engine(contexts().server, "");
  const bool after_handshake = (mode & 1) != 0;
  try {
    if (after_handshake) {
      run_after_handshake(server, bytes, chunks, mode);
    } else {
      run_raw(server, bytes, chunks);
    }
  } catch (const TlsError&) {
    // The expected end of most inputs: the session is over, as the transport ends it.
    // But a server that has only seen a real client's records has no reason to fail.
    check(!server.clean);
  }
  server.engine->shutdown();
  drain(*server.engine);
  return 0;
}
