// StreamReader and StreamWriter over real sockets (socket pairs and loopback TCP) on
// every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
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
using testing::pattern;

class StreamReaderTest : public BackendTest {};
class StreamWriterTest : public BackendTest {};

// Sends `data` in pieces of 1..max_chunk bytes, yielding to the loop after each so the
// reader receives them separately; then half-closes if `eof`.
Coro<void> send_chunked(Socket& s, std::string data, std::size_t max_chunk, unsigned seed,
                        bool eof) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(1, max_chunk);
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t n = std::min(size(rng), data.size() - pos);
    co_await s.send_all(std::string_view(data).substr(pos, n));
    pos += n;
    co_await sleep(0ms);
    co_await sleep(0ms);
  }
  if (eof) s.shutdown();
}

// Reads from a raw socket until EOF (or an error, which ends the data).
Coro<std::string> read_to_eof(const Socket& s) {
  std::string out;
  std::vector<char> buf(65536);
  try {
    for (;;) {
      std::size_t n = co_await s.recv(buf.data(), buf.size());
      if (n == 0) break;
      out.append(buf.data(), n);
    }
  } catch (const std::system_error&) {
  }
  co_return out;
}

// A connected TCP pair over loopback: {client, accepted}.
Coro<std::pair<Socket, Socket>> tcp_pair() {
  Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
  Socket client = co_await connect(listener.local_address());
  Socket server = co_await listener.accept();
  co_return std::make_pair(std::move(client), std::move(server));
}

// close() that sends RST instead of FIN (SO_LINGER with a zero timeout).
void reset(Socket& s) {
  testing::set_abortive_close(s.handle());
  s.close();
}

// Records separated by `sep` (sep appears nowhere else), and a trailing fragment.
std::vector<std::string> records(unsigned seed, const std::string& sep, std::string_view alphabet,
                                 std::size_t count, std::size_t max_len) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  while (out.size() < count) {
    std::string r(std::uniform_int_distribution<std::size_t>(0, max_len)(rng), 'x');
    for (char& c : r)
      c = alphabet[rng() % alphabet.size()];
    // The first match of sep in r+sep must be the one we put there.
    if ((r + sep).find(sep) == r.size()) out.push_back(r + sep);
  }
  return out;
}

// --- StreamReader ---

TEST_P(StreamReaderTest, ReadexactlyReassemblesOneByteChunks) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    const std::string data = pattern(300, 1);
    Task<void> sender = create_task(send_chunked(a, data, 1, 0, true));
    EXPECT_EQ(co_await reader.readexactly(0), "");
    EXPECT_EQ(co_await reader.readexactly(7), data.substr(0, 7));
    EXPECT_EQ(co_await reader.readexactly(93), data.substr(7, 93));
    EXPECT_EQ(co_await reader.readexactly(200), data.substr(100));
    co_await sender;
    EXPECT_EQ(co_await reader.read(), "");
    EXPECT_TRUE(reader.at_eof());
  };
  run(main());
}

TEST_P(StreamReaderTest, ReaduntilSplitsRecordsUnderAnyChunking) {
  auto main = [](std::size_t max_chunk) -> Coro<void> {
    for (unsigned seed = 1; seed <= 3; ++seed) {
      auto [a, b] = Socket::pair();
      auto [reader, writer] = make_streams(std::move(b));
      // Separator characters in the records make partial matches across chunks.
      const std::string sep = "\r\n\r\n";
      std::vector<std::string> recs = records(seed, sep, "a\r\n", 60, 40);
      std::string data;
      for (const std::string& r : recs)
        data += r;
      data += "tail\r\n";
      Task<void> sender = create_task(send_chunked(a, data, max_chunk, seed, true));
      for (const std::string& r : recs)
        EXPECT_EQ(co_await reader.readuntil(sep), r);
      std::optional<IncompleteReadError> error;
      try {
        co_await reader.readuntil(sep);
      } catch (const IncompleteReadError& e) {
        error = e;
      }
      EXPECT_TRUE(error.has_value());
      if (error) {
        EXPECT_EQ(error->partial(), "tail\r\n");
        EXPECT_FALSE(error->expected().has_value());
      }
      EXPECT_TRUE(reader.at_eof());
      co_await sender;
    }
  };
  run(main(1));
  run(main(7));
  run(main(300));
}

