// chat as a process on every backend: nicknames, broadcast, a client vanishing
// mid-broadcast, and a clean exit on SIGINT.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "corio/corio.hpp"
#include "server_process.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;

class ChatTest : public ::testing::TestWithParam<std::string> {};

struct Client {
  StreamReader r;
  StreamWriter w;
};

Coro<Client> join(std::uint16_t port, std::string nick) {
  auto [r, w] = co_await open_connection(Address::loopback(AddressFamily::ipv4, port));
  std::string welcome = co_await r.readline();
  EXPECT_EQ(welcome, "Welcome! Your nickname?\n");
  w.write(nick + "\n");
  std::string here = co_await r.readline();
  EXPECT_TRUE(here.starts_with("* ")) << here;
  co_return Client{std::move(r), std::move(w)};
}

// Reads lines until one equals `want` (other lines may come first).
Coro<bool> expect_line(StreamReader& r, std::string want) {
  for (int i = 0; i < 100; ++i) {
    std::string line = co_await wait_for(r.readline(), 30s);
    if (line == want) co_return true;
    if (line.empty()) break;
  }
  co_return false;
}

TEST_P(ChatTest, BroadcastsToOthersSurvivesAVanishingClientAndStopsCleanly) {
  testing::ServerProcess chat(CORIO_CHAT_PATH, {"--backend", GetParam(), "--port", "0"});
  const std::uint16_t port = chat.port();
  ASSERT_NE(port, 0) << chat.output();
  auto main = [](std::uint16_t port) -> Coro<void> {
    Client alice = co_await join(port, "alice");
    Client bob = co_await join(port, "bob");
    EXPECT_TRUE(co_await expect_line(alice.r, "* bob joined\n"));
    Client carol = co_await join(port, "carol");
    EXPECT_TRUE(co_await expect_line(alice.r, "* carol joined\n"));
    EXPECT_TRUE(co_await expect_line(bob.r, "* carol joined\n"));

    alice.w.write("hello room\n");
    EXPECT_TRUE(co_await expect_line(bob.r, "<alice> hello room\n"));
    EXPECT_TRUE(co_await expect_line(carol.r, "<alice> hello room\n"));

    // carol resets her connection while alice keeps talking.
    struct linger lg {
      1, 0
    };
    ::setsockopt(static_cast<int>(carol.w.socket().handle()), SOL_SOCKET, SO_LINGER, &lg,
                 sizeof lg);
    carol.w.abort();
    for (int i = 0; i < 20; ++i)
      alice.w.write("line " + std::to_string(i) + "\n");
    EXPECT_TRUE(co_await expect_line(bob.r, "<alice> line 19\n"));
    bob.w.write("/nick robert\n");
    bob.w.write("still here\n");
    EXPECT_TRUE(co_await expect_line(alice.r, "<robert> still here\n"));
  };
  corio::run(main(port), RunOptions{.backend = GetParam()});
  chat.signal(SIGINT);
  EXPECT_EQ(chat.wait(), 0) << chat.output();
  EXPECT_NE(chat.output().find("backend: " + GetParam()), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChatTest, ::testing::ValuesIn(corio::available_backends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace corio
