// TLS under pressure on every backend: a client that never reads (the server's memory
// stays within its watermarks); cancellation during the handshake, a drain and a
// transport write, with every byte checked for loss or duplication; the close that
// waits for the peer's close_notify within the shutdown timeout.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <system_error>

#include "corio/corio.hpp"
#include "coro/test_coros.hpp"
#include "tls/tls_fixture.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using namespace testing;

class TlsFaultsTest : public testing::TlsSuite {};

// What the server handlers saw, for the test body (handlers have no captures).
struct Seen {
  std::size_t accepted = 0;      // bytes write() took before drain() stopped returning
  std::size_t max_buffered = 0;  // the largest write_buffer_size() seen
  bool blocked = false;          // drain() waited past its timeout
  std::string received;          // what a reading handler read
  Event done;
};
Seen* seen = nullptr;

constexpr std::size_t kHigh = 64 * 1024;
constexpr std::size_t kChunk = 16 * 1024;

Coro<void> flood(StreamReader /*r*/, StreamWriter w) {
  w.set_write_buffer_limits(kHigh);
  const std::string chunk(kChunk, 'x');
  // Far more than the socket buffers hold: if write() kept taking it all, memory would
  // grow without bound.
  for (std::size_t total = 0; total < (256u << 20); total += kChunk) {
    w.write(chunk);
    seen->accepted += kChunk;
    seen->max_buffered = std::max(seen->max_buffered, w.write_buffer_size());
    try {
      co_await wait_for(w.drain(), 500ms);
    } catch (const TimeoutError&) {
      seen->blocked = true;
      break;
    }
  }
  seen->done.set();
  w.abort();
}