TEST_P(StreamReaderTest, ReadlineSplitsLinesUnderAnyChunkingAndEndsWithThePartialLine) {
  auto main = [](std::size_t max_chunk) -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    std::vector<std::string> lines = records(max_chunk, "\n", "abc \r", 80, 120);
    std::string data;
    for (const std::string& l : lines)
      data += l;
    data += "no newline";
    Task<void> sender = create_task(send_chunked(a, data, max_chunk, 7, true));
    for (const std::string& l : lines)
      EXPECT_EQ(co_await reader.readline(), l);
    EXPECT_EQ(co_await reader.readline(), "no newline");  // like asyncio at EOF
    EXPECT_EQ(co_await reader.readline(), "");
    EXPECT_TRUE(reader.at_eof());
    co_await sender;
  };
  run(main(1));
  run(main(13));
}

TEST_P(StreamReaderTest, ReadReturnsWhatIsBufferedAndReadsToEofWithoutACount) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    co_await a.send_all("abc");
    EXPECT_EQ(co_await reader.read(100), "abc");  // does not wait for 100
    co_await a.send_all("defgh");
    EXPECT_EQ(co_await reader.read(2), "de");
    EXPECT_EQ(reader.buffered(), 3u);
    const std::string big = pattern(1 << 20, 3);
    Task<void> sender = create_task(send_chunked(a, big, 70000, 1, true));
    EXPECT_EQ(co_await reader.read(), "fgh" + big);
    EXPECT_EQ(co_await reader.read(10), "");
    EXPECT_TRUE(reader.at_eof());
    co_await sender;
  };
  run(main());
}

TEST_P(StreamReaderTest, ReadexactlyAtEofRaisesIncompleteReadErrorWithThePartialBytes) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    Task<void> sender = create_task(send_chunked(a, "abc", 1, 0, true));
    std::optional<IncompleteReadError> error;
    try {
      co_await reader.readexactly(5);
    } catch (const IncompleteReadError& e) {
      error = e;
    }
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_EQ(error->partial(), "abc");
      EXPECT_EQ(error->expected(), std::optional<std::size_t>(5));
    }
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_TRUE(reader.at_eof());
    co_await sender;
  };
  run(main());
}

TEST_P(StreamReaderTest, ReaduntilPastTheLimitRaisesLimitOverrunAndKeepsTheData) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b), 16);
    EXPECT_EQ(reader.limit(), 16u);
    // Separator found, but beyond the limit.
    const std::string long_line = std::string(30, 'x') + "\n";
    co_await a.send_all(long_line + "ok\n");
    std::size_t consumed = 0;
    try {
      co_await reader.readuntil("\n");
    } catch (const LimitOverrunError& e) {
      consumed = e.consumed();
    }
    EXPECT_EQ(consumed, 30u);
    EXPECT_EQ(reader.buffered(), long_line.size() + 3);  // nothing was taken
    EXPECT_EQ(co_await reader.readexactly(consumed + 1), long_line);
    EXPECT_EQ(co_await reader.readuntil("\n"), "ok\n");

    // No separator at all: raised once more than `limit` bytes were searched.
    Task<void> sender = create_task(send_chunked(a, std::string(40, 'y'), 3, 5, false));
    consumed = 0;
    try {
      co_await reader.readuntil("--");
    } catch (const LimitOverrunError& e) {
      consumed = e.consumed();
    }
    co_await sender;
    EXPECT_GT(consumed, 16u);
    EXPECT_GE(reader.buffered(), consumed);
    co_await reader.readexactly(40);  // skip the junk
    co_await a.send_all("z--");
    EXPECT_EQ(co_await reader.readuntil("--"), "z--");
  };
  run(main());
}

