// Fault injection (os/faults.hpp) on every backend: transparent faults
// (EINTR, spurious EAGAIN, short reads and writes) lose and duplicate nothing; accept
// failures only delay connections; a reset reaches only the connection it hits. The
// whole network suite also runs again with CORIO_FAULTS set (ctest's faults/ tests).
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "os/faults.hpp"
#include "coro/test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::pattern;

class FaultsTest : public BackendTest {};

// Turns a plan on for one test and puts back whatever was in force (CORIO_FAULTS).
class FaultScope {
 public:
  explicit FaultScope(const faults::Plan& plan) {
    faults::load_env();  // now, so the first loop's own call cannot override `plan`
    saved_ = faults::current();
    faults::enable(plan);
  }
  ~FaultScope() {
    if (saved_.kinds != 0) {
      faults::enable(saved_);
    } else {
      faults::disable();
    }
  }
  FaultScope(const FaultScope&) = delete;
  FaultScope& operator=(const FaultScope&) = delete;

 private:
  faults::Plan saved_;
};

// Echoes "<8 hex digits of size>" + body frames until EOF.
Coro<void> echo_frames(StreamReader r, StreamWriter w) {
  for (;;) {
    std::string header;
    bool eof = false;
    try {
      header = co_await r.readexactly(8);
    } catch (const IncompleteReadError&) {
      eof = true;
    }
    if (eof) break;
    const std::size_t n = std::stoul(header, nullptr, 16);
    std::string body = co_await r.readexactly(n);
    w.write(body);
    co_await w.drain();
  }
  w.close();
}

std::string frame_header(std::size_t n) {
  char h[9];
  std::snprintf(h, sizeof h, "%08zx", n);
  return std::string(h, 8);
}

// Sends `frames` frames of random sizes (up to 64 KiB) and checks each echo byte for
// byte; returns the bytes that made the round trip intact.
Coro<std::size_t> bulk_client(Address where, unsigned seed, int frames) {
  auto [r, w] = co_await open_connection(where);
  std::mt19937 rng(seed);
  std::size_t ok = 0;
  for (int i = 0; i < frames; ++i) {
    const std::size_t n = rng() % 65536 + 1;
    const std::string msg = pattern(n, seed * 131 + static_cast<unsigned>(i));
    w.write(frame_header(n));
    w.write(msg);
    co_await w.drain();
    const std::string back = co_await r.readexactly(n);
    if (back == msg) ok += n;
  }
  w.close();
  co_await w.wait_closed();
  co_return ok;
}

Coro<std::size_t> run_bulk(int clients, int frames, ServerOptions options = {}) {
  Server srv = co_await start_server(echo_frames, "127.0.0.1", 0, options);
  const Address where = srv.addresses().at(0);
  std::vector<Coro<std::size_t>> all;
  for (int i = 0; i < clients; ++i)
    all.push_back(bulk_client(where, static_cast<unsigned>(i) + 1, frames));
  std::vector<std::size_t> ok = co_await wait_for(gather(std::move(all)), 120s);
  co_await srv.shutdown(5s);
  std::size_t total = 0;
  for (std::size_t n : ok)
    total += n;
  co_return total;
}

std::size_t expected_bytes(int clients, int frames) {
  std::size_t total = 0;
  for (int i = 0; i < clients; ++i) {
    std::mt19937 rng(static_cast<unsigned>(i) + 1);
    for (int f = 0; f < frames; ++f)
      total += rng() % 65536 + 1;
  }
  return total;
}

TEST_P(FaultsTest, TransparentFaultsLoseAndDuplicateNoByte) {
  const std::uint64_t before = faults::injected(faults::Kind::short_io);
  FaultScope on({.seed = 42, .rate = 0.3, .kinds = faults::transparent});
  EXPECT_EQ(run(run_bulk(16, 8)), expected_bytes(16, 8));
  EXPECT_GT(faults::injected(faults::Kind::short_io), before) << faults::summary();
}

