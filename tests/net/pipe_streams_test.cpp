// StreamReader and StreamWriter over pipes (connect_read_pipe, connect_write_pipe,
// pipe_transport) and over a filter transport stacked on a pipe, on every backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "coro/test_coros.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::pattern;

class PipeStreamsTest : public BackendTest {};

// Lines of 0..max_len letters, each ending in '\n'.
std::vector<std::string> some_lines(std::size_t count, std::size_t max_len, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    std::string line(rng() % (max_len + 1), 'a');
    for (char& c : line)
      c = static_cast<char>('a' + rng() % 26);
    out.push_back(line + "\n");
  }
  return out;
}

TEST_P(PipeStreamsTest, LinesWrittenToAPipeAreReadBackWholeThenEof) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    StreamReader reader = connect_read_pipe(p.read_end);
    StreamWriter writer = connect_write_pipe(p.write_end);
    const std::vector<std::string> lines = some_lines(2000, 300, 1);
    auto produce = [](StreamWriter w, const std::vector<std::string>& ls) -> Coro<void> {
      for (const std::string& l : ls) {
        w.write(l);
        co_await w.drain();
      }
      EXPECT_TRUE(w.can_write_eof());
      w.write_eof();  // closes the write end once the buffer is out
      co_await w.drain();
    };
    Task<void> producer = create_task(produce(std::move(writer), lines));
    std::vector<std::string> got;
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) break;
      got.push_back(std::move(line));
    }
    EXPECT_TRUE(reader.at_eof());
    EXPECT_TRUE(got == lines);
    co_await producer;
  };
  run(main());
}

TEST_P(PipeStreamsTest, MegabytesThroughAPipePauseTheWriterAndArriveInOrder) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    StreamReader reader = connect_read_pipe(p.read_end);
    StreamWriter writer = connect_write_pipe(p.write_end);
    const std::string data = pattern(8 << 20, 3);
    auto produce = [](StreamWriter w, const std::string& d) -> Coro<bool> {
      bool paused = false;
      std::mt19937 rng(5);
      std::size_t pos = 0;
      while (pos < d.size()) {
        const std::size_t n = std::min<std::size_t>(rng() % 200000 + 1, d.size() - pos);
        w.write(std::string_view(d).substr(pos, n));
        pos += n;
        // More than a pipe's capacity is queued: the high-water mark is passed.
        paused = paused || w.write_buffer_size() > w.write_buffer_limits().second;
        co_await w.drain();
      }
      w.close();
      co_await w.wait_closed();
      co_return paused;
    };
    Task<bool> producer = create_task(produce(std::move(writer), data));
    std::string got;
    while (!reader.at_eof())
      got += co_await reader.read(100000);
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
    EXPECT_TRUE(co_await producer);
  };
  run(main());
}

TEST_P(PipeStreamsTest, TwoPipesMakeOneDuplexStreamLikeASocket) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds up = os::open_pipe();
    const os::PipeEnds down = os::open_pipe();
    auto [r1, w1] = make_streams(pipe_transport(down.read_end, up.write_end));
    auto [r2, w2] = make_streams(pipe_transport(up.read_end, down.write_end));
    auto echo = [](StreamReader r, StreamWriter w) -> Coro<void> {
      for (;;) {
        std::string line = co_await r.readline();
        if (line.empty()) break;
        w.write("echo: " + line);
      }
      w.close();
      co_await w.wait_closed();
    };
    Task<void> peer = create_task(echo(std::move(r2), std::move(w2)));
    for (int i = 0; i < 100; ++i) {
      w1.write("line " + std::to_string(i) + "\n");
      EXPECT_EQ(co_await r1.readline(), "echo: line " + std::to_string(i) + "\n");
    }
    w1.write_eof();  // the echo task reads EOF and closes its side
    EXPECT_EQ(co_await r1.read(), "");
    EXPECT_TRUE(r1.at_eof());
    co_await peer;
    // A pipe has no socket and no addresses.
    EXPECT_THROW((void)w1.socket(), InvalidStateError);
    EXPECT_THROW((void)w1.peer_address(), InvalidStateError);
    EXPECT_TRUE(w1.transport().handles().has_value());
    w1.close();
    co_await w1.wait_closed();
  };
  run(main());
}

TEST_P(PipeStreamsTest, WritingToAPipeWhoseReaderIsGoneRaisesEpipeAndTheProcessLives) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    StreamWriter writer = connect_write_pipe(p.write_end);
    { StreamReader gone = connect_read_pipe(p.read_end); }  // closes the read end
    const std::string chunk(64 * 1024, 'x');
    std::error_code got;
    try {
      for (int i = 0; i < 64; ++i) {  // 4 MiB: more than any pipe buffers
        writer.write(chunk);
        co_await writer.drain();
      }
    } catch (const std::system_error& e) {
      got = e.code();
    }
    EXPECT_EQ(got, std::errc::broken_pipe);
    // The error is sticky, as on a socket.
    EXPECT_THROW(writer.write("more"), std::system_error);
    writer.abort();
    co_await writer.wait_closed();
  };
  run(main());
}

TEST_P(PipeStreamsTest, ACancelledReadOfAPipeLosesNoBytes) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    StreamReader reader = connect_read_pipe(p.read_end);
    StreamWriter writer = connect_write_pipe(p.write_end);
    writer.write("hal");
    EXPECT_THROW(co_await wait_for(reader.readuntil("\n\n"), 20ms), TimeoutError);
    writer.write("f a line\n\nrest");
    writer.write_eof();
    EXPECT_EQ(co_await reader.readuntil("\n\n"), "half a line\n\n");
    EXPECT_EQ(co_await reader.read(), "rest");
    EXPECT_EQ(co_await reader.read(), "");
  };
  run(main());
}