TEST_P(StreamReaderTest, ReadlineDropsALineLongerThanTheLimit) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b), 16);
    co_await a.send_all(std::string(30, 'x') + "\nok\n");
    bool overrun = false;
    try {
      co_await reader.readline();
    } catch (const LimitOverrunError&) {
      overrun = true;
    }
    EXPECT_TRUE(overrun);
    EXPECT_EQ(co_await reader.readline(), "ok\n");
  };
  run(main());
}

TEST_P(StreamReaderTest, ACancelledReadLeavesTheReceivedBytesForTheNextRead) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    co_await a.send_all("abc");
    Task<std::string> first = create_task(reader.readexactly(6));
    for (int i = 0; i < 100 && reader.buffered() < 3; ++i)
      co_await sleep(1ms);
    EXPECT_EQ(reader.buffered(), 3u);  // received, waiting for the rest
    first.cancel();
    EXPECT_TRUE(co_await testing::ends_cancelled(first));
    EXPECT_EQ(reader.buffered(), 3u);

    // A timeout cancels the same way.
    bool timed_out = false;
    try {
      co_await wait_for(reader.readuntil("\n"), 20ms);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    co_await a.send_all("def\n");
    EXPECT_EQ(co_await reader.readexactly(6), "abcdef");
    EXPECT_EQ(co_await reader.readline(), "\n");
  };
  run(main());
}

TEST_P(StreamReaderTest, ACancelledReaduntilLosesNothingUnderOneByteChunks) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    std::string data;
    for (int i = 0; i < 10; ++i)
      data += "line " + std::to_string(i) + "\n";
    auto slow_sender = [](Socket& s, std::string data) -> Coro<void> {
      for (char c : data) {
        co_await s.send_all(std::string_view(&c, 1));
        co_await sleep(2ms);
      }
      s.shutdown();
    };
    Task<void> sender = create_task(slow_sender(a, data));
    // Each readline gets a deadline shorter than the sender needs for a line, so many
    // are cancelled mid-line; every byte must still come out exactly once.
    std::string got;
    int timeouts = 0;
    while (!reader.at_eof()) {
      try {
        got += co_await wait_for(reader.readline(), 3ms);
      } catch (const TimeoutError&) {
        ++timeouts;
      }
    }
    EXPECT_EQ(got, data);
    EXPECT_GT(timeouts, 0);
    co_await sender;
  };
  run(main());
}

TEST_P(StreamReaderTest, AConnectionResetIsASystemErrorOnEveryLaterRead) {
  CORIO_SKIP_WHERE_A_RESET_READS_AS_EOF();
  auto main = []() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    auto [reader, writer] = make_streams(std::move(client));
    co_await server.send_all("partial");
    EXPECT_EQ(co_await reader.readexactly(3), "par");
    reset(server);
    int first = 0;
    int second = 0;
    try {
      co_await reader.readexactly(100);
    } catch (const std::system_error& e) {
      first = e.code().value();
    }
    try {
      co_await reader.readline();
    } catch (const std::system_error& e) {
      second = e.code().value();
    }
    EXPECT_EQ(first, ECONNRESET);
    EXPECT_EQ(second, ECONNRESET);
  };
  run(main());
}

TEST_P(StreamReaderTest, ASecondConcurrentReadIsARuntimeError) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    Task<std::string> first = create_task(reader.read(10));
    co_await sleep(1ms);
    EXPECT_THROW(co_await reader.read(10), RuntimeError);
    co_await a.send_all("x");
    EXPECT_EQ(co_await first, "x");
  };
  run(main());
}

