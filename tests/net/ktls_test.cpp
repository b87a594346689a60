// Kernel TLS (Linux's tls ULP): after the handshake a session over TCP hands its sends
// to the kernel, which frames and encrypts them; receives stay with OpenSSL. Every
// test but the first needs a kernel with the ULP and skips without one (this project's
// machines: kernel 6.18 without it); scripts/vm-run.sh runs this binary on Debian's own
// kernel, which has it, under KVM (`.ci/run` does where /dev/kvm exists). The peers that
// read what the kernel sent are openssl s_client / s_server and OpenSSL itself.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <thread>

#include "corio/corio.hpp"
#include "corio/os/kernel_tls.hpp"
#include "coro/test_coros.hpp"
#include "tls/tls_fixture.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using namespace testing;

class KernelTlsTest : public TlsSuite {};

// Skips without kTLS, or fails where CORIO_REQUIRE_KERNEL_TLS is set (the VM run, so a
// tls module that did not load cannot pass as skipped tests).
#define CORIO_REQUIRE_KERNEL_TLS()                                                 \
  if (const std::error_code no_ktls = net::kernel_tls_support()) {                 \
    if (std::getenv("CORIO_REQUIRE_KERNEL_TLS") != nullptr) {                      \
      FAIL() << "no kernel TLS here: " << no_ktls.message();                       \
    }                                                                              \
    GTEST_SKIP() << "no kernel TLS here (" << no_ktls.message()                    \
                 << "): scripts/vm-run.sh runs this test on a kernel that has it"; \
  }

// A counter of /proc/net/tls_stat (TlsTxSw: sessions whose sends the kernel encrypted
// in software), -1 if the file or the line is missing.
long tls_stat(const std::string& name) {
  std::ifstream in("/proc/net/tls_stat");
  std::string key;
  long value = 0;
  while (in >> key >> value) {
    if (key == name) return value;
  }
  return -1;
}

// echo_bytes(), counting the sessions whose sends the kernel made.
struct EchoBytes {
  int* kernel_sessions;
  Coro<void> operator()(StreamReader r, StreamWriter w) const {
    const std::optional<TlsInfo> info = w.tls_info();
    if (info && info->kernel_tls) ++*kernel_sessions;
    co_await echo_bytes(std::move(r), std::move(w));
  }
};

