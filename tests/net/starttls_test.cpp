// STARTTLS on every backend: StreamWriter::start_tls() upgrading a plaintext stream, and
// corio::start_tls() over a bare transport, against peers nobody here wrote (openssl
// s_client -starttls smtp, Python asyncio's writer.start_tls()) and corio itself; the
// plaintext-injection guard, output queued before the upgrade, and the misuse errors.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "corio/corio.hpp"
#include "coro/test_coros.hpp"
#include "tls/tls_fixture.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using namespace testing;

class StartTlsTest : public testing::TlsSuite {};

// What a server handler saw, for the test body to check (handlers have no captures:
// the server keeps them longer than any one test's frame).
struct Seen {
  std::string error;   // the what() of the exception start_tls() threw, if any
  bool after = false;  // whether the handler went on past start_tls()
};
Seen seen;

Coro<Server> plain_server(StreamHandler handler) {
  seen = {};
  co_return co_await start_server(std::move(handler), "127.0.0.1", 0);
}

// A minimal SMTP-shaped server: greeting, EHLO offering STARTTLS, then the upgrade and
// an echo of lines in the session, as s_client -starttls smtp expects.
Coro<void> smtp_like(StreamReader r, StreamWriter w) {
  w.write("220 corio ESMTP\r\n");
  const std::string ehlo = co_await r.readline();
  EXPECT_EQ(ehlo.rfind("EHLO ", 0), 0u) << ehlo;
  w.write("250-corio\r\n250 STARTTLS\r\n");
  EXPECT_EQ(co_await r.readline(), "STARTTLS\r\n");
  w.write("220 go ahead\r\n");
  TlsContext ctx = server_context();
  co_await w.start_tls(ctx);
  EXPECT_TRUE(w.tls_info().has_value());
  co_await echo_lines(std::move(r), std::move(w));
}

