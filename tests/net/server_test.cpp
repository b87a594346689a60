// start_server / Server over real loopback and Unix sockets on every backend.
#include <gtest/gtest.h>
#if CORIO_TEST_POSIX
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "corio/corio.hpp"
#include "coro/test_coros.hpp"
#include "support/raw_socket.hpp"

namespace corio {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::pattern;

class ServerTest : public BackendTest {};

std::string encode_size(std::size_t n) {
  std::string h(4, '\0');
  for (int i = 0; i < 4; ++i)
    h[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
  return h;
}

std::size_t decode_size(const std::string& h) {
  std::size_t n = 0;
  for (char c : h)
    n = (n << 8) | static_cast<unsigned char>(c);
  return n;
}

// Echoes length-prefixed frames until the client closes.
Coro<void> echo_frames(StreamReader r, StreamWriter w) {
  for (;;) {
    std::string header;
    bool eof = false;
    try {
      header = co_await r.readexactly(4);
    } catch (const IncompleteReadError&) {
      eof = true;
    }
    if (eof) break;
    std::string body = co_await r.readexactly(decode_size(header));
    w.write(body);
    co_await w.drain();
  }
  w.close();
}

// Echoes lines until EOF.
Coro<void> echo_lines(StreamReader r, StreamWriter w) {
  for (;;) {
    std::string line = co_await r.readline();
    if (line.empty()) break;
    w.write(line);
    co_await w.drain();
  }
  w.close();
}

Coro<void> frame_client(Address where, unsigned seed) {
  auto [r, w] = co_await open_connection(where);
  std::mt19937 rng(seed);
  for (int i = 0; i < 3; ++i) {
    const std::size_t n = rng() % 65536 + 1;
    const std::string msg = pattern(n, seed * 7 + static_cast<unsigned>(i));
    w.write(encode_size(n));
    w.write(msg);
    co_await w.drain();
    const std::string back = co_await r.readexactly(n);
    EXPECT_TRUE(back == msg) << "client " << seed << " message " << i;
  }
  w.close();
  co_await w.wait_closed();
}

// close() that sends RST instead of FIN.
void reset(Socket& s) {
  testing::set_abortive_close(s.handle());
  s.close();
}

[[maybe_unused]]  // unused where the POSIX-only descriptor test below is left out
Coro<std::string>
read_line_raw(const Socket& s) {
  std::string out;
  char c = 0;
  while (out.empty() || out.back() != '\n') {
    if (co_await s.recv(&c, 1) == 0) break;
    out += c;
  }
  co_return out;
}

TEST_P(ServerTest, ServesManyConcurrentClientsByteForByte) {
  auto main = []() -> Coro<void> {
    ServerOptions options;
    options.backlog = 512;  // all 200 connect at once
    Server srv = co_await start_server(echo_frames, "127.0.0.1", 0, options);
    const Address where = srv.addresses().at(0);
    std::vector<Coro<void>> clients;
    for (unsigned i = 0; i < 200; ++i)
      clients.push_back(frame_client(where, i + 1));
    co_await wait_for(gather(std::move(clients)), 60s);
    srv.close();
    co_await wait_for(srv.wait_closed(), 5s);
    EXPECT_EQ(srv.active_connections(), 0u);
  };
  run(main());
}

TEST_P(ServerTest, ReportsItsRealPortAndStopsServingOnClose) {
  auto main = []() -> Coro<void> {
    Server srv = co_await start_server(echo_lines, Address::loopback(AddressFamily::ipv4, 0));
    EXPECT_TRUE(srv.is_serving());
    EXPECT_EQ(srv.sockets().size(), 1u);
    const Address where = srv.addresses().at(0);
    EXPECT_NE(where.port(), 0);
    EXPECT_EQ(srv.sockets()[0].local_address(), where);
    {
      auto [r, w] = co_await open_connection(where);
      w.write("hello\n");
      EXPECT_EQ(co_await r.readline(), "hello\n");
    }
    srv.close();
    EXPECT_FALSE(srv.is_serving());
    EXPECT_TRUE(srv.sockets().empty());
    EXPECT_TRUE(srv.addresses().empty());
    co_await wait_for(srv.wait_closed(), 5s);
    int code = 0;
    try {
      co_await open_connection(where);
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
    EXPECT_EQ(code, ECONNREFUSED);
  };
  run(main());
}

TEST_P(ServerTest, AHandlerExceptionIsLoggedAndTheServerKeepsServing) {
  auto main = []() -> Coro<void> {
    StreamHandler handler = [](StreamReader r, StreamWriter w) -> Coro<void> {
      for (;;) {
        std::string line = co_await r.readline();
        if (line.empty()) break;
        if (line == "boom\n") throw std::runtime_error("boom requested");
        w.write(line);
      }
    };
    Server srv = co_await start_server(handler, "127.0.0.1", 0);
    const Address where = srv.addresses().at(0);
    auto [r1, w1] = co_await open_connection(where);
    auto [r2, w2] = co_await open_connection(where);
    w1.write("boom\n");
    EXPECT_EQ(co_await wait_for(r1.read(), 5s), "");  // that connection is closed
    w2.write("still here\n");
    EXPECT_EQ(co_await wait_for(r2.readline(), 5s), "still here\n");
    auto [r3, w3] = co_await open_connection(where);
    w3.write("new\n");
    EXPECT_EQ(co_await wait_for(r3.readline(), 5s), "new\n");
    co_await srv.shutdown(0s);
  };
  ::testing::internal::CaptureStderr();
  run(main());
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("boom requested"), std::string::npos) << log;
}

TEST_P(ServerTest, APeerResetReachesTheHandlerAsASystemError) {
  struct State {
    int code = 0;
  };
  auto main = []() -> Coro<void> {
    auto st = std::make_shared<State>();
    StreamHandler handler = [st](StreamReader r, StreamWriter w) -> Coro<void> {
      if (co_await r.readline() == "echo\n") {
        w.write("echo\n");
        co_return;
      }
      try {
        co_await r.readexactly(1000);
      } catch (const std::system_error& e) {
        st->code = e.code().value();
        throw;  // the server logs it and goes on
      }
    };
    Server srv = co_await start_server(handler, "127.0.0.1", 0);
    const Address where = srv.addresses().at(0);
    Socket victim = co_await connect(where);
    co_await victim.send_all("first line\npartial");
    co_await sleep(10ms);
    reset(victim);
    for (int i = 0; i < 500 && st->code == 0; ++i)
      co_await sleep(1ms);
    EXPECT_EQ(st->code, ECONNRESET);
    auto [r, w] = co_await open_connection(where);
    w.write("echo\n");
    EXPECT_EQ(co_await wait_for(r.readline(), 5s), "echo\n");
    co_await srv.shutdown(1s);
  };
  ::testing::internal::CaptureStderr();
  run(main());
  (void)::testing::internal::GetCapturedStderr();
}

TEST_P(ServerTest, ShutdownLetsHandlersFinishWithinGraceAndCancelsTheRest) {
  struct State {
    int started = 0;
    int finished = 0;
    int cancelled = 0;
  };
  auto main = []() -> Coro<void> {
    auto st = std::make_shared<State>();
    StreamHandler handler = [st](StreamReader r, StreamWriter w) -> Coro<void> {
      const std::string what = co_await r.readline();
      ++st->started;
      bool cancelled = false;
      try {
        if (what == "fast\n") {
          co_await sleep(50ms);
          w.write("done\n");
          co_await w.drain();
          ++st->finished;
        } else if (what == "read\n") {
          co_await r.readexactly(1000);  // never arrives
        } else {
          const std::string block(65536, 'b');
          for (;;) {  // the client never reads: blocks in drain()
            w.write(block);
            co_await w.drain();
          }
        }
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        ++st->cancelled;
        throw CancelledError();
      }
    };
    Server srv = co_await start_server(handler, "127.0.0.1", 0);
    const Address where = srv.addresses().at(0);
    auto [fr, fw] = co_await open_connection(where);
    auto [rr, rw] = co_await open_connection(where);
    auto [dr, dw] = co_await open_connection(where);
    fw.write("fast\n");
    rw.write("read\n");
    dw.write("drain\n");
    for (int i = 0; i < 1000 && st->started < 3; ++i)
      co_await sleep(1ms);
    EXPECT_EQ(st->started, 3);
    EXPECT_EQ(srv.active_connections(), 3u);
    const TimePoint t0 = EventLoop::running().now();
    co_await wait_for(srv.shutdown(300ms), 10s);
    const Duration took = EventLoop::running().now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    EXPECT_EQ(st->finished, 1);
    EXPECT_EQ(st->cancelled, 2);
    EXPECT_EQ(srv.active_connections(), 0u);
    EXPECT_EQ(co_await fr.readline(), "done\n");
    // The cancelled connections were aborted: the clients see the end of the stream.
    std::string rest;
    try {
      rest = co_await wait_for(rr.read(), 5s);
    } catch (const std::system_error&) {
    }
    EXPECT_EQ(rest, "");
    co_await wait_for(srv.wait_closed(), 1s);  // already closed: returns at once
  };
  run(main());
}

TEST_P(ServerTest, ServeForeverEndsWithCloseAndClosesWhenCancelled) {
  auto main = []() -> Coro<void> {
    Server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
    Task<void> forever = create_task(srv.serve_forever());
    co_await sleep(1ms);
    EXPECT_THROW(co_await srv.serve_forever(), RuntimeError);
    {
      auto [r, w] = co_await open_connection(srv.addresses().at(0));
      w.write("x\n");
      EXPECT_EQ(co_await r.readline(), "x\n");
    }
    srv.close();
    co_await wait_for(forever, 5s);  // returns normally once the handlers are done
    EXPECT_THROW(co_await srv.serve_forever(), RuntimeError);

    Server other = co_await start_server(echo_lines, "127.0.0.1", 0);
    Task<void> forever2 = create_task(other.serve_forever());
    co_await sleep(1ms);
    forever2.cancel();
    EXPECT_TRUE(co_await testing::ends_cancelled(forever2));
    EXPECT_FALSE(other.is_serving());
  };
  run(main());
}

TEST_P(ServerTest, UnixServerReplacesAStaleSocketFileAndRemovesItWhenClosed) {
  CORIO_SKIP_WITHOUT_UNIX_SOCKETS();
  auto main = [](std::string path) -> Coro<void> {
    { Socket stale = listen_on(Address::local(path)); }  // leaves the file behind
    EXPECT_TRUE(std::filesystem::is_socket(path));
    Server srv = co_await start_unix_server(echo_lines, path);
    EXPECT_EQ(srv.addresses().at(0).to_string(), path);
    auto [r, w] = co_await open_unix_connection(path);
    w.write("over unix\n");
    EXPECT_EQ(co_await r.readline(), "over unix\n");
    w.write_eof();  // the handler ends; wait_closed() waits for it
    srv.close();
    co_await wait_for(srv.wait_closed(), 5s);
    EXPECT_FALSE(std::filesystem::exists(path));
  };
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("corio-server-" + std::to_string(::getpid()) + "-" + GetParam()))
                               .string();
  std::filesystem::remove(path);
  run(main(path));
  std::filesystem::remove(path);
}

TEST_P(ServerTest, IdleTimeoutEndsASilentConnectionButNotABusyOne) {
  struct State {
    std::vector<std::string> lines;
    std::vector<Duration> waited;
  };
  auto main = []() -> Coro<void> {
    auto st = std::make_shared<State>();
    StreamHandler handler = [st](StreamReader r, StreamWriter w) -> Coro<void> {
      const TimePoint t0 = EventLoop::running().now();
      for (;;) {
        std::string line = co_await r.readline();
        if (line.empty()) break;
        st->lines.push_back(line);
      }
      st->waited.push_back(EventLoop::running().now() - t0);
      w.close();
    };
    ServerOptions options;
    options.idle_timeout = 300ms;
    Server srv = co_await start_server(handler, "127.0.0.1", 0, options);
    const Address where = srv.addresses().at(0);
    // A busy client: a line every 30 ms for 600 ms, then it hangs up itself. (Wide
    // margins: a loaded machine can stall the process for tens of milliseconds.)
    auto busy = [](StreamReader r, StreamWriter w) -> Coro<void> {
      for (int i = 0; i < 20; ++i) {
        w.write("tick\n");
        co_await sleep(30ms);
      }
      w.write_eof();
      EXPECT_EQ(co_await wait_for(r.read(), 5s), "");
    };
    auto [br, bw] = co_await open_connection(where);
    Task<void> busy_task = create_task(busy(br, bw));
    // A silent one.
    auto [sr, sw] = co_await open_connection(where);
    const TimePoint t0 = EventLoop::running().now();
    EXPECT_EQ(co_await wait_for(sr.read(), 5s), "");  // closed by the server
    const Duration silent = EventLoop::running().now() - t0;
    EXPECT_GE(silent, 300ms);
    EXPECT_LT(silent, 550ms);  // checked every 75 ms
    EXPECT_FALSE(busy_task.done());
    co_await busy_task;
    co_await srv.shutdown(1s);
    EXPECT_EQ(st->lines.size(), 20u);
    EXPECT_EQ(st->waited.size(), 2u);
  };
  run(main());
}

TEST_P(ServerTest, CloseClientsEndsTheHandlersReads) {
  auto main = []() -> Coro<void> {
    Server srv = co_await start_server(echo_lines, "127.0.0.1", 0);
    auto [r, w] = co_await open_connection(srv.addresses().at(0));
    w.write("a\n");
    EXPECT_EQ(co_await r.readline(), "a\n");
    EXPECT_EQ(srv.active_connections(), 1u);
    srv.close_clients();
    EXPECT_EQ(co_await wait_for(r.read(), 5s), "");
    srv.close();
    co_await wait_for(srv.wait_closed(), 5s);
  };
  run(main());
}

#if CORIO_TEST_POSIX  // RLIMIT_NOFILE and getrusage (CMake defines it on POSIX systems)
// Lowers RLIMIT_NOFILE to `spare` above the highest descriptor in use and fills every
// free slot below it, so the next accept() fails with EMFILE. release() frees the
// fillers; the destructor also restores the limit.
class DescriptorSqueeze {
 public:
  explicit DescriptorSqueeze(int spare) {
    EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0);
    int highest = 0;
    for (int fd = 0; fd < static_cast<int>(saved_.rlim_cur); ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest + 1 + spare);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        EXPECT_EQ(errno, EMFILE);
        break;
      }
      fillers_.push_back(fd);
    }
  }
  ~DescriptorSqueeze() {
    release();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  DescriptorSqueeze(const DescriptorSqueeze&) = delete;
  DescriptorSqueeze& operator=(const DescriptorSqueeze&) = delete;

  void release() {
    for (int fd : fillers_)
      ::close(fd);
    fillers_.clear();
  }
  [[nodiscard]] std::size_t fillers() const { return fillers_.size(); }

 private:
  rlimit saved_{};
  std::vector<int> fillers_;
};

