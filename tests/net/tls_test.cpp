// TLS streams on every backend: corio's client and server with each other, and with
// peers nobody here wrote (openssl s_server, openssl s_client, Python's ssl module);
// certificate verification failures; faults (garbage, truncation, a stalled handshake).
// The certificates are made for the run by tests/tls/make_certs.sh.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "corio/corio.hpp"
#include "coro/test_coros.hpp"
#include "support/raw_socket.hpp"
#include "tls/tls_fixture.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using namespace testing;

class TlsTest : public testing::TlsSuite {};

TEST_P(TlsTest, ACorioClientAndServerCarryLinesAndMegabytesAndSayWhatTheyNegotiated) {
  auto main = []() -> Coro<void> {
    TlsContext sctx = server_context();
    sctx.set_alpn_protocols({"corio/1", "http/1.1"});
    auto handler = [](StreamReader r, StreamWriter w) -> Coro<void> {
      const std::optional<TlsInfo> info = w.tls_info();
      EXPECT_TRUE(info.has_value());
      w.write("alpn=" + info->alpn + " sni=" + info->server_name + "\n");
      std::string big = co_await r.readexactly(3 << 20);
      w.write(big);  // back through the watermarks
      co_await w.drain();
      co_await echo_lines(std::move(r), std::move(w));
    };
    Server server = co_await tls_echo_server(sctx, handler);
    TlsContext cctx = client_context();
    cctx.set_alpn_protocols({"http/1.1", "corio/1"});
    auto [r, w] =
        co_await open_connection("localhost", server.addresses()[0].port(), tls_options(cctx));
    EXPECT_EQ(co_await r.readline(), "alpn=corio/1 sni=localhost\n");  // the server's choice
    const std::optional<TlsInfo> info = w.tls_info();
    EXPECT_TRUE(info.has_value());
    EXPECT_EQ(info->version, "TLSv1.3");
    EXPECT_EQ(info->alpn, "corio/1");
    EXPECT_NE(info->peer_subject.find("CN=localhost"), std::string::npos) << info->peer_subject;
    EXPECT_FALSE(w.can_write_eof());
    const std::string data = pattern(3 << 20, 11);
    auto send_big = [](StreamWriter& wr, const std::string& d) -> Coro<void> {
      wr.write(d);
      co_await wr.drain();
    };
    auto [sent, back] = co_await gather(send_big(w, data), r.readexactly(data.size()));
    (void)sent;
    EXPECT_TRUE(back == data);
    for (int i = 0; i < 200; ++i) {
      w.write("line " + std::to_string(i) + "\n");
      EXPECT_EQ(co_await r.readline(), "line " + std::to_string(i) + "\n");
    }
    w.write("quit\n");
    EXPECT_EQ(co_await r.read(), "");  // the server's close_notify: a clean end
    EXPECT_TRUE(r.at_eof());
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsTest, EachVerificationFailureIsATlsErrorSayingWhyAndTheServerKeepsServing) {
  auto main = []() -> Coro<void> {
    Server good = co_await tls_echo_server(server_context());
    Server expired = co_await tls_echo_server(server_context("expired"));
    Server unknown = co_await tls_echo_server(server_context("other"));
    auto failure = [](std::uint16_t port, std::string name) -> Coro<std::string> {
      try {
        auto streams = co_await open_connection("127.0.0.1", port,
                                                tls_options(client_context(), std::move(name)));
        (void)streams;
      } catch (const TlsError& e) {
        EXPECT_EQ(e.code(), TlsErrc::verification) << e.what();
        co_return e.verify_result();
      }
      co_return "no error";
    };
    EXPECT_EQ(co_await failure(good.addresses()[0].port(), "example.com"), "hostname mismatch");
    EXPECT_EQ(co_await failure(expired.addresses()[0].port(), ""), "certificate has expired");
    EXPECT_EQ(co_await failure(unknown.addresses()[0].port(), ""),
              "unable to get local issuer certificate");
    // An IP is checked against the certificate's IP entries.
    auto [r, w] = co_await open_connection("127.0.0.1", good.addresses()[0].port(),
                                           tls_options(client_context()));
    w.write("still here\n");
    EXPECT_EQ(co_await r.readline(), "still here\n");
    w.close();
    co_await w.wait_closed();
    for (Server* s : {&good, &expired, &unknown}) {
      s->close();
      co_await s->wait_closed();
    }
  };
  run(main());
}

TEST_P(TlsTest, MutualTlsNeedsTheClientCertificateAndTheServerSeesWhoItIs) {
  auto main = []() -> Coro<void> {
    TlsContext sctx = server_context();
    sctx.load_verify_locations(cert("ca.pem")).set_verify_peer(true);
    auto whoami = [](StreamReader r, StreamWriter w) -> Coro<void> {
      w.write(w.tls_info()->peer_subject + "\n");
      (void)co_await r.read();
      w.close();
    };
    Server server = co_await tls_echo_server(sctx, whoami);
    const std::uint16_t port = server.addresses()[0].port();
    // Without a certificate: in TLS 1.3 the client's handshake ends before the server
    // refuses, so the refusal arrives as an alert at the first read.
    bool refused = false;
    try {
      auto [r, w] = co_await open_connection("localhost", port, tls_options(client_context()));
      (void)co_await r.readline();
    } catch (const TlsError& e) {
      refused = true;
      EXPECT_NE(std::string(e.what()).find("certificate required"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(refused);
    TlsContext with_cert = client_context();
    with_cert.load_cert_chain(cert("client.pem"), cert("client.key"));
    auto [r, w] = co_await open_connection("localhost", port, tls_options(with_cert));
    EXPECT_EQ(co_await r.readline(), "CN=corio-test-client\n");
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsTest, OpensslSClientTalksToACorioServer) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context());
    const std::string in = cert("s_client.in");
    const std::string out = cert("s_client.out");
    std::string lines;
    for (int i = 0; i < 100; ++i)
      lines += "s_client line " + std::to_string(i) + "\n";
    std::ofstream(in) << lines << "quit\n";
    Child client({"openssl", "s_client", "-connect",
                  "127.0.0.1:" + std::to_string(server.addresses()[0].port()), "-CAfile",
                  cert("ca.pem"), "-verify_return_error", "-quiet", "-servername", "localhost"},
                 in, out);
    EXPECT_EQ(co_await client.wait(), 0);  // s_client ends when the server closes
    EXPECT_EQ(slurp(out), lines);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsTest, ACorioClientTalksToOpensslSServer) {
  auto main = []() -> Coro<void> {
    const std::uint16_t port = free_port();
    const std::string out = cert("s_server.out");
    Child server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                  cert("server.pem"), "-key", cert("server.key"), "-rev", "-naccept", "1"},
                 "", out);
    // -rev answers each line reversed; retry until it listens.
    const StreamOptions o = tls_options(client_context());
    std::optional<std::pair<StreamReader, StreamWriter>> streams =
        co_await connect_when_listening("localhost", port, o);
    EXPECT_TRUE(streams.has_value());
    auto& [r, w] = *streams;
    for (int i = 0; i < 50; ++i) {
      std::string line = "corio to s_server " + std::to_string(i);
      w.write(line + "\n");
      std::string back = co_await r.readline();
      EXPECT_EQ(back, std::string(line.rbegin(), line.rend()) + "\n");
    }
    w.close();
    co_await w.wait_closed();
    EXPECT_EQ(co_await server.wait(), 0);  // -naccept 1: it exits after us
  };
  run(main());
}

TEST_P(TlsTest, PythonSslClientsHammerTheServerAndGetEveryByteBack) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context(), echo_bytes);
    Child py({"python3", CORIO_TLS_PY_CLIENT, std::to_string(server.addresses()[0].port()),
              cert("ca.pem"), "300", "4"},
             "", cert("py.out"));
    EXPECT_EQ(co_await py.wait(), 0) << slurp(cert("py.out"));
    EXPECT_NE(slurp(cert("py.out")).find("ok 300 connections"), std::string::npos);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsTest, GarbageAndStalledHandshakesAreClosedAndNothingElseIsDisturbed) {
  auto main = []() -> Coro<void> {
    Server server = co_await tls_echo_server(server_context());
    const Address at = server.addresses()[0];
    // Garbage instead of a ClientHello: the server closes the connection.
    Socket junk = co_await connect(at);
    co_await junk.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[256];
    std::size_t got = 0;
    try {
      for (;;) {
        const std::size_t n = co_await junk.recv(buf, sizeof buf);
        if (n == 0) break;
        got += n;  // an alert, maybe
      }
    } catch (const std::system_error&) {
      // a reset is as good as a close
    }
    EXPECT_LT(got, sizeof buf);
    // A client that connects and never speaks is dropped after the handshake timeout.
    Socket silent = co_await connect(at);
    const TimePoint start = EventLoop::running().now();
    EXPECT_EQ(co_await wait_for(silent.recv(buf, sizeof buf), 30s), 0u);
    EXPECT_GE(EventLoop::running().now() - start, 1900ms);
    // A reset in the middle of the handshake.
    Socket rude = co_await connect(at);
    testing::set_abortive_close(rude.handle());
    rude.close();
    // Meanwhile, and after, a real client is served.
    auto [r, w] = co_await open_connection("localhost", at.port(), tls_options(client_context()));
    w.write("fine\n");
    EXPECT_EQ(co_await r.readline(), "fine\n");
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsTest, ATcpCloseWithoutCloseNotifyIsATruncationErrorNotAnEnd) {
  auto main = []() -> Coro<void> {
    // The server answers, then drops the TCP connection under the TLS session.
    auto rude = [](StreamReader r, StreamWriter w) -> Coro<void> {
      w.write("partial");
      co_await w.drain();
      (void)co_await r.readline();
      net::shutdown(w.socket().handle(), ShutdownHow::both);
    };
    Server server = co_await tls_echo_server(server_context(), rude);
    auto [r, w] = co_await open_connection("localhost", server.addresses()[0].port(),
                                           tls_options(client_context()));
    EXPECT_EQ(co_await r.readexactly(7), "partial");
    w.write("go\n");
    bool truncated = false;
    try {
      (void)co_await r.read();
    } catch (const TlsError& e) {
      truncated = e.code() == TlsErrc::truncated;
    }
    EXPECT_TRUE(truncated);
    w.abort();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

// A TLS session served over a socket transport, as examples/common serves them.
Coro<std::unique_ptr<Transport>> accept_session(const Socket& listener, const TlsContext& ctx) {
  Socket s = co_await listener.accept();
  co_return co_await start_tls(socket_transport(std::move(s)), ctx);
}

TEST_P(TlsTest, ATransportReadWithAnErrorCodeReportsTruncationAndCancelInsteadOfThrowing) {
  auto main = []() -> Coro<void> {
    const TlsContext ctx = server_context();
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    const std::uint16_t port = listener.local_address().port();
    for (const bool truncate : {false, true}) {
      Task<std::unique_ptr<Transport>> served = create_task(accept_session(listener, ctx));
      auto [r, w] = co_await open_connection("localhost", port, tls_options(client_context()));
      std::unique_ptr<Transport> session = co_await served;
      w.write("hello");
      co_await w.drain();
      char buf[64];
      std::error_code ec = make_error_code(std::errc::io_error);  // a success clears it
      const std::size_t n = co_await session->read_some(buf, ec);
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(std::string(buf, n), "hello");
      if (truncate) {
        // The TCP connection ends under the client's session, with no close_notify.
        net::shutdown(w.socket().handle(), ShutdownHow::both);
        EXPECT_EQ(co_await session->read_some(buf, ec), 0u);
        EXPECT_EQ(ec, TlsErrc::truncated) << ec.message();
      } else {
        // A failure of the socket below (ECANCELED here) comes back as its errno.
        Task<std::size_t> reading = create_task(session->read_some(buf, ec));
        co_await sleep(20ms);
        session->cancel_read();
        EXPECT_EQ(co_await reading, 0u);
        EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
      }
      w.abort();
      session->close();
    }
  };
  run(main());
}

TEST_P(TlsTest, ACancelledTlsReadLosesNoBytes) {
  auto main = []() -> Coro<void> {
    auto slow = [](StreamReader r, StreamWriter w) -> Coro<void> {
      w.write("ab");
      co_await w.drain();
      co_await sleep(60ms);
      w.write("cd\n");
      (void)co_await r.read();
      w.close();
    };
    Server server = co_await tls_echo_server(server_context(), slow);
    auto [r, w] = co_await open_connection("localhost", server.addresses()[0].port(),
                                           tls_options(client_context()));
    EXPECT_THROW(co_await wait_for(r.readline(), 20ms), TimeoutError);
    EXPECT_EQ(co_await r.readline(), "abcd\n");
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsTest, ContextsFromPemTextPickACertificateByNameAndRefuseBadSettings) {
  auto main = []() -> Coro<void> {
    // The default context has the untrusted CA's certificate; the SNI callback swaps in
    // the real one for "localhost", from PEM text in memory.
    TlsContext real = TlsContext::server_pem(slurp(cert("other.pem")), slurp(cert("other.key")));
    real.load_cert_chain_pem(slurp(cert("server.pem")), slurp(cert("server.key")));
    TlsContext fallback = server_context("other");
    fallback.set_sni_callback([real](std::string_view name) -> std::optional<TlsContext> {
      if (name == "localhost") return real;
      return std::nullopt;
    });
    Server server = co_await tls_echo_server(fallback);
    const std::uint16_t port = server.addresses()[0].port();
    TlsContext from_pem = TlsContext::client();
    from_pem.load_verify_pem(slurp(cert("ca.pem")));
    auto [r, w] = co_await open_connection("localhost", port, tls_options(from_pem));
    w.write("by name\n");
    EXPECT_EQ(co_await r.readline(), "by name\n");
    EXPECT_EQ(w.tls_info()->server_name, "localhost");
    w.close();
    co_await w.wait_closed();
    // An IP sends no SNI: the default (untrusted) certificate comes back.
    bool refused = false;
    try {
      auto streams = co_await open_connection("127.0.0.1", port, tls_options(from_pem));
      (void)streams;
    } catch (const TlsError& e) {
      refused = e.code() == TlsErrc::verification;
    }
    EXPECT_TRUE(refused);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
  // Refused settings are TlsError(configuration), with OpenSSL's reason.
  auto code_of = [](auto&& f) {
    try {
      f();
    } catch (const TlsError& e) {
      return e.code();
    }
    return std::error_code();
  };
  EXPECT_EQ(code_of([] { (void)TlsContext::server(cert("server.pem"), cert("client.key")); }),
            TlsErrc::configuration);
  EXPECT_EQ(code_of([] { (void)TlsContext::server(cert("missing.pem"), cert("server.key")); }),
            TlsErrc::configuration);
  EXPECT_EQ(code_of([] {
              (void)TlsContext::server_pem(slurp(cert("server.pem")), slurp(cert("client.key")));
            }),
            TlsErrc::configuration);
  EXPECT_EQ(code_of([] { TlsContext::client().load_verify_pem("not a certificate"); }),
            TlsErrc::configuration);
  EXPECT_EQ(code_of([] { TlsContext::client().set_alpn_protocols({""}); }), TlsErrc::configuration);
}

CORIO_INSTANTIATE_BACKEND_SUITE(TlsTest);

}  // namespace
}  // namespace corio