TEST_P(StartTlsTest, OpensslSClientUpgradesAnSmtpLikeSessionAndIsEchoed) {
  auto main = []() -> Coro<void> {
    Server server = co_await plain_server(smtp_like);
    const std::string in = cert("starttls.in");
    const std::string out = cert("starttls.out");
    std::string lines;
    for (int i = 0; i < 100; ++i)
      lines += "after STARTTLS " + std::to_string(i) + "\n";
    std::ofstream(in) << lines << "quit\n";
    Child client({"openssl", "s_client", "-starttls", "smtp", "-connect",
                  "127.0.0.1:" + std::to_string(server.addresses()[0].port()), "-CAfile",
                  cert("ca.pem"), "-verify_return_error", "-quiet", "-servername", "localhost"},
                 in, out);
    EXPECT_EQ(co_await client.wait(), 0);
    EXPECT_EQ(slurp(out), lines);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(StartTlsTest, ACorioClientUpgradesWithPythonAsyncioStartTls) {
  auto main = []() -> Coro<void> {
    const std::uint16_t port = free_port();
    const std::string out = cert("py_starttls.out");
    Child py({"python3", CORIO_TLS_PY_STARTTLS_SERVER, std::to_string(port), cert("server.pem"),
              cert("server.key")},
             "", out);
    std::optional<std::pair<StreamReader, StreamWriter>> streams =
        co_await connect_when_listening("127.0.0.1", port);
    EXPECT_TRUE(streams.has_value());
    auto& [r, w] = *streams;
    EXPECT_EQ(co_await r.readline(), "READY\n");
    EXPECT_FALSE(w.tls_info().has_value());
    w.write("STARTTLS\n");
    EXPECT_EQ(co_await r.readline(), "GO\n");
    TlsContext ctx = client_context();
    co_await w.start_tls(ctx, {.server_hostname = "localhost"});
    EXPECT_EQ(w.tls_info()->server_name, "localhost");
    for (int i = 0; i < 50; ++i) {
      const std::string line = "secret " + std::to_string(i) + "\n";
      w.write(line);
      EXPECT_EQ(co_await r.readline(), "tls:" + line);
    }
    w.write("quit\n");
    EXPECT_EQ(co_await r.read(), "");  // asyncio's close_notify
    w.close();
    co_await w.wait_closed();
    EXPECT_EQ(co_await py.wait(), 0) << slurp(out);
    EXPECT_EQ(slurp(out), "served\n");
  };
  run(main());
}

// The server reads the command late, so the client's ClientHello sits in its buffer
// behind the line: start_tls() must hand those bytes to the session.
Coro<void> late_upgrade(StreamReader r, StreamWriter w) {
  co_await sleep(100ms);
  EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
  TlsContext ctx = server_context();
  try {
    co_await w.start_tls(ctx);
  } catch (const std::exception& e) {
    seen.error = e.what();
    co_return;
  }
  seen.after = true;
  co_await echo_lines(std::move(r), std::move(w));
}

TEST_P(StartTlsTest, AClientHelloRightBehindTheCommandIsTheStartOfTheSession) {
  auto main = []() -> Coro<void> {
    Server server = co_await plain_server(late_upgrade);
    auto [r, w] = co_await open_connection("127.0.0.1", server.addresses()[0].port());
    w.write("STARTTLS\n");  // and the handshake at once, without waiting for an answer
    TlsContext ctx = client_context();
    co_await w.start_tls(ctx, {.server_hostname = "localhost"});
    w.write("hello\n");
    EXPECT_EQ(co_await r.readline(), "hello\n");
    w.write("quit\n");
    EXPECT_EQ(co_await r.read(), "");
    w.close();
    co_await w.wait_closed();
    EXPECT_TRUE(seen.after) << seen.error;
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(StartTlsTest, PlaintextInjectedAfterTheCommandFailsTheUpgradeAndIsNeverRead) {
  auto main = []() -> Coro<void> {
    Server server = co_await plain_server(late_upgrade);
    Socket attacker = co_await connect(server.addresses()[0]);
    // A man in the middle appends a command the server would run as if it came over TLS.
    co_await attacker.send_all("STARTTLS\nEVIL\n");
    char buf[256];
    try {
      while (co_await attacker.recv(buf, sizeof buf) > 0) {
      }
    } catch (const std::system_error&) {
      // the abort may reset the connection
    }
    EXPECT_FALSE(seen.after);
    EXPECT_NE(seen.error, "") << "the injected line was taken for a ClientHello";
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

// 256 KiB written in the clear right before the upgrade: all of it must reach the peer
// ahead of the ServerHello.
Coro<void> bulk_then_upgrade(StreamReader r, StreamWriter w) {
  w.write(pattern(256 << 10, 5));
  TlsContext ctx = server_context();
  co_await w.start_tls(ctx);
  co_await echo_lines(std::move(r), std::move(w));
}

TEST_P(StartTlsTest, PlaintextQueuedBeforeTheUpgradeIsAllSentFirst) {
  auto main = []() -> Coro<void> {
    Server server = co_await plain_server(bulk_then_upgrade);
    auto [r, w] = co_await open_connection("127.0.0.1", server.addresses()[0].port());
    co_await sleep(50ms);  // let the server's send back up against our full buffer
    const std::string bulk = co_await r.readexactly(256 << 10);
    EXPECT_TRUE(bulk == pattern(256 << 10, 5));
    TlsContext ctx = client_context();
    co_await w.start_tls(ctx, {.server_hostname = "localhost"});
    w.write("after\n");
    EXPECT_EQ(co_await r.readline(), "after\n");
    w.close();
    co_await w.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

Coro<void> plain_echo(StreamReader r, StreamWriter w) {
  co_await echo_lines(std::move(r), std::move(w));
}

Coro<void> silent(StreamReader r, StreamWriter w) {
  (void)co_await r.read();  // until the client goes
  w.close();
}

TEST_P(StartTlsTest, MisuseIsRefusedAndLeavesTheStreamAsItWas) {
  auto main = []() -> Coro<void> {
    Server server = co_await plain_server(plain_echo);
    const std::uint16_t port = server.addresses()[0].port();
    TlsContext ctx = client_context();
    auto [r, w] = co_await open_connection("127.0.0.1", port);
    // A verifying client must name the server; nothing is lost by asking.
    EXPECT_THROW(co_await w.start_tls(ctx), std::invalid_argument);
    // Not while another task reads.
    Task<std::string> reading = create_task(r.readline());
    co_await sleep(10ms);
    EXPECT_THROW(co_await w.start_tls(ctx, {.server_hostname = "localhost"}), RuntimeError);
    w.write("still plain\n");
    EXPECT_EQ(co_await reading, "still plain\n");
    w.close();
    co_await w.wait_closed();
    // No write while the handshake runs (the silent server never answers it), and a
    // cancelled handshake aborts the stream: it is neither plaintext nor TLS any more.
    Server quiet = co_await plain_server(silent);
    auto [r1, w1] = co_await open_connection("127.0.0.1", quiet.addresses()[0].port());
    Task<void> upgrading = create_task(w1.start_tls(ctx, {.server_hostname = "localhost"}));
    co_await sleep(10ms);
    EXPECT_THROW(w1.write("x"), RuntimeError);
    EXPECT_THROW((void)co_await r1.readline(), RuntimeError);
    upgrading.cancel();
    EXPECT_THROW(co_await upgrading, CancelledError);
    EXPECT_THROW(w1.write("x"), std::exception);
    EXPECT_FALSE(w1.tls_info().has_value());
    co_await w1.wait_closed();
    quiet.close();
    co_await quiet.wait_closed();
    // Not on a closed stream.
    auto [r2, w2] = co_await open_connection("127.0.0.1", port);
    w2.close();
    EXPECT_THROW(co_await w2.start_tls(ctx, {.server_hostname = "localhost"}), RuntimeError);
    co_await w2.wait_closed();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(StartTlsTest, StartTlsOverABareTransportAndItsHandshakeTimeout) {
  auto main = []() -> Coro<void> {
    Server tls = co_await tls_echo_server(server_context());
    TlsContext ctx = client_context();
    Socket sock = co_await connect(tls.addresses()[0]);
    std::unique_ptr<Transport> plain = socket_transport(std::move(sock));
    std::unique_ptr<Transport> t =
        co_await start_tls(std::move(plain), ctx, {.server_hostname = "localhost"});
    const std::optional<TlsInfo> info = tls_info(*t);
    EXPECT_TRUE(info.has_value());
    EXPECT_EQ(info->server_name, "localhost");
    const std::string line = "over a transport\n";
    std::size_t sent = 0;
    while (sent < line.size())
      sent += co_await t->write_some(std::span(line).subspan(sent));
    co_await t->flush();
    std::string back;
    char buf[64];
    while (back.find('\n') == std::string::npos) {
      const std::size_t n = co_await t->read_some(buf);
      if (n == 0) break;
      back.append(buf, n);
    }
    EXPECT_EQ(back, line);
    t->close();
    Socket s1 = co_await connect(tls.addresses()[0]);
    EXPECT_FALSE(tls_info(*socket_transport(std::move(s1))).has_value());

    // A plaintext peer that never answers the ClientHello: the timeout ends the wait.
    Server quiet = co_await plain_server(silent);
    Socket s2 = co_await connect(quiet.addresses()[0]);
    std::unique_ptr<Transport> p2 = socket_transport(std::move(s2));
    const TimePoint start = EventLoop::running().now();
    EXPECT_THROW(co_await start_tls(std::move(p2), ctx,
                                    {.server_hostname = "localhost", .handshake_timeout = 200ms}),
                 TimeoutError);
    EXPECT_GE(EventLoop::running().now() - start, 190ms);
    std::unique_ptr<Transport> none;
    EXPECT_THROW((void)start_tls(std::move(none), ctx), std::invalid_argument);
    quiet.close();
    co_await quiet.wait_closed();
    tls.close();
    co_await tls.wait_closed();
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(StartTlsTest);

}  // namespace
}  // namespace corio
