// TLS session resumption on every backend: a corio client resumes with a corio server
// (plain, mutual TLS, a certificate picked by SNI) and with openssl s_server (TLS 1.3 and
// 1.2), openssl s_client resumes with a corio server; no resumption with the cache off or
// under another server name. With TLS 1.3 the tickets come after the handshake, so each connection
// reads an answer before it closes: that read is what takes the ticket in.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "corio/corio.hpp"
#include "tls/tls_fixture.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using namespace testing;

class TlsResumptionTest : public testing::TlsSuite {};

// What the server side saw on its last connection (handlers are capture-less).
bool server_resumed = false;
std::string server_peer = "none";

// Records what the server negotiated, then echoes lines.
Coro<void> record_and_echo(StreamReader r, StreamWriter w) {
  const std::optional<TlsInfo> info = w.tls_info();
  EXPECT_TRUE(info.has_value());
  server_resumed = info->resumed;
  server_peer = info->peer_subject;
  co_await echo_lines(std::move(r), std::move(w));
}

// One connection to `host`:`port` over `ctx` that echoes a line (taking in the tickets
// sent after the handshake) and closes; whether the client resumed.
Coro<bool> one_round(std::uint16_t port, const TlsContext& ctx, std::string host) {
  server_resumed = false;
  server_peer = "none";
  StreamOptions o;
  o.tls = &ctx;
  auto [r, w] = co_await open_connection(host, port, o);
  w.write("ping\n");
  const std::string back = co_await r.readline();
  EXPECT_EQ(back, "ping\n");
  const std::optional<TlsInfo> info = w.tls_info();
  EXPECT_TRUE(info.has_value());
  const bool resumed = info->resumed;
  w.write("quit\n");
  const std::string end = co_await r.read();
  EXPECT_EQ(end, "");  // the server's close_notify
  w.close();
  co_await w.wait_closed();
  co_return resumed;
}

TEST_P(TlsResumptionTest, ACorioClientResumesWithACorioServerAndEachTicketIsReplaced) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context(), record_and_echo);
    const std::uint16_t port = server.addresses()[0].port();
    const TlsContext cctx = client_context();
    const std::string host = "localhost";
    const bool first = co_await one_round(port, cctx, host);
    EXPECT_FALSE(first);
    EXPECT_FALSE(server_resumed);
    const bool second = co_await one_round(port, cctx, host);
    EXPECT_TRUE(second);
    EXPECT_TRUE(server_resumed);
    // The second used the ticket up; the tickets it brought are what the third resumes.
    const bool third = co_await one_round(port, cctx, host);
    EXPECT_TRUE(third);
    EXPECT_TRUE(server_resumed);
    // Another context has its own cache: a full handshake.
    const TlsContext fresh = client_context();
    const bool other = co_await one_round(port, fresh, host);
    EXPECT_FALSE(other);
    EXPECT_FALSE(server_resumed);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsResumptionTest, WithTheCacheOffOnEitherSideEveryHandshakeIsFull) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context(), record_and_echo);
    const std::uint16_t port = server.addresses()[0].port();
    TlsContext cctx = client_context();
    cctx.set_session_cache(false);
    const std::string host = "localhost";
    for (int i = 0; i < 2; ++i) {
      const bool resumed = co_await one_round(port, cctx, host);
      EXPECT_FALSE(resumed) << "client cache off, round " << i;
      EXPECT_FALSE(server_resumed);
    }
    // Turned on again, it resumes from the next ticket on.
    cctx.set_session_cache(true);
    const bool full = co_await one_round(port, cctx, host);
    EXPECT_FALSE(full);
    const bool again = co_await one_round(port, cctx, host);
    EXPECT_TRUE(again);
    server.close();
    co_await server.wait_closed();

    // A server with the cache off sends no ticket: nothing for the client to resume.
    TlsContext sctx = server_context();
    sctx.set_session_cache(false);
    Server no_tickets = co_await tls_echo_server(sctx, record_and_echo);
    const std::uint16_t port2 = no_tickets.addresses()[0].port();
    const TlsContext cctx2 = client_context();
    for (int i = 0; i < 2; ++i) {
      const bool resumed = co_await one_round(port2, cctx2, host);
      EXPECT_FALSE(resumed) << "server cache off, round " << i;
      EXPECT_FALSE(server_resumed);
    }
    no_tickets.close();
    co_await no_tickets.wait_closed();
  };
  run(main());
}