TEST_P(StreamReaderTest, CloseWakesAWaitingReadWithEof) {
  auto main = [](bool tcp) -> Coro<void> {
    // (Not `tcp ? co_await ... : ...`: g++ 12 destroys the awaited value twice there.)
    std::pair<Socket, Socket> sockets = Socket::pair();
    if (tcp) sockets = co_await tcp_pair();
    auto& [client, server] = sockets;
    auto [reader, writer] = make_streams(std::move(client));
    Task<std::string> pending = create_task(reader.read(10));
    co_await sleep(1ms);
    writer.close();
    EXPECT_TRUE(writer.is_closing());
    EXPECT_EQ(co_await wait_for(std::move(pending), 5s), "");
    co_await wait_for(writer.wait_closed(), 5s);
    EXPECT_TRUE(reader.at_eof());
    EXPECT_EQ(co_await read_to_eof(server), "");  // the peer sees our FIN
  };
  run(main(true));
  run(main(false));
}

// --- StreamWriter ---

TEST_P(StreamWriterTest, WritesArriveInOrderWhateverTheirSizes) {
  auto main = []() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    auto [reader, writer] = make_streams(std::move(client));
    Task<std::string> peer = create_task(read_to_eof(server));
    const std::string data = pattern(4 << 20, 9);
    std::mt19937 rng(4);
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::size_t n = std::min<std::size_t>(rng() % 100000 + 1, data.size() - pos);
      writer.write(std::string_view(data).substr(pos, n));
      pos += n;
      if (rng() % 3 == 0) co_await writer.drain();
    }
    writer.write_eof();
    EXPECT_TRUE(co_await peer == data);
    writer.close();
    co_await writer.wait_closed();
  };
  run(main());
}

TEST_P(StreamWriterTest, WritelinesWritesEveryPiece) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    std::vector<std::string> lines = {"one\n", "two\n", "three\n"};
    writer.writelines(lines);
    writer.write_eof();
    EXPECT_EQ(co_await read_to_eof(a), "one\ntwo\nthree\n");
  };
  run(main());
}

TEST_P(StreamWriterTest, DrainBoundsTheBufferWhileThePeerDoesNotRead) {
  auto main = []() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    auto [reader, writer] = make_streams(std::move(client));
    const auto [low, high] = writer.write_buffer_limits();
    EXPECT_EQ(high, 64u * 1024);
    EXPECT_EQ(low, 16u * 1024);
    constexpr std::size_t chunk = 10000;
    std::size_t written = 0;
    std::size_t max_buffered = 0;
    auto writer_loop = [](StreamWriter& w, std::size_t& written,
                          std::size_t& max_buffered) -> Coro<void> {
      const std::string block(chunk, 'w');
      for (;;) {
        w.write(block);
        written += chunk;
        max_buffered = std::max(max_buffered, w.write_buffer_size());
        co_await w.drain();
      }
    };
    Task<void> loop = create_task(writer_loop(writer, written, max_buffered));
    co_await sleep(300ms);  // the kernel's buffers fill up long before this
    const std::size_t blocked_at = written;
    co_await sleep(100ms);
    EXPECT_EQ(written, blocked_at);  // blocked in drain()
    EXPECT_FALSE(loop.done());
    EXPECT_GT(writer.write_buffer_size(), low);
    EXPECT_LE(max_buffered, high + chunk);
    loop.cancel();
    EXPECT_TRUE(co_await testing::ends_cancelled(loop));

    // The peer reads: the queue drains and every byte arrives in order.
    const std::size_t queued = writer.write_buffer_size();
    EXPECT_GT(queued, 0u);
    writer.write_eof();
    const std::string got = co_await read_to_eof(server);
    EXPECT_EQ(got.size(), written);
    EXPECT_EQ(got.find_first_not_of('w'), std::string::npos);
    EXPECT_EQ(writer.write_buffer_size(), 0u);
  };
  run(main());
}