// Closes the client's streams, then the server, waiting for each.
Coro<void> close_both(StreamWriter& w, Server& server) {
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

// What the loop running `main` wrote to stderr (debug mode's lines).
std::string stderr_of(Coro<void> main) {
  ::testing::internal::CaptureStderr();
  run(std::move(main));
  return ::testing::internal::GetCapturedStderr();
}

// Where the kernel has no tls ULP every session keeps its records in user space and
// says so in tls_info(); where it has one, every session over TCP hands its sends to
// it. Debug mode says which after each handshake, and why, on both sides.
TEST_P(KernelTlsTest, DebugModeSaysWhichRecordPathEachSessionTookAndWhy) {
  const std::error_code support = net::kernel_tls_support();
  // The probe agrees with Linux's own list of loaded ULPs (nothing to read elsewhere).
  std::ifstream ulps("/proc/sys/net/ipv4/tcp_available_ulp");
  const std::string listed((std::istreambuf_iterator<char>(ulps)),
                           std::istreambuf_iterator<char>());
  if (listed.find("tls") != std::string::npos) {
    EXPECT_FALSE(support) << support.message();
  }
  if (support == std::errc::no_such_file_or_directory) {
    EXPECT_EQ(listed.find("tls"), std::string::npos) << listed;
  }
  auto main = [](bool kernel) -> Coro<void> {
    EventLoop::running().set_debug(true);
    co_await sleep(0s);  // debug mode starts with the next turn
    Server server = co_await tls_echo_server(server_context());
    auto [r, w] = co_await open_connection("localhost", server.addresses()[0].port(),
                                           tls_options(client_context()));
    const std::optional<TlsInfo> info = w.tls_info();
    EXPECT_TRUE(info.has_value());
    EXPECT_EQ(info->kernel_tls, kernel);
    w.write("x\n");
    EXPECT_EQ(co_await r.readline(), "x\n");
    co_await close_both(w, server);
  };
  const std::string log = stderr_of(main(!support));
  const std::string path = !support ? "sends encrypted by the kernel (kTLS), receives in user space"
                           : support == std::errc::no_such_file_or_directory
                               ? "records in user space (the kernel has no tls ULP)"
                               : "records in user space (";
  // One line per side: the client's and the server's handshake.
  std::size_t lines = 0;
  for (std::size_t at = log.find("corio: TLS handshake with "); at != std::string::npos;
       at = log.find("corio: TLS handshake with ", at + 1)) {
    const std::string line = log.substr(at, log.find('\n', at) - at);
    EXPECT_NE(line.find("TLSv1.3"), std::string::npos) << line;
    EXPECT_NE(line.find(path), std::string::npos) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << log;
}

// Both sides' sends go through the kernel: megabytes both ways arrive intact, the
// server's session tickets (records it makes after the keys went to the kernel) let the
// next connection resume, and each side's close_notify is a clean end for the other.
TEST_P(KernelTlsTest, BothSidesHandTheirSendsToTheKernelAndEveryByteArrives) {
  CORIO_REQUIRE_KERNEL_TLS();
  const long before = tls_stat("TlsTxSw");
  auto main = []() -> Coro<void> {
    int kernel_sessions = 0;
    Server server = co_await tls_echo_server(server_context(), EchoBytes{&kernel_sessions});
    const TlsContext cctx = client_context();
    for (int round = 0; round < 2; ++round) {
      auto [r, w] =
          co_await open_connection("localhost", server.addresses()[0].port(), tls_options(cctx));
      const std::optional<TlsInfo> info = w.tls_info();
      EXPECT_TRUE(info && info->kernel_tls);
      EXPECT_EQ(info->resumed, round == 1) << "round " << round;
      const std::string data = pattern(4 << 20, 7 + round);
      auto send = [](StreamWriter& wr, const std::string& d) -> Coro<void> {
        // Writes of every size, so records of every size go through the kernel.
        std::size_t at = 0;
        for (std::size_t n = 1; at < d.size(); n = n * 3 + 1) {
          const std::size_t take = std::min(d.size() - at, n % 70000 + 1);
          wr.write(d.substr(at, take));
          at += take;
          co_await wr.drain();
        }
      };
      auto [sent, back] = co_await gather(send(w, data), r.readexactly(data.size()));
      (void)sent;
      EXPECT_TRUE(back == data) << "round " << round;
      w.close();  // close_notify, from the kernel's socket
      co_await w.wait_closed();
    }
    // The server closes after the client's close_notify read as a clean end.
    server.close();
    co_await server.wait_closed();
    EXPECT_EQ(kernel_sessions, 2);
  };
  run(main());
  // The kernel counted each side of both connections (other tests may add to it).
  if (before >= 0) {
    EXPECT_GE(tls_stat("TlsTxSw"), before + 4);
  }
}

// openssl s_client reads what the kernel framed, under TLS 1.2 and TLS 1.3, and ends
// at the server's close_notify (sent as an alert record through the kernel).
TEST_P(KernelTlsTest, OpensslSClientReadsWhatTheKernelSent) {
  CORIO_REQUIRE_KERNEL_TLS();
  auto main = []() -> Coro<void> {
    for (const char* version : {"-tls1_2", "-tls1_3"}) {
      int kernel_sessions = 0;
      auto echo = [&kernel_sessions](StreamReader r, StreamWriter w) -> Coro<void> {
        const std::optional<TlsInfo> info = w.tls_info();
        if (info && info->kernel_tls) ++kernel_sessions;
        co_await echo_lines(std::move(r), std::move(w));
      };
      Server server = co_await tls_echo_server(server_context(), echo);
      const std::string in = cert("ktls_s_client.in");
      const std::string out = cert("ktls_s_client.out");
      std::string lines;
      for (int i = 0; i < 300; ++i)
        lines += "line " + std::to_string(i) + " " + pattern(i * 37 % 2000, i) + "\n";
      std::ofstream(in) << lines << "quit\n";
      Child client({"openssl", "s_client", version, "-connect",
                    "127.0.0.1:" + std::to_string(server.addresses()[0].port()), "-CAfile",
                    cert("ca.pem"), "-verify_return_error", "-quiet", "-servername", "localhost"},
                   in, out);
      EXPECT_EQ(co_await client.wait(), 0) << version;  // it ends when the server closes
      EXPECT_TRUE(slurp(out) == lines) << version;
      EXPECT_EQ(kernel_sessions, 1) << version;
      server.close();
      co_await server.wait_closed();
    }
  };
  run(main());
}

// corio's client sends through the kernel to openssl s_server, TLS 1.2 and 1.3.
TEST_P(KernelTlsTest, OpensslSServerReadsWhatTheKernelSent) {
  CORIO_REQUIRE_KERNEL_TLS();
  auto main = []() -> Coro<void> {
    for (const char* version : {"-tls1_2", "-tls1_3"}) {
      const std::uint16_t port = free_port();
      Child server(
          {"openssl", "s_server", version, "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
           cert("server.pem"), "-key", cert("server.key"), "-rev", "-naccept", "1"},
          "", cert("ktls_s_server.out"));
      std::optional<std::pair<StreamReader, StreamWriter>> streams =
          co_await connect_when_listening("localhost", port, tls_options(client_context()));
      EXPECT_TRUE(streams.has_value()) << version;
      if (!streams) co_return;
      auto& [r, w] = *streams;
      const std::optional<TlsInfo> info = w.tls_info();
      EXPECT_TRUE(info && info->kernel_tls) << version;
      EXPECT_EQ(info->version, std::string(version) == "-tls1_2" ? "TLSv1.2" : "TLSv1.3");
      for (int i = 0; i < 100; ++i) {
        // -rev answers each line reversed.
        std::string line = "to s_server " + std::to_string(i) + " " + pattern(i * 53 % 3000, i);
        std::replace(line.begin(), line.end(), '\n', '.');  // one line each
        w.write(line + "\n");
        std::string back = co_await r.readline();
        EXPECT_EQ(back, std::string(line.rbegin(), line.rend()) + "\n") << version << " " << i;
      }
      w.close();
      co_await w.wait_closed();
      EXPECT_EQ(co_await server.wait(), 0) << version;  // -naccept 1: it exits after us
    }
  };
  run(main());
}

// A blocking OpenSSL client on its own thread: reads "hi\n", then asks for a key
// update (the answer would need new send keys, which OpenSSL 3.0 cannot give the
// kernel) and sends "again\n"; returns what it read after that until the end.
std::string key_update_client(std::uint16_t port, const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string result = "connect failed";
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    char buf[256];
    if (SSL_connect(ssl) == 1 && SSL_read(ssl, buf, 3) == 3) {
      SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED);
      SSL_write(ssl, "again\n", 6);  // carries the KeyUpdate first
      result.clear();
      for (;;) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        result.append(buf, static_cast<std::size_t>(n));
      }
    } else {
      result = "handshake failed";
    }
  }
  ERR_clear_error();
  ::close(fd);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return result;
}

