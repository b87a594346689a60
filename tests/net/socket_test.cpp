// Socket, Address, resolve and connect over real loopback sockets on every backend.
#include <gtest/gtest.h>

#if CORIO_TEST_POSIX
#include <pthread.h>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "coro/test_coros.hpp"
#include "support/platform.hpp"
#include "support/raw_socket.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;

class SocketTest : public BackendTest {};

// Reads until `n` bytes or EOF.
Coro<std::string> read_n(const Socket& s, std::size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    std::size_t k = co_await s.recv(buf, std::min(sizeof buf, n - out.size()));
    if (k == 0) break;
    out.append(buf, k);
  }
  co_return out;
}

// Accepts one connection and echoes until EOF.
Coro<void> echo_once(const Socket& listener) {
  Socket conn = co_await listener.accept();
  char buf[4096];
  for (;;) {
    std::size_t n = co_await conn.recv(buf, sizeof buf);
    if (n == 0) break;
    co_await conn.send_all(std::string_view(buf, n));
  }
}

Coro<void> round_trip(Address where) {
  Socket listener = listen_on(where);
  Address bound = listener.local_address();
  Task<void> server = create_task(echo_once(listener));
  Socket client = co_await connect(bound);
  co_await client.send_all("ping over " + bound.to_string());
  std::string expect = "ping over " + bound.to_string();
  EXPECT_EQ(co_await read_n(client, expect.size()), expect);
  client.shutdown();  // half-close: the echo loop sees EOF and ends
  co_await server;
  EXPECT_EQ(co_await read_n(client, 1), "");  // then our side sees EOF too
}

TEST_P(SocketTest, TcpOverIpv4Loopback) {
  run(round_trip(Address::loopback(AddressFamily::ipv4, 0)));
}

TEST_P(SocketTest, TcpOverIpv6Loopback) {
  try {
    Socket probe = listen_on(Address::loopback(AddressFamily::ipv6, 0));
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback on this machine: " << e.what();
  }
  run(round_trip(Address::loopback(AddressFamily::ipv6, 0)));
}

TEST_P(SocketTest, UnixStreamSockets) {
  CORIO_SKIP_WITHOUT_UNIX_SOCKETS();
  run(round_trip(Address::local(testing::unix_socket_name("corio-test-" + GetParam()))));
}

TEST_P(SocketTest, UdpDatagramsKeepTheirBoundariesAndSender) {
  auto main = []() -> Coro<void> {
    Socket a = Socket::udp();
    Socket b = Socket::udp();
    a.bind(Address::loopback(AddressFamily::ipv4, 0));
    b.bind(Address::loopback(AddressFamily::ipv4, 0));
    co_await a.sendto("one", 3, b.local_address());
    co_await a.sendto("three", 5, b.local_address());
    char buf[64];
    Address from;
    EXPECT_EQ(co_await b.recvfrom(buf, sizeof buf, from), 3u);
    EXPECT_EQ(from, a.local_address());
    EXPECT_EQ(co_await b.recvfrom(buf, sizeof buf, from), 5u);
    EXPECT_EQ(std::string(buf, 5), "three");
  };
  run(main());
}

TEST_P(SocketTest, UnixDatagramPair) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair(SocketType::datagram);
    co_await a.send("hello");
    char buf[16];
    EXPECT_EQ(co_await b.recv(buf, sizeof buf), 5u);
  };
  run(main());
}