TEST_P(StreamWriterTest, DrainResumesOnceTheBufferIsBelowTheLowWaterMark) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    writer.set_write_buffer_limits(1000, 100);
    EXPECT_THROW(writer.set_write_buffer_limits(10, 100), std::invalid_argument);
    writer.set_write_buffer_limits(1000, 100);
    // Fill the socket until write() has to queue.
    const std::string block(4096, 'q');
    std::size_t written = 0;
    while (writer.write_buffer_size() <= 1000) {
      writer.write(block);
      written += block.size();
    }
    Task<void> drain = create_task(writer.drain());
    co_await sleep(20ms);
    EXPECT_FALSE(drain.done());
    // Read slowly; drain() must not return while more than 100 bytes are queued.
    std::vector<char> buf(1000);
    std::size_t got = 0;
    while (!drain.done()) {
      got += co_await a.recv(buf.data(), buf.size());
      co_await sleep(0ms);
    }
    EXPECT_LE(writer.write_buffer_size(), 100u);
    co_await drain;
    writer.write_eof();
    got += (co_await read_to_eof(a)).size();
    EXPECT_EQ(got, written);
  };
  run(main());
}

TEST_P(StreamWriterTest, WritingAfterAPeerResetRaises) {
  auto main = []() -> Coro<void> {
    auto [client, server] = co_await tcp_pair();
    auto [reader, writer] = make_streams(std::move(client));
    reset(server);
    co_await sleep(10ms);  // let the RST arrive
    int code = 0;
    const std::string block(65536, 'x');
    try {
      for (int i = 0; i < 1000; ++i) {
        writer.write(block);
        co_await writer.drain();
      }
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
    EXPECT_TRUE(code == EPIPE || code == ECONNRESET) << code;
    // The error sticks.
    EXPECT_THROW(writer.write("more"), std::system_error);
    EXPECT_THROW(co_await writer.drain(), std::system_error);
    writer.close();
    co_await writer.wait_closed();
  };
  run(main());
}

TEST_P(StreamWriterTest, WriteEofHalfClosesAfterTheQueueAndReadsGoOn) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    EXPECT_TRUE(writer.can_write_eof());
    const std::string request = pattern(1 << 20, 2);  // more than the socket takes at once
    writer.write(request);
    EXPECT_GT(writer.write_buffer_size(), 0u);
    writer.write_eof();  // FIN must follow the queued data, not overtake it
    EXPECT_THROW(writer.write("late"), RuntimeError);
    EXPECT_TRUE(co_await read_to_eof(a) == request);
    co_await a.send_all("response");
    a.shutdown();
    EXPECT_EQ(co_await reader.read(), "response");
    EXPECT_TRUE(reader.at_eof());
  };
  run(main());
}

TEST_P(StreamWriterTest, CloseSendsWhatIsQueuedThenCloses) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    const std::string data = pattern(1 << 20, 5);
    writer.write(data);
    writer.close();
    EXPECT_TRUE(writer.is_closing());
    EXPECT_THROW(writer.write("late"), RuntimeError);
    Task<void> closed = create_task(writer.wait_closed());
    co_await sleep(5ms);
    EXPECT_FALSE(closed.done());  // still flushing to a peer that has not read
    EXPECT_TRUE(co_await read_to_eof(a) == data);
    co_await wait_for(std::move(closed), 5s);
    EXPECT_EQ(co_await reader.read(), "");
  };
  run(main());
}

TEST_P(StreamWriterTest, AbortDropsTheQueueAndClosesAtOnce) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    writer.write(pattern(4 << 20, 6));
    EXPECT_GT(writer.write_buffer_size(), 0u);
    writer.abort();
    EXPECT_EQ(writer.write_buffer_size(), 0u);
    co_await wait_for(writer.wait_closed(), 5s);
    EXPECT_LT((co_await read_to_eof(a)).size(), std::size_t{4} << 20);
  };
  run(main());
}