TEST_P(PipeStreamsTest, OneWayStreamsRefuseTheMissingDirection) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    auto [reader, writer] = make_streams(pipe_transport(p.read_end, invalid_handle));
    EXPECT_THROW(writer.write("x"), RuntimeError);
    auto [r2, w2] = make_streams(pipe_transport(invalid_handle, p.write_end));
    EXPECT_EQ(co_await r2.read(), "");  // nothing to read: EOF at once
    EXPECT_TRUE(r2.at_eof());
    w2.write("y");
    EXPECT_EQ(co_await reader.read(100), "y");
    w2.close();
    co_await w2.wait_closed();
    EXPECT_EQ(co_await reader.read(), "");
    EXPECT_THROW((void)make_streams(std::unique_ptr<Transport>()), std::invalid_argument);
  };
  run(main());
}

// A filter transport: XORs every byte with a key on its way through the transport
// below. Stands in for TLS, so the streams' filter path (read_some/write_some/
// cancel_read) runs over a real pipe pair on every backend.
class XorTransport final : public Transport {
 public:
  XorTransport(std::unique_ptr<Transport> inner, char key) noexcept
      : inner_(std::move(inner)), key_(key) {}

  [[nodiscard]] std::optional<Handles> handles() const noexcept override { return std::nullopt; }
  Coro<std::size_t> read_some(std::span<char> buf) override {
    const std::size_t n = co_await inner_->read_some(buf);
    for (std::size_t i = 0; i < n; ++i)
      buf[i] = static_cast<char>(buf[i] ^ key_);
    co_return n;
  }
  Coro<std::size_t> write_some(std::span<const char> data) override {
    ++slow_writes;
    std::string coded(data.begin(), data.end());
    for (char& c : coded)
      c = static_cast<char>(c ^ key_);
    // A filter must take every byte it says it took: loop over the inner writes.
    std::size_t off = 0;
    while (off < coded.size()) {
      off += co_await inner_->write_some(std::span<const char>(coded).subspan(off));
    }
    co_return data.size();
  }
  std::intptr_t try_write(std::span<const char> /*data*/) noexcept override {
    return -EAGAIN;  // always through write_some, like a TLS session with a full record
  }
  void cancel_read() noexcept override { inner_->cancel_read(); }
  [[nodiscard]] bool can_write_eof() const noexcept override { return inner_->can_write_eof(); }
  void write_eof() override { inner_->write_eof(); }
  void close() noexcept override { inner_->close(); }
  [[nodiscard]] bool is_open() const noexcept override { return inner_->is_open(); }

  int slow_writes = 0;

 private:
  std::unique_ptr<Transport> inner_;
  char key_;
};

TEST_P(PipeStreamsTest, AFilterTransportCarriesStreamsAndItsBytesAreTransformed) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    auto xw = std::make_unique<XorTransport>(pipe_transport(invalid_handle, p.write_end), 0x5a);
    XorTransport* coder = xw.get();
    StreamWriter writer = make_streams(std::move(xw)).second;
    StreamReader decoded = make_streams(std::make_unique<XorTransport>(
                                            pipe_transport(p.read_end, invalid_handle), 0x5a))
                               .first;
    const std::vector<std::string> lines = some_lines(500, 2000, 7);
    auto produce = [](StreamWriter w, const std::vector<std::string>& ls) -> Coro<void> {
      for (const std::string& l : ls) {
        w.write(l);
        co_await w.drain();
      }
      w.write_eof();
      co_await w.drain();
    };
    Task<void> producer = create_task(produce(std::move(writer), lines));
    std::vector<std::string> got;
    for (;;) {
      std::string line = co_await decoded.readline();
      if (line.empty()) break;
      got.push_back(std::move(line));
    }
    co_await producer;
    EXPECT_TRUE(got == lines);
    EXPECT_GT(coder->slow_writes, 0);
  };
  run(main());
}

TEST_P(PipeStreamsTest, ClosingAFilterStreamStopsItsPendingReadAsEof) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    auto [reader, writer] =
        make_streams(std::make_unique<XorTransport>(pipe_transport(p.read_end, p.write_end), 1));
    auto read_line = [](StreamReader r) -> Coro<std::string> { co_return co_await r.readline(); };
    Task<std::string> pending = create_task(read_line(reader));
    co_await sleep(5ms);  // the read is waiting in the filter's read_some
    EXPECT_FALSE(pending.done());
    writer.close();  // asyncio: a read waiting on a closed transport sees EOF
    EXPECT_EQ(co_await pending, "");
    co_await writer.wait_closed();
    EXPECT_FALSE(writer.transport().is_open());
  };
  run(main());
}

TEST_P(PipeStreamsTest, CancellingAReadInAFilterTransportLosesNoBytes) {
  auto main = []() -> Coro<void> {
    const os::PipeEnds p = os::open_pipe();
    auto [reader, writer] =
        make_streams(std::make_unique<XorTransport>(pipe_transport(p.read_end, p.write_end), 9));
    EXPECT_THROW(co_await wait_for(reader.readexactly(4), 20ms), TimeoutError);
    writer.write("abcdef");
    EXPECT_EQ(co_await reader.readexactly(4), "abcd");
    EXPECT_EQ(co_await reader.readexactly(2), "ef");
    writer.close();
    co_await writer.wait_closed();
  };
  run(main());
}

CORIO_INSTANTIATE_BACKEND_SUITE(PipeStreamsTest);

}  // namespace
}  // namespace corio