TEST_P(SocketTest, ConnectToAClosedPortIsConnectionRefused) {
  auto main = []() -> Coro<void> {
    Address unused;
    {
      Socket probe = listen_on(Address::loopback(AddressFamily::ipv4, 0));
      unused = probe.local_address();
    }  // closed: nothing listens there now
    int code = 0;
    try {
      co_await connect(unused);
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
    EXPECT_EQ(code, ECONNREFUSED);
  };
  run(main());
}

TEST_P(SocketTest, ConnectByHostNameResolvesOffTheLoop) {
  auto main = []() -> Coro<void> {
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    Task<void> server = create_task(echo_once(listener));
    Socket client = co_await connect("localhost", listener.local_address().port(), 5s);
    co_await client.send_all("x");
    EXPECT_EQ(co_await read_n(client, 1), "x");
    client.shutdown();
    co_await server;
  };
  run(main());
}

TEST_P(SocketTest, AnUnknownHostIsAResolverError) {
  auto main = []() -> Coro<void> {
    bool failed = false;
    try {
      co_await resolve("no-such-host.invalid", 80);
    } catch (const std::system_error& e) {
      failed = e.code().category() == net::resolver_category() ||
               e.code().category() == std::system_category();
    }
    EXPECT_TRUE(failed);
  };
  run(main());
}

TEST_P(SocketTest, AReceiveWithAnErrorCodeReportsAResetInsteadOfThrowing) {
  CORIO_SKIP_WHERE_A_RESET_READS_AS_EOF();
  auto main = []() -> Coro<void> {
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    Socket client = co_await connect(listener.local_address());
    Socket server = co_await listener.accept();
    co_await server.send_all(std::string("hi"));
    char buf[16];
    std::error_code ec = make_error_code(std::errc::io_error);  // a success clears it
    std::size_t n = co_await client.recv(buf, sizeof buf, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::string(buf, n), "hi");
    testing::set_abortive_close(server.handle());
    server.close();
    n = co_await client.recv(buf, sizeof buf, ec);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(ec, std::errc::connection_reset) << ec.message();
  };
  run(main());
}

// A transport whose reads fail with an exception, as a filter of a user's may.
class ThrowingTransport final : public Transport {
 public:
  [[nodiscard]] std::optional<Handles> handles() const noexcept override { return std::nullopt; }
  Coro<std::size_t> read_some(std::span<char> /*buf*/) override {
    throw std::system_error(make_error_code(std::errc::broken_pipe), "read");
    co_return 0;
  }
  using Transport::read_some;
  Coro<std::size_t> write_some(std::span<const char> data) override { co_return data.size(); }
  std::intptr_t try_write(std::span<const char> data) noexcept override {
    return static_cast<std::intptr_t>(data.size());
  }
  void cancel_read() noexcept override {}
  [[nodiscard]] bool can_write_eof() const noexcept override { return false; }
  void write_eof() override {}
  void close() noexcept override {}
  [[nodiscard]] bool is_open() const noexcept override { return true; }
};

TEST_P(SocketTest, TheDefaultErrorCodeReadOfATransportCatchesWhatItsReadThrows) {
  auto main = []() -> Coro<void> {
    ThrowingTransport t;
    char buf[4];
    std::error_code ec;
    EXPECT_EQ(co_await t.read_some(buf, ec), 0u);
    EXPECT_EQ(ec, std::errc::broken_pipe);
  };
  run(main());
}

TEST_P(SocketTest, APeerResetIsConnectionReset) {
  CORIO_SKIP_WHERE_A_RESET_READS_AS_EOF();
  auto main = []() -> Coro<void> {
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    Socket client = co_await connect(listener.local_address());
    Socket server = co_await listener.accept();
    testing::set_abortive_close(server.handle());  // close() sends RST instead of FIN
    server.close();
    int code = 0;
    try {
      char buf[16];
      co_await client.recv(buf, sizeof buf);
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
    EXPECT_EQ(code, ECONNRESET);
    // Sending to the dead connection is an error too, never a SIGPIPE.
    bool send_failed = false;
    try {
      for (int i = 0; i < 100; ++i)
        co_await client.send_all(std::string(65536, 'x'));
    } catch (const std::system_error&) {
      send_failed = true;
    }
    EXPECT_TRUE(send_failed);
  };
  run(main());
}

TEST_P(SocketTest, MultiMegabyteSendAllSurvivesShortWrites) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    const std::string big = testing::pattern(8 << 20, 1);
    Task<std::string> reader = create_task(read_n(b, big.size()));
    co_await a.send_all(big);
    EXPECT_TRUE(co_await reader == big);
  };
  run(main());
}

#if CORIO_TEST_POSIX  // POSIX signals (CMake defines it on POSIX systems)
// Signals landing on the loop's thread without SA_RESTART make blocking calls (the
// backend's wait) fail with EINTR; nothing may be lost or fail because of it.
TEST_P(SocketTest, SignalStormsInterruptingTheLoopLoseNoBytes) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: interrupted calls return EINTR
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  std::atomic<bool> stop{false};
  const pthread_t loop_thread = ::pthread_self();
  std::thread storm([&] {
    while (!stop.load()) {
      ::pthread_kill(loop_thread, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    const std::string big = testing::pattern(4 << 20, 1);
    Task<std::string> reader = create_task(read_n(b, big.size()));
    auto slow_writer = [](const Socket& s, const std::string& data) -> Coro<void> {
      for (std::size_t off = 0; off < data.size(); off += 256 << 10) {
        co_await s.send_all(std::string_view(data).substr(off, 256 << 10));
        co_await sleep(1ms);  // the loop blocks in its wait here, where EINTR lands
      }
    };
    co_await slow_writer(a, big);
    EXPECT_TRUE(co_await reader == big);
  };
  run(main());
  stop = true;
  storm.join();
  ::sigaction(SIGUSR1, &old, nullptr);
}
#endif

TEST_P(SocketTest, ACancelledRecvLosesNoBytes) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto reader = [](const Socket& s) -> Coro<std::string> { co_return co_await read_n(s, 5); };
    Task<std::string> first = create_task(reader(b));
    co_await sleep(1ms);
    first.cancel();
    EXPECT_TRUE(co_await testing::ends_cancelled(first));
    co_await a.send_all("hello");  // send() may be short (CORIO_FAULTS=kinds=short)
    EXPECT_EQ(co_await read_n(b, 5), "hello");
  };
  run(main());
}

TEST_P(SocketTest, AddressesFormatAndParse) {
  EXPECT_EQ(Address::ip("127.0.0.1", 80).to_string(), "127.0.0.1:80");
  EXPECT_EQ(Address::ip("::1", 8080).to_string(), "[::1]:8080");
  EXPECT_EQ(Address::ip("[::1]", 1).family(), AddressFamily::ipv6);
  EXPECT_EQ(Address::local("/tmp/x.sock").to_string(), "/tmp/x.sock");
  if (CORIO_TEST_ABSTRACT_UNIX_SOCKETS) {
    EXPECT_EQ(Address::local("@abstract").host(), "@abstract");
  } else {
    EXPECT_THROW(Address::local("@abstract"), std::invalid_argument);
  }
  EXPECT_THROW(Address::ip("localhost", 1), std::invalid_argument);
  EXPECT_THROW(Address::local(std::string(200, 'x')), std::invalid_argument);
}

CORIO_INSTANTIATE_BACKEND_SUITE(SocketTest);

}  // namespace
}  // namespace corio