TEST_P(FaultsTest, AcceptFailuresDelayConnectionsButLoseNone) {
  const std::uint64_t before = faults::injected(faults::Kind::accept_error);
  FaultScope on({.seed = 7, .rate = 0.5, .kinds = faults::bit(faults::Kind::accept_error)});
  ServerOptions options;
  options.accept_retry_delay = 1ms;
  ::testing::internal::CaptureStderr();  // the accept loop logs each back-off
  const std::size_t ok = run(run_bulk(40, 1, options));
  (void)::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ok, expected_bytes(40, 1));
  EXPECT_GT(faults::injected(faults::Kind::accept_error), before);
}

TEST_P(FaultsTest, AResetReachesOnlyTheConnectionItHits) {
  struct State {
    int code = 0;
  };
  auto main = []() -> Coro<void> {
    auto st = std::make_shared<State>();
    // The victim's handler arms a reset on its own socket, then reads.
    StreamHandler handler = [st](StreamReader r, StreamWriter w) -> Coro<void> {
      const std::string first = co_await r.readline();
      if (first != "victim\n") {
        w.write(first);
        co_await echo_frames(std::move(r), std::move(w));
        co_return;
      }
      faults::enable({.seed = 1,
                      .rate = 1.0,
                      .kinds = faults::bit(faults::Kind::econnreset),
                      .only = w.socket().handle()});
      try {
        (void)co_await r.readexactly(100);
      } catch (const std::system_error& e) {
        st->code = e.code().value();
      }
      faults::disable();
      w.close();
    };
    Server srv = co_await start_server(handler, "127.0.0.1", 0);
    const Address where = srv.addresses().at(0);
    auto [vr, vw] = co_await open_connection(where);
    vw.write("victim\n");
    // Others, in the meantime and after: a hello line, then frames.
    auto other = [](Address where, unsigned seed) -> Coro<bool> {
      auto [r, w] = co_await open_connection(where);
      w.write("hello\n");
      const std::string msg = pattern(100000, seed);
      w.write(frame_header(msg.size()));
      w.write(msg);
      co_await w.drain();
      const std::string hello = co_await r.readline();
      const std::string back = co_await r.readexactly(msg.size());
      w.close();
      co_return hello == "hello\n" && back == msg;
    };
    std::vector<Coro<bool>> others;
    for (unsigned i = 0; i < 10; ++i)
      others.push_back(other(where, i));
    std::vector<bool> ok = co_await wait_for(gather(std::move(others)), 60s);
    for (bool b : ok)
      EXPECT_TRUE(b);
    // More data for the victim's handler: a recv is attempted (an edge-triggered backend
    // waits for it before calling recv at all) and the armed reset hits it.
    vw.write("trigger");
    // The victim sees its connection end: EOF, or a reset since "trigger" was never read.
    std::string rest = "not ended";
    try {
      rest = co_await wait_for(vr.read(), 10s);
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNRESET);
      rest = "";
    }
    EXPECT_EQ(rest, "");
    EXPECT_EQ(st->code, ECONNRESET);
    co_await srv.shutdown(5s);
  };
  FaultScope off({});  // a fresh plan: only the victim's own
  run(main());
}

TEST(FaultsPlan, ParsesTheEnvironmentSyntaxAndRefusesBadInput) {
  bool report = false;
  const faults::Plan p =
      faults::parse("seed=9,rate=0.25,kinds=eintr,short+eagain,report=1", &report);
  EXPECT_EQ(p.seed, 9u);
  EXPECT_DOUBLE_EQ(p.rate, 0.25);
  EXPECT_EQ(p.kinds, faults::transparent);
  EXPECT_TRUE(report);
  EXPECT_EQ(faults::parse("kinds=transparent").kinds, faults::transparent);
  EXPECT_THROW((void)faults::parse("rate=2"), std::invalid_argument);
  EXPECT_THROW((void)faults::parse("kinds=enomem"), std::invalid_argument);
  EXPECT_THROW((void)faults::parse("speed=1"), std::invalid_argument);
  EXPECT_THROW((void)faults::parse("seed=x"), std::invalid_argument);
}

CORIO_INSTANTIATE_BACKEND_SUITE(FaultsTest);

}  // namespace
}  // namespace corio