TEST_P(TlsFaultsTest, AClientThatNeverReadsHoldsTheServerToItsWatermarks) {
  auto main = []() -> Coro<void> {
    Seen s;
    seen = &s;
    Server server = co_await tls_echo_server(server_context(), flood);
    auto [r, w] = co_await open_connection("localhost", server.addresses()[0].port(),
                                           tls_options(client_context()));
    co_await s.done.wait();  // and never read
    EXPECT_TRUE(s.blocked);
    // Queued plaintext and records together stay under the mark plus one write and one
    // batch of records (64 KiB of plaintext encrypted at a time, and their overhead).
    EXPECT_LE(s.max_buffered, kHigh + kChunk + 80 * 1024) << s.max_buffered;
    // What was taken in all is the watermark plus what the two kernels buffer.
    EXPECT_LT(s.accepted, 64u << 20) << s.accepted;
    w.abort();
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

Coro<void> silent(StreamReader r, StreamWriter w) {
  (void)co_await r.read();  // until the client goes
  w.close();
}

TEST_P(TlsFaultsTest, ACancelledHandshakeLeavesNothingBehind) {
  auto main = []() -> Coro<void> {
    // A plaintext server that never answers the ClientHello.
    Server quiet = co_await start_server(silent, "127.0.0.1", 0);
    const std::uint16_t port = quiet.addresses()[0].port();
    for (int i = 0; i < 20; ++i) {
      EXPECT_THROW(
          co_await wait_for(
              open_connection("localhost", port, tls_options(client_context(), "localhost")), 20ms),
          TimeoutError);
    }
    Task<std::pair<StreamReader, StreamWriter>> t =
        create_task(open_connection("localhost", port, tls_options(client_context())));
    co_await sleep(20ms);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
    quiet.close();
    co_await quiet.wait_closed();  // every connection was closed by the client's side
  };
  run(main());
}

Coro<void> read_all(StreamReader r, StreamWriter w) {
  co_await sleep(100ms);  // let the client's buffers fill first
  seen->received = co_await r.read();
  w.close();
  co_await w.wait_closed();
  seen->done.set();
}

TEST_P(TlsFaultsTest, ACancelledDrainLosesAndRepeatsNothing) {
  auto main = []() -> Coro<void> {
    Seen s;
    seen = &s;
    Server server = co_await tls_echo_server(server_context(), read_all);
    auto [r, w] = co_await open_connection("localhost", server.addresses()[0].port(),
                                           tls_options(client_context()));
    const std::string data = pattern(16 << 20, 3);
    w.write(data);
    int timeouts = 0;
    for (;;) {
      try {
        co_await wait_for(w.drain(), 5ms);
        break;
      } catch (const TimeoutError&) {
        ++timeouts;  // the queued bytes stay queued
      }
    }
    EXPECT_GT(timeouts, 0);
    w.close();
    co_await w.wait_closed();
    co_await s.done.wait();
    EXPECT_EQ(s.received.size(), data.size());
    EXPECT_TRUE(s.received == data);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

TEST_P(TlsFaultsTest, ACancelledTransportWriteHasTakenNothingSoARetryDuplicatesNothing) {
  auto main = []() -> Coro<void> {
    Seen s;
    seen = &s;
    Server server = co_await tls_echo_server(server_context(), read_all);
    TlsContext ctx = client_context();
    Socket sock = co_await connect(server.addresses()[0]);
    std::unique_ptr<Transport> plain = socket_transport(std::move(sock));
    std::unique_ptr<Transport> t =
        co_await start_tls(std::move(plain), ctx, {.server_hostname = "localhost"});
    const std::string data = pattern(16 << 20, 9);
    std::size_t sent = 0;
    int cancelled = 0;
    while (sent < data.size()) {
      // Each write_some() as a task cancelled one loop turn later: once the socket is
      // full (the server does not read for 100 ms) that is in the middle of its wait.
      Task<std::size_t> w = create_task(t->write_some(std::span(data).subspan(sent)));
      co_await sleep(0ms);
      w.cancel();
      try {
        sent += co_await w;
      } catch (const CancelledError&) {
        ++cancelled;
      }
    }
    co_await t->flush();
    EXPECT_GT(cancelled, 0);
    // Not close(): the server's session tickets sit unread in our socket, and closing
    // over unread bytes resets the connection, destroying what it had not read yet.
    co_await t->close_gracefully();
    co_await s.done.wait();
    EXPECT_EQ(s.received.size(), data.size());
    EXPECT_TRUE(s.received == data);
    server.close();
    co_await server.wait_closed();
  };
  run(main());
}

// Reads a line, then holds the connection open without a word for a second.
Coro<void> mute(StreamReader r, StreamWriter w) {
  (void)co_await r.readline();
  co_await sleep(1s);
  w.abort();
}

TEST_P(TlsFaultsTest, AStreamCloseWaitsForThePeersCloseNotifyWithinTheShutdownTimeout) {
  auto main = []() -> Coro<void> {
    // A peer that answers close_notify with its own: wait_closed() returns at once.
    Server polite = co_await tls_echo_server(server_context());
    auto [r, w] = co_await open_connection("localhost", polite.addresses()[0].port(),
                                           tls_options(client_context()));
    w.write("hi\n");
    EXPECT_EQ(co_await r.readline(), "hi\n");
    TimePoint start = EventLoop::running().now();
    w.close();
    co_await w.wait_closed();
    EXPECT_LT(EventLoop::running().now() - start, 900ms);
    // A peer that stays silent: the shutdown timeout ends the wait.
    Server rude = co_await tls_echo_server(server_context(), mute);
    StreamOptions o = tls_options(client_context());
    o.tls_shutdown_timeout = 200ms;
    auto [r2, w2] = co_await open_connection("localhost", rude.addresses()[0].port(), o);
    w2.write("hi\n");
    co_await w2.drain();
    start = EventLoop::running().now();
    w2.close();
    co_await w2.wait_closed();
    const Duration waited = EventLoop::running().now() - start;
    EXPECT_GE(waited, 190ms);
    EXPECT_LT(waited, 900ms);
    // abort() skips the goodbye.
    auto [r3, w3] = co_await open_connection("localhost", rude.addresses()[0].port(), o);
    start = EventLoop::running().now();
    w3.abort();
    co_await w3.wait_closed();
    EXPECT_LT(EventLoop::running().now() - start, 100ms);
    polite.close();
    rude.close();
    co_await polite.wait_closed();
    co_await rude.wait_closed();
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(TlsFaultsTest);

}  // namespace
}  // namespace corio
