// Slowloris and slow readers against http_hello, on every backend: 2,000 connections
// that send part of a request head and stall, and 200 that pipeline requests and never
// read an answer. Meanwhile a normal client gets every answer right; the server's memory
// stays within what its limits allow per connection; and the idle timeout closes the
// stalled connections, giving every descriptor back. (A bigger run: bench/soak.)
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "examples/server_process.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::ServerProcess;

constexpr int kIdle = 2000;
constexpr int kNonReaders = 200;
constexpr int kPipelined = 2000;  // requests each non-reader sends
// What http_hello may hold per connection, from its own limits: the input buffer (twice
// the 8 KiB head limit), the output buffer it reserves (64 KiB flush threshold + one
// head), and the coroutine frames and socket object, rounded up.
constexpr long kPerConnectionKiB = 16 + 72 + 8;

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

long fd_count(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  long n = 0;
  const std::unique_ptr<FILE, int (*)(FILE*)> ls(::popen(("ls " + dir).c_str(), "r"), ::pclose);
  for (int c; (c = std::fgetc(ls.get())) != EOF;)
    n += c == '\n';
  return n;
}

class SlowlorisTest : public testing::BackendTest {};

// Reads until the server closes (EOF or reset); false if that does not happen in time.
Coro<bool> closed_by_server(Socket& s) {
  char buf[4096];
  try {
    for (;;) {
      const std::size_t n = co_await s.recv(buf, sizeof buf);
      if (n == 0) co_return true;
    }
  } catch (const std::system_error&) {
    co_return true;  // ECONNRESET: closed with our unread requests pending
  }
}

Coro<std::string> one_request(Socket& s) {
  co_await s.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  char buf[1024];
  while (got.find("Hello, world!") == std::string::npos) {
    const std::size_t n = co_await s.recv(buf, sizeof buf);
    if (n == 0) break;
    got.append(buf, n);
  }
  co_return got;
}

TEST_P(SlowlorisTest, StalledAndNonReadingClientsStayBoundedAndAreClosedWhenIdle) {
  ServerProcess server(CORIO_HTTP_HELLO_PATH, {"--port", "0", "--backend", GetParam(),
                                               "--idle-timeout", "3", "--grace", "0.3"});
  const std::uint16_t port = server.port();
  ASSERT_NE(port, 0) << server.output();
  const pid_t pid = server.pid();
  const long rss_before = rss_kib(pid);
  const long fds_before = fd_count(pid);

  long rss_loaded = 0;
  long fds_loaded = 0;
  int answered = 0;
  int idle_closed = 0;
  auto main = [&]() -> Coro<void> {
    const Address where = Address::loopback(AddressFamily::ipv4, port);
    std::vector<Socket> idle;
    for (int i = 0; i < kIdle; ++i) {
      idle.push_back(co_await connect(where));
      co_await idle.back().send_all("GET / HTTP/1.1\r\nHost: slow\r\nX-Stall: ");
    }
    std::string pipeline;
    for (int i = 0; i < kPipelined; ++i)
      pipeline += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    std::vector<Socket> deaf;
    for (int i = 0; i < kNonReaders; ++i) {
      Socket s = Socket::tcp();
      s.set_option(SocketOption::recv_buffer, 4096);  // a small window: answers back up
      co_await s.connect(where);
      // Sent in the background: once the answers back up, the server stops reading.
      deaf.push_back(std::move(s));
    }
    std::vector<Task<void>> senders;
    for (Socket& s : deaf) {
      senders.push_back(create_task([](Socket& s, const std::string& p) -> Coro<void> {
        try {
          co_await s.send_all(p);
        } catch (const std::system_error&) {
          // the idle timeout closed the connection with our requests unsent
        }
      }(s, pipeline)));
    }
    // A normal client is answered all along.
    Socket normal = co_await connect(where);
    for (int i = 0; i < 20; ++i) {
      const std::string r = co_await wait_for(one_request(normal), 30s);
      if (r.rfind("HTTP/1.1 200", 0) == 0 && r.find("Hello, world!") != std::string::npos)
        ++answered;
    }
    rss_loaded = rss_kib(pid);
    fds_loaded = fd_count(pid);
    // The stalled ones are closed by the server's idle timeout: 3 s, well past the
    // ~0.5 s the set-up above takes, so none is closed before the counts are read.
    for (Socket& s : idle) {
      const bool closed = co_await wait_for(closed_by_server(s), 60s);
      idle_closed += closed;
    }
    for (Socket& s : deaf)
      co_await wait_for(closed_by_server(s), 60s);
    for (Task<void>& t : senders)
      co_await wait_for(t, 60s);
  };
  ::testing::internal::CaptureStderr();
  run(main());
  (void)::testing::internal::GetCapturedStderr();

  EXPECT_EQ(answered, 20);
  EXPECT_EQ(idle_closed, kIdle);
  EXPECT_GE(fds_loaded, fds_before + kIdle + kNonReaders) << "the connections were not all open";
  const long grown = rss_loaded - rss_before;
  EXPECT_LE(grown, (kIdle + kNonReaders) * kPerConnectionKiB)
      << "RSS " << rss_before << " -> " << rss_loaded << " KiB";
  std::printf(
      "[ %s ] server RSS %ld -> %ld KiB with %d connections (%.1f KiB each), fds %ld -> %ld\n",
      GetParam().c_str(), rss_before, rss_loaded, kIdle + kNonReaders + 1,
      static_cast<double>(grown) / (kIdle + kNonReaders + 1), fds_before, fds_loaded);
  // Every connection closed: the server holds no more descriptors than at the start.
  long fds_after = fd_count(pid);
  for (int i = 0; i < 100 && fds_after > fds_before; ++i) {
    ::usleep(50'000);
    fds_after = fd_count(pid);
  }
  EXPECT_EQ(fds_after, fds_before);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(), 0) << server.output();
}

CORIO_INSTANTIATE_BACKEND_SUITE(SlowlorisTest);

}  // namespace
}  // namespace corio