TEST_P(TlsResumptionTest, ASessionIsOnlyOfferedToTheServerNameItWasMadeFor) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context(), record_and_echo);
    const std::uint16_t port = server.addresses()[0].port();
    const TlsContext cctx = client_context();
    const std::string name = "localhost";
    const std::string ip = "127.0.0.1";  // the same server, and its certificate covers both
    const bool by_name = co_await one_round(port, cctx, name);
    EXPECT_FALSE(by_name);
    const bool by_ip = co_await one_round(port, cctx, ip);
    EXPECT_FALSE(by_ip);
    EXPECT_FALSE(server_resumed);
    // Each name kept its own tickets.
    const bool name_again = co_await one_round(port, cctx, name);
    EXPECT_TRUE(name_again);
    const bool ip_again = co_await one_round(port, cctx, ip);
    EXPECT_TRUE(ip_again);
    EXPECT_TRUE(server_resumed);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsResumptionTest, MutualTlsResumesAndTheServerStillKnowsTheClient) {
  auto main = []() -> Coro<void> {
    TlsContext sctx = server_context();
    sctx.load_verify_locations(cert("ca.pem")).set_verify_peer(true);
    Server server = co_await tls_echo_server(sctx, record_and_echo);
    const std::uint16_t port = server.addresses()[0].port();
    TlsContext cctx = client_context();
    cctx.load_cert_chain(cert("client.pem"), cert("client.key"));
    const std::string host = "localhost";
    const bool first = co_await one_round(port, cctx, host);
    EXPECT_FALSE(first);
    EXPECT_EQ(server_peer, "CN=corio-test-client");
    const bool second = co_await one_round(port, cctx, host);
    EXPECT_TRUE(second);
    EXPECT_TRUE(server_resumed);
    EXPECT_EQ(server_peer, "CN=corio-test-client");  // from the resumed session
    // TLS 1.2 is where the session id context matters: without one, OpenSSL fails every
    // resumption attempt on a server that verifies clients (a fatal handshake error).
    const std::string in = cert("s_client_mtls.in");
    const std::string out = cert("s_client_mtls.out");
    std::ofstream(in) << "quit\n";
    Child client(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_2",
         "-reconnect", "-CAfile", cert("ca.pem"), "-cert", cert("client.pem"), "-key",
         cert("client.key"), "-verify_return_error", "-servername", "localhost", "-ign_eof"},
        in, out);
    const int status = co_await client.wait();
    EXPECT_EQ(status, 0) << slurp(out);
    EXPECT_NE(slurp(out).find("Reused, TLSv1.2"), std::string::npos) << slurp(out);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

// Presents the untrusted CA's certificate by default; "localhost" switches (by SNI) to
// the real one, which asks for a client certificate.
TlsContext sni_server_context() {
  TlsContext real = server_context();
  real.load_verify_locations(cert("ca.pem")).set_verify_peer(true);
  TlsContext fallback = server_context("other");
  fallback.set_sni_callback([real](std::string_view name) -> std::optional<TlsContext> {
    if (name == "localhost") return real;
    return std::nullopt;
  });
  return fallback;
}

TEST_P(TlsResumptionTest, ASessionOnAContextPickedBySniResumes) {
  auto main = []() -> Coro<void> {
    TlsContext fallback = sni_server_context();
    Server server = co_await tls_echo_server(fallback, record_and_echo);
    const std::uint16_t port = server.addresses()[0].port();
    TlsContext cctx = client_context();
    cctx.load_cert_chain(cert("client.pem"), cert("client.key"));
    const std::string host = "localhost";
    const bool first = co_await one_round(port, cctx, host);
    EXPECT_FALSE(first);
    const bool second = co_await one_round(port, cctx, host);
    EXPECT_TRUE(second);
    EXPECT_TRUE(server_resumed);
    EXPECT_EQ(server_peer, "CN=corio-test-client");
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsResumptionTest, OpensslSClientResumesWithACorioServer) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context());
    const std::string port = std::to_string(server.addresses()[0].port());
    const std::string in = cert("s_client_resume.in");
    std::ofstream(in) << "hello\nquit\n";
    // TLS 1.3: `s_client -reconnect` drops each connection as soon as its handshake is
    // done, before the tickets arrive, so it never resumes (not even with s_server). A
    // session saved from a connection that read an answer (-sess_out) is resumed by
    // the next s_client (-sess_in). -ign_eof: wait for the server's close, not stdin's.
    const std::string session = cert("s_client.session");
    const std::string out1 = cert("s_client_new.out");
    Child first(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile", cert("ca.pem"),
         "-verify_return_error", "-servername", "localhost", "-ign_eof", "-sess_out", session},
        in, out1);
    const int status1 = co_await first.wait();
    EXPECT_EQ(status1, 0);
    EXPECT_NE(slurp(out1).find("New, TLSv1.3"), std::string::npos) << slurp(out1);
    const std::string out2 = cert("s_client_reused.out");
    Child second(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile", cert("ca.pem"),
         "-verify_return_error", "-servername", "localhost", "-ign_eof", "-sess_in", session},
        in, out2);
    const int status2 = co_await second.wait();
    EXPECT_EQ(status2, 0);
    EXPECT_NE(slurp(out2).find("Reused, TLSv1.3"), std::string::npos) << slurp(out2);
    // TLS 1.2 sessions come in the handshake: there -reconnect resumes (five times).
    const std::string out3 = cert("s_client_reconnect.out");
    Child again(
        {"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_2", "-reconnect", "-CAfile",
         cert("ca.pem"), "-verify_return_error", "-servername", "localhost", "-ign_eof"},
        in, out3);
    const int status3 = co_await again.wait();
    EXPECT_EQ(status3, 0);
    EXPECT_NE(slurp(out3).find("Reused, TLSv1.2"), std::string::npos) << slurp(out3);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