TEST_P(StreamWriterTest, DroppingBothHandlesSendsTheQueueThenCloses) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    const std::string data = pattern(1 << 20, 8);
    {
      auto [reader, writer] = make_streams(std::move(b));
      writer.write(data);
    }
    EXPECT_TRUE(co_await read_to_eof(a) == data);
  };
  run(main());
}

TEST_P(StreamWriterTest, ReportsBothAddresses) {
  auto main = []() -> Coro<void> {
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    auto [reader, writer] = co_await open_connection(listener.local_address());
    Socket server = co_await listener.accept();
    EXPECT_EQ(writer.peer_address(), listener.local_address());
    EXPECT_EQ(writer.local_address(), server.peer_address());
    EXPECT_EQ(writer.socket().get_option(SocketOption::no_delay), 1);
    writer.close();
    EXPECT_EQ(writer.peer_address(), listener.local_address());  // kept after close
  };
  run(main());
}

TEST_P(StreamWriterTest, OpenConnectionByNameAndOverUnixSockets) {
  CORIO_SKIP_WITHOUT_UNIX_SOCKETS();
  auto main = [](std::string unix_path) -> Coro<void> {
    Socket listener = listen_on(Address::loopback(AddressFamily::ipv4, 0));
    StreamOptions options;
    options.limit = 1024;
    options.timeout = 5s;
    auto [r1, w1] = co_await open_connection("localhost", listener.local_address().port(), options);
    EXPECT_EQ(r1.limit(), 1024u);
    Socket s1 = co_await listener.accept();
    w1.write("tcp");
    w1.write_eof();
    EXPECT_EQ(co_await read_to_eof(s1), "tcp");

    Socket unix_listener = listen_on(Address::local(unix_path));
    auto [r2, w2] = co_await open_unix_connection(unix_path);
    Socket s2 = co_await unix_listener.accept();
    co_await s2.send_all("unix\n");
    EXPECT_EQ(co_await r2.readline(), "unix\n");
  };
  run(main(testing::unix_socket_name("corio-streams-" + GetParam())));
}

TEST_P(StreamReaderTest, AFedReaderReturnsWhatWasFedAndWaitsForMore) {
  auto main = []() -> Coro<void> {
    StreamReader reader = make_stream_reader(8);
    EXPECT_EQ(reader.limit(), 8u);
    reader.feed_data("ab");
    EXPECT_EQ(co_await reader.read(10), "ab");
    // A read waits until the next feed: a task feeds while the line is incomplete.
    auto feeder = [](StreamReader& r) -> Coro<void> {
      r.feed_data("he");
      co_await sleep(0ms);
      r.feed_data("llo\nwor");
      co_await sleep(0ms);
      r.feed_data("ld");
      r.feed_eof();
    };
    Task<void> t = create_task(feeder(reader));
    EXPECT_EQ(co_await reader.readline(), "hello\n");
    std::string partial = "not raised";
    try {
      co_await reader.readexactly(6);
    } catch (const IncompleteReadError& e) {
      partial = e.partial();
    }
    EXPECT_EQ(partial, "world");
    EXPECT_TRUE(reader.at_eof());
    co_await t;
    EXPECT_EQ(co_await reader.read(), "");
    bool refused = false;
    try {
      reader.feed_data("late");
    } catch (const RuntimeError&) {
      refused = true;
    }
    EXPECT_TRUE(refused) << "feed_data() after feed_eof() must fail";
  };
  run(main());
}

TEST_P(StreamReaderTest, FeedingASocketsReaderIsRefused) {
  auto main = []() -> Coro<void> {
    auto [a, b] = Socket::pair();
    auto [reader, writer] = make_streams(std::move(b));
    EXPECT_THROW(reader.feed_data("x"), RuntimeError);
    EXPECT_THROW(reader.feed_eof(), RuntimeError);
    co_return;
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(StreamReaderTest);
CORIO_INSTANTIATE_BACKEND_SUITE(StreamWriterTest);

}  // namespace
}  // namespace corio