Duration cpu_time() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  };
  return std::chrono::duration_cast<Duration>(us(ru.ru_utime) + us(ru.ru_stime));
}

TEST_P(ServerTest, AcceptBacksOffWhenOutOfDescriptorsAndRecovers) {
  struct State {
    int served = 0;
  };
  auto main = []() -> Coro<void> {
    auto st = std::make_shared<State>();
    StreamHandler handler = [st](StreamReader r, StreamWriter w) -> Coro<void> {
      ++st->served;
      co_await echo_lines(std::move(r), std::move(w));
    };
    ServerOptions options;
    options.accept_retry_delay = 100ms;
    Server srv = co_await start_server(handler, "127.0.0.1", 0, options);
    const Address where = srv.addresses().at(0);
    constexpr int kPending = 4;
    std::vector<Socket> pending;
    for (int i = 0; i < kPending; ++i)
      pending.push_back(Socket::tcp());
    {
      DescriptorSqueeze squeeze(2 * kPending + 2);
      EXPECT_GE(squeeze.fillers(), std::size_t{kPending + 2});
      // The kernel completes these handshakes; accepting them needs descriptors.
      for (Socket& c : pending)
        co_await c.connect(where);
      const Duration cpu0 = cpu_time();
      co_await sleep(300ms);
      const Duration cpu = cpu_time() - cpu0;
      EXPECT_LT(cpu, 100ms) << "the accept loop spins";
      EXPECT_EQ(st->served, 0);

      squeeze.release();  // descriptors free again; the limit stays low
      for (Socket& c : pending)
        co_await c.send_all("ping\n");
      for (Socket& c : pending)
        EXPECT_EQ(co_await wait_for(read_line_raw(c), 5s), "ping\n");
      auto [r, w] = co_await open_connection(where);  // and a new client
      w.write("new\n");
      EXPECT_EQ(co_await wait_for(r.readline(), 5s), "new\n");
      EXPECT_EQ(st->served, kPending + 1);
    }
    pending.clear();
    co_await srv.shutdown(1s);
  };
  ::testing::internal::CaptureStderr();
  run(main());
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("retrying"), std::string::npos) << log;
}
#endif

CORIO_INSTANTIATE_BACKEND_SUITE(ServerTest);

}  // namespace
}  // namespace corio
