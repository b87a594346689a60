// Runs the http_hello binary (examples/http_hello) on every backend and talks HTTP to it
// over raw sockets, the way curl would: keep-alive, pipelining, HTTP/1.0, malformed and
// oversized requests, and the graceful stop on SIGTERM.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "examples/server_process.hpp"

#ifndef CORIO_HTTP_HELLO_PATH
#error "CORIO_HTTP_HELLO_PATH must name the http_hello binary (see tests/CMakeLists.txt)"
#endif
#ifndef CORIO_ECHO_CLIENT_PATH
#error "CORIO_ECHO_CLIENT_PATH must name the echo_client binary (see tests/CMakeLists.txt)"
#endif

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::ServerProcess;

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses one response at the front of `buf` into `out`; returns its length, or 0 if
// it is not complete yet. `head` is true for the answer to a HEAD request (no body).
std::size_t parse_response(std::string_view buf, bool head, Response& out) {
  const std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  out = Response{};
  std::string_view lines = buf.substr(0, end + 2);
  const std::size_t first = lines.find("\r\n");
  const std::string_view status_line = lines.substr(0, first);
  EXPECT_TRUE(status_line.starts_with("HTTP/1.1 ")) << status_line;
  out.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  for (std::size_t at = first + 2; at < lines.size();) {
    const std::size_t eol = lines.find("\r\n", at);
    const std::string_view line = lines.substr(at, eol - at);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (value.starts_with(' '))
        value.remove_prefix(1);
      out.headers[lower(std::string(line.substr(0, colon)))] = std::string(value);
    }
    at = eol + 2;
  }
  std::size_t length = 0;
  if (!head && out.headers.contains("content-length"))
    length = std::stoul(out.headers["content-length"]);
  if (buf.size() < end + 4 + length) return 0;
  out.body = std::string(buf.substr(end + 4, length));
  return end + 4 + length;
}

/// One client connection with what it has read but not parsed yet.
class Client {
 public:
  explicit Client(Socket s) : s_(std::move(s)) {}

  Coro<void> send(std::string request) { co_await s_.send_all(request); }

  /// Reads one response per entry of `head` (true: answers a HEAD). Stops early, with
  /// fewer responses, if the server closes.
  Coro<std::vector<Response>> read(std::vector<bool> head) {
    std::vector<Response> out;
    char buf[16384];
    while (out.size() < head.size()) {
      Response r;
      if (const std::size_t n = parse_response(pending_, head[out.size()], r); n > 0) {
        pending_.erase(0, n);
        out.push_back(std::move(r));
        continue;
      }
      const std::size_t got = co_await s_.recv(buf, sizeof buf);
      if (got == 0) break;
      pending_.append(buf, got);
    }
    co_return out;
  }
  Coro<Response> read_one(bool head = false) {
    std::vector<bool> one{head};
    std::vector<Response> r = co_await read(std::move(one));
    co_return r.empty() ? Response{} : std::move(r.front());
  }
  /// True if the server closed the connection (cleanly) with nothing more to say.
  Coro<bool> closed() {
    char c = 0;
    const std::size_t n = co_await s_.recv(&c, 1);
    co_return n == 0 && pending_.empty();
  }

 private:
  Socket s_;
  std::string pending_;
};

const std::string kGet = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";

void expect_hello(const Response& r, std::string_view connection) {
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, world!");
  auto header = [&](const std::string& name) {
    return r.headers.contains(name) ? r.headers.at(name) : std::string("(none)");
  };
  EXPECT_EQ(header("content-length"), "13");
  EXPECT_EQ(header("connection"), connection);
}

Coro<void> guarded(Coro<void> body) {
  co_await wait_for(std::move(body), 90s);
}

class HttpHelloTest : public testing::BackendTest {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        CORIO_HTTP_HELLO_PATH,
        std::vector<std::string>{"--port", "0", "--backend", GetParam(), "--grace", "0.3"});
    port_ = server_->port();
    ASSERT_NE(port_, 0) << server_->output();
  }
  // Every test ends the server with SIGTERM: exit code 0, backend named first.
  void TearDown() override {
    if (port_ == 0) return;
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait(), 0) << server_->output();
    std::vector<std::string> lines = testing::lines_of(server_->output());
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.front(), "backend: " + GetParam());
    EXPECT_NE(server_->output().find("SIGTERM: stopping"), std::string::npos) << server_->output();
  }

  Coro<Client> connect_client() {
    co_return Client(co_await connect(Address::loopback(AddressFamily::ipv4, port_)));
  }
  /// Sends `request` on a new connection; expects `status` and then the close.
  Coro<void> expect_error_and_close(std::string request, int status) {
    Client c = co_await connect_client();
    co_await c.send(request);
    Response r = co_await c.read_one();
    EXPECT_EQ(r.status, status) << request.substr(0, 60);
    EXPECT_EQ(r.headers["connection"], "close") << request.substr(0, 60);
    const bool closed = co_await c.closed();
    EXPECT_TRUE(closed) << request.substr(0, 60);
  }

  std::unique_ptr<ServerProcess> server_;
  std::uint16_t port_ = 0;
};