// A peer's KeyUpdate request is the one thing a session whose sends the kernel makes
// cannot answer (the kernel would go on with the old keys): the server's read fails
// with a TlsError saying so, instead of sending records the peer could not read.
TEST_P(KernelTlsTest, AKeyUpdateRequestFailsTheSessionWithAClearError) {
  CORIO_REQUIRE_KERNEL_TLS();
  auto main = []() -> Coro<void> {
    std::string error;
    bool kernel = false;
    auto handler = [&](StreamReader r, StreamWriter w) -> Coro<void> {
      kernel = w.tls_info()->kernel_tls;
      w.write("hi\n");
      co_await w.drain();
      try {
        std::string line = co_await r.readline();
        error = "read " + line;
      } catch (const TlsError& e) {
        error = e.what();
      }
      w.abort();
    };
    Server server = co_await tls_echo_server(server_context(), handler);
    const std::uint16_t port = server.addresses()[0].port();
    const std::string ca = cert("ca.pem");
    std::string after = "not run";
    std::thread client([&] { after = key_update_client(port, ca); });
    while (error.empty())
      co_await sleep(10ms);
    client.join();
    EXPECT_TRUE(kernel);
    EXPECT_NE(error.find("key update"), std::string::npos) << error;
    EXPECT_EQ(after, "") << "nothing the client could not read";
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

// A context can keep its sessions' records in user space; debug mode says so.
TEST_P(KernelTlsTest, TurnedOffInTheContextASessionMakesItsOwnRecords) {
  CORIO_REQUIRE_KERNEL_TLS();
  auto main = []() -> Coro<void> {
    EventLoop::running().set_debug(true);
    co_await sleep(0s);
    TlsContext sctx = server_context();
    sctx.set_kernel_tls(false);
    bool server_kernel = true;
    auto handler = [&server_kernel](StreamReader r, StreamWriter w) -> Coro<void> {
      server_kernel = w.tls_info()->kernel_tls;
      co_await echo_lines(std::move(r), std::move(w));
    };
    Server server = co_await tls_echo_server(sctx, handler);
    auto [r, w] = co_await open_connection("localhost", server.addresses()[0].port(),
                                           tls_options(client_context()));
    EXPECT_TRUE(w.tls_info()->kernel_tls);  // the client's context kept the default
    w.write("x\n");
    EXPECT_EQ(co_await r.readline(), "x\n");
    EXPECT_FALSE(server_kernel);
    co_await close_both(w, server);
  };
  const std::string log = stderr_of(main());
  EXPECT_NE(log.find("records in user space (kernel TLS is off in the context)"), std::string::npos)
      << log;
}

// Over a Unix socket the kernel refuses the tls ULP when the keys come (the session
// asks no sooner): the records stay in user space, nothing is lost, and debug mode says
// why.
TEST_P(KernelTlsTest, OverAUnixSocketTheKernelRefusesAndTheSessionMakesItsOwnRecords) {
  CORIO_REQUIRE_KERNEL_TLS();
  const std::string path = cert("ktls.sock");
  auto main = [](std::string path) -> Coro<void> {
    EventLoop::running().set_debug(true);
    co_await sleep(0s);
    const TlsContext sctx = server_context();
    bool server_kernel = true;
    auto handler = [&server_kernel](StreamReader r, StreamWriter w) -> Coro<void> {
      server_kernel = w.tls_info()->kernel_tls;
      co_await echo_bytes(std::move(r), std::move(w));
    };
    ServerOptions so;
    so.tls = &sctx;
    Server server = co_await start_unix_server(handler, path, so);
    StreamOptions o = tls_options(client_context(), "localhost");
    auto [r, w] = co_await open_unix_connection(path, o);
    EXPECT_FALSE(w.tls_info()->kernel_tls);
    const std::string data = pattern(1 << 20, 5);
    w.write(data);
    EXPECT_TRUE(co_await r.readexactly(data.size()) == data);
    EXPECT_FALSE(server_kernel);
    co_await close_both(w, server);
  };
  const std::string log = stderr_of(main(path));
  EXPECT_NE(log.find("records in user space (the kernel refused the send keys: "),
            std::string::npos)
      << log;
}

CORIO_INSTANTIATE_BACKEND_SUITE(KernelTlsTest);

}  // namespace
}  // namespace corio