// openssl s_server on a free port, at most `version` ("-tls1_3", "-tls1_2"), answering
// each line reversed (-rev); a corio client connects `rounds` times with one context and
// says which resumed ("nrr": new, resumed, resumed; "-" for a failed connection).
Coro<std::string> rounds_with_s_server(std::string version, int rounds) {
  const std::uint16_t port = free_port();
  Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                cert("server.pem"), "-key", cert("server.key"), version, "-rev", "-quiet",
                "-naccept", std::to_string(rounds)},
               "", cert("s_server_resume.out"));
  const TlsContext cctx = client_context();
  StreamOptions o;
  o.tls = &cctx;
  const std::string host = "localhost";
  std::string seen;
  for (int round = 0; round < rounds; ++round) {
    std::optional<std::pair<StreamReader, StreamWriter>> streams =
        co_await connect_when_listening(host, port, o);
    if (!streams) {
      seen += '-';
      break;
    }
    auto& [r, w] = *streams;
    // The answer is the read that takes the TLS 1.3 tickets in.
    w.write("resume me\n");
    const std::string back = co_await r.readline();
    EXPECT_EQ(back, "em emuser\n");
    seen += w.tls_info()->resumed ? 'r' : 'n';
    w.close();
    co_await w.wait_closed();
  }
  const int status = co_await server.wait();
  EXPECT_EQ(status, 0);  // -naccept: it exits after the last
  co_return seen;
}

TEST_P(TlsResumptionTest, ACorioClientResumesWithOpensslSServer) {
  auto main = []() -> Coro<void> {
    const std::string tls13 = "-tls1_3";
    const std::string with13 = co_await rounds_with_s_server(tls13, 2);
    EXPECT_EQ(with13, "nr");
    // A TLS 1.2 session goes back into the cache after each resumption: no new one
    // comes, and it is good for more.
    const std::string tls12 = "-tls1_2";
    const std::string with12 = co_await rounds_with_s_server(tls12, 3);
    EXPECT_EQ(with12, "nrr");
  };
  run(main());
}

TEST_P(TlsResumptionTest, ASessionFromAnotherNamesContextDoesNotSkipTheClientCertificate) {
  auto main = []() -> Coro<void> {
    // "localhost" asks for a client certificate, any other name does not. A client
    // that got a session under another name and offers it for "localhost" (as openssl
    // s_client does when told to) must make a full handshake there, and be refused.
    TlsContext fallback = sni_server_context();
    Server server = co_await tls_echo_server(fallback, record_and_echo);
    const std::string port = std::to_string(server.addresses()[0].port());
    const std::string in = cert("cross.in");
    std::ofstream(in) << "hello\nquit\n";
    const std::string session = cert("cross.session");
    Child get({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername", "public",
               "-ign_eof", "-sess_out", session},
              in, cert("cross1.out"));
    const int got = co_await get.wait();
    EXPECT_EQ(got, 0);
    EXPECT_EQ(server_peer, "");  // served, without a client certificate
    server_peer = "no handler ran";
    const std::string out = cert("cross2.out");
    Child offer({"openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername", "localhost",
                 "-ign_eof", "-sess_in", session},
                in, out);
    (void)co_await offer.wait();
    EXPECT_EQ(slurp(out).find("Reused"), std::string::npos) << slurp(out);
    EXPECT_EQ(server_peer, "no handler ran");  // refused: no certificate
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(TlsResumptionTest);

}  // namespace
}  // namespace corio