TEST_P(HttpHelloTest, KeepAliveServesRequestsOneAfterAnotherOnOneConnection) {
  auto main = [&]() -> Coro<void> {
    Client c = co_await connect_client();
    for (int i = 0; i < 3; ++i) {
      co_await c.send(kGet);
      Response r = co_await c.read_one();
      expect_hello(r, "keep-alive");
    }
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, PipelinedRequestsAreAnsweredInOrder) {
  auto main = [&]() -> Coro<void> {
    Client c = co_await connect_client();
    co_await c.send(kGet + "HEAD / HTTP/1.1\r\nHost: test\r\n\r\n" +
                    "POST /form HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nab\r\ncGET /x "
                    "HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    std::vector<bool> head{false, true, false, false};
    std::vector<Response> r = co_await c.read(std::move(head));
    EXPECT_EQ(r.size(), 4U);
    if (r.size() == 4) {
      expect_hello(r[0], "keep-alive");
      EXPECT_EQ(r[1].status, 200);
      EXPECT_EQ(r[1].body, "") << "HEAD has no body";
      EXPECT_EQ(r[1].headers["content-length"], "13");
      expect_hello(r[2], "keep-alive");  // the body "ab\r\nc" was skipped, not parsed
      expect_hello(r[3], "close");
    }
    const bool closed = co_await c.closed();
    EXPECT_TRUE(closed);
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, AThousandRequestsInOneWriteGetAThousandAnswers) {
  auto main = [&]() -> Coro<void> {
    Client c = co_await connect_client();
    std::string burst;
    for (int i = 0; i < 1000; ++i)
      burst += kGet;
    co_await c.send(burst);
    std::vector<bool> head(1000, false);
    std::vector<Response> r = co_await c.read(std::move(head));
    EXPECT_EQ(r.size(), 1000U);
    for (const Response& each : r)
      expect_hello(each, "keep-alive");
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, ARequestArrivingByteByByteIsAnswered) {
  auto main = [&]() -> Coro<void> {
    Client c = co_await connect_client();
    for (char ch : kGet)
      co_await c.send(std::string(1, ch));
    Response r = co_await c.read_one();
    expect_hello(r, "keep-alive");
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, Http10ClosesUnlessTheClientAsksForKeepAlive) {
  auto main = [&]() -> Coro<void> {
    Client plain = co_await connect_client();
    co_await plain.send("GET / HTTP/1.0\r\n\r\n");
    Response r = co_await plain.read_one();
    expect_hello(r, "close");
    const bool closed = co_await plain.closed();
    EXPECT_TRUE(closed);

    Client kept = co_await connect_client();
    for (int i = 0; i < 2; ++i) {
      co_await kept.send("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
      Response k = co_await kept.read_one();
      expect_hello(k, "keep-alive");
    }
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, ConnectionCloseInHttp11ClosesAfterTheAnswer) {
  auto main = [&]() -> Coro<void> {
    Client c = co_await connect_client();
    co_await c.send("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    Response r = co_await c.read_one();
    expect_hello(r, "close");
    const bool closed = co_await c.closed();
    EXPECT_TRUE(closed);
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, MalformedRequestsGet400AndTheConnectionCloses) {
  static constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nHost: te\0st\r\n\r\n";
  auto main = [&]() -> Coro<void> {
    const std::vector<std::string> malformed = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : test\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: test\r\nContent-Length: twelve\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",  // HTTP/1.1 without Host
        "GET  / HTTP/1.1\r\nHost: test\r\n\r\n",
        std::string(kNulInValue, sizeof kNulInValue - 1),
        "\x16\x03\x01\x02\x01\xfc\x03\x03\r\n",  // a TLS hello, say
        // A malformed line is refused as soon as it is complete, head or not.
        "GET / HTTP/1.1\r\n folded\r\n",
    };
    for (const std::string& request : malformed)
      co_await expect_error_and_close(request, 400);
    // Still serving everyone else.
    Client c = co_await connect_client();
    co_await c.send(kGet);
    Response r = co_await c.read_one();
    expect_hello(r, "keep-alive");
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, AHeadOver8KiBGets431AndTheConnectionCloses) {
  auto main = [&]() -> Coro<void> {
    co_await expect_error_and_close(
        "GET / HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n", 431);
    // Refused before its end arrives, too: the server stops reading at the limit.
    co_await expect_error_and_close("GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a'), 431);
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, OtherVersionsAndChunkedBodiesAreRefused) {
  auto main = [&]() -> Coro<void> {
    co_await expect_error_and_close("GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505);
    co_await expect_error_and_close(
        "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501);
  };
  run(guarded(main()));
}

TEST_P(HttpHelloTest, EchoClientFailsWithExitCodeOneWhenTheEchoIsWrong) {
  // http_hello is no echo server: echo_client must notice and say so. (9000 bytes: more
  // than a request head may be, so the server answers 431 or 400 instead of waiting.)
  testing::CommandOutcome client = testing::run_command(
      std::string(CORIO_ECHO_CLIENT_PATH) + " --port " + std::to_string(port_) + " --backend " +
      GetParam() + " --conns 2 --messages 3 --size 9000 2>&1");
  EXPECT_EQ(client.exit_code, 1) << client.output;
  EXPECT_NE(client.output.find("connections failed"), std::string::npos) << client.output;
}

CORIO_INSTANTIATE_BACKEND_SUITE(HttpHelloTest);

TEST(HttpHelloCommandLineTest, HelpPrintsUsageToStdoutAndExitsWithZero) {
  testing::CommandOutcome run =
      testing::run_command(std::string(CORIO_HTTP_HELLO_PATH) + " --help 2>/dev/null");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.output.find("usage: http_hello"), std::string::npos) << run.output;
}

TEST(HttpHelloCommandLineTest, AnUnknownFlagPrintsUsageToStderrAndExitsWithTwo) {
  testing::CommandOutcome run =
      testing::run_command(std::string(CORIO_HTTP_HELLO_PATH) + " --grace=-1 2>&1 1>/dev/null");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("usage: http_hello"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace corio
