// TLS ping-pong: io_bench's socketpair ping-pong (64 bytes each way) inside a TLS 1.3
// session, through the session's Transport calls, once per backend (TlsPingPong/<name>).
// It shows what a record costs on top of the plaintext round trip, and checks the
// issue's promise that steady state makes no allocation per record in corio's code:
//   allocs_per_rt    operator new calls per round trip (goal 0; OpenSSL's own mallocs
//                    are not operator new and are not counted)
//   syscalls_per_rt  system calls per round trip (the plaintext PingPong's are the floor)
// TlsBulk/<name>: one way, 1 MiB per iteration in 64 KiB writes, the receiver reading
// 64 KiB at a time and answering each MiB with one byte: the bytes/s of full records,
// where the copies on the way (socket, record buffers, plaintext) show.
// The certificate is made once per run with the openssl command in a temporary folder.
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"
#include "corio/os/net.hpp"

namespace bench {
namespace {

constexpr std::size_t kMessage = 64;
constexpr std::size_t kReadBuffer = 4096;
constexpr std::size_t kWarmTrips = 1000;
constexpr std::size_t kProbeTrips = 10000;

// A self-signed localhost certificate, made once; empty if the openssl command failed.
const std::string& cert_dir() {
  static const std::string dir = [] {
    std::string d =
        (std::filesystem::temp_directory_path() / ("corio-tls-bench-" + std::to_string(::getpid())))
            .string();
    std::filesystem::create_directories(d);
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
        "-nodes -days 1 -subj /CN=localhost -keyout '" +
        d + "/key.pem' -out '" + d + "/cert.pem' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0 ? d : std::string();
  }();
  return dir;
}

corio::Coro<void> send_all(corio::Transport& t, const char* p, std::size_t len) {
  for (std::size_t sent = 0; sent < len;)
    sent += co_await t.write_some({p + sent, len - sent});
  co_await t.flush();
}

corio::Coro<void> recv_message(corio::Transport& t, char* buf) {
  for (std::size_t got = 0; got < kMessage;) {
    const std::size_t n = co_await t.read_some({buf, kReadBuffer});
    if (n == 0) throw std::runtime_error("the TLS echo closed early");
    got += n;
  }
}

corio::Coro<void> echo(corio::Transport& t) {
  std::array<char, kReadBuffer> buf{};
  for (;;) {
    const std::size_t n = co_await t.read_some(buf);
    if (n == 0) {
      // The client's close_notify: answer it, or the client's close_gracefully() waits
      // out its 30 s shutdown timeout for ours.
      co_await t.close_gracefully();
      co_return;
    }
    co_await send_all(t, buf.data(), n);
  }
}

corio::Coro<void> client(corio::Transport& t, benchmark::State* state, std::size_t count) {
  std::array<char, kMessage> msg{};
  std::array<char, kReadBuffer> buf{};
  while (state != nullptr ? state->KeepRunning() : count-- > 0) {
    co_await send_all(t, msg.data(), kMessage);
    co_await recv_message(t, buf.data());
  }
}

struct Probe {
  AllocCounts allocs;
  std::uint64_t syscalls = 0;
};

using TransportPair =
    std::pair<std::unique_ptr<corio::Transport>, std::unique_ptr<corio::Transport>>;

// A client and a server session over a socket pair, handshaken.
corio::Coro<TransportPair> tls_pair() {
  const auto [a, b] = corio::net::socket_pair(corio::SocketType::stream);
  corio::TlsContext server_ctx =
      corio::TlsContext::server(cert_dir() + "/cert.pem", cert_dir() + "/key.pem");
  corio::TlsContext client_ctx = corio::TlsContext::client();
  client_ctx.set_verify_peer(false);  // a throwaway certificate: the records are the point
  std::unique_ptr<corio::Transport> ca = corio::socket_transport(corio::Socket(a));
  std::unique_ptr<corio::Transport> sa = corio::socket_transport(corio::Socket(b));
  corio::Coro<std::unique_ptr<corio::Transport>> c = corio::start_tls(std::move(ca), client_ctx);
  corio::Coro<std::unique_ptr<corio::Transport>> s = corio::start_tls(std::move(sa), server_ctx);
  auto [ct, st] = co_await corio::gather(std::move(c), std::move(s));
  co_return TransportPair(std::move(ct), std::move(st));
}

corio::Coro<void> tls_ping_pong(benchmark::State& state, Probe& probe) {
  auto [ct, st] = co_await tls_pair();
  corio::Task<void> server = corio::create_task(echo(*st));

  co_await client(*ct, nullptr, kWarmTrips);  // and the session tickets are taken in
  co_await client(*ct, &state, 0);

  corio::Coro<void> trips = client(*ct, nullptr, kProbeTrips);  // its frame, not counted
  const SyscallCounter sc;
  const AllocCounts before = alloc_counts();
  const std::uint64_t mark = sc.start();
  co_await std::move(trips);
  probe.syscalls = sc.since(mark);
  probe.allocs = alloc_counts() - before;

  co_await ct->close_gracefully();
  co_await server;
  st->close();
}

constexpr std::size_t kBulkChunk = 64 * 1024;
constexpr std::size_t kBulkPerIteration = 1 << 20;

// Reads a MiB at a time and acknowledges each with one byte, until close_notify.
corio::Coro<void> bulk_sink(corio::Transport& t) {
  std::vector<char> buf(kBulkChunk);
  std::size_t got = 0;
  for (;;) {
    const std::size_t n = co_await t.read_some(buf);
    if (n == 0) break;
    got += n;
    if (got >= kBulkPerIteration) {
      got -= kBulkPerIteration;
      co_await send_all(t, "k", 1);
    }
  }
  co_await t.close_gracefully();
}

corio::Coro<void> tls_bulk(benchmark::State& state) {
  auto [ct, st] = co_await tls_pair();
  corio::Task<void> sink = corio::create_task(bulk_sink(*st));
  const std::string chunk(kBulkChunk, 'x');
  char ack = 0;
  for (auto _ : state) {
    for (std::size_t sent = 0; sent < kBulkPerIteration; sent += kBulkChunk)
      co_await send_all(*ct, chunk.data(), chunk.size());
    const std::size_t n = co_await ct->read_some({&ack, 1});
    if (n != 1) throw std::runtime_error("the TLS sink closed early");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(kBulkPerIteration));
  co_await ct->close_gracefully();
  co_await sink;
  st->close();
}

void BM_TlsBulk(benchmark::State& state, const std::string& backend) {
  if (cert_dir().empty()) {
    state.SkipWithError("the openssl command could not make a certificate");
    return;
  }
  corio::run(tls_bulk(state), corio::RunOptions{.backend = backend});
}

void BM_TlsPingPong(benchmark::State& state, const std::string& backend) {
  if (cert_dir().empty()) {
    state.SkipWithError("the openssl command could not make a certificate");
    return;
  }
  Probe probe;
  corio::run(tls_ping_pong(state, probe), corio::RunOptions{.backend = backend});
  state.counters["allocs_per_rt"] = per(static_cast<double>(probe.allocs.news), kProbeTrips);
  report_syscalls(state, "syscalls_per_rt", probe.syscalls, kProbeTrips);
}

}  // namespace

void register_tls_benchmarks(const std::vector<std::string>& backends) {
  if (!corio::tls_available()) return;
  for (const std::string& b : backends)
    benchmark::RegisterBenchmark(("TlsPingPong/" + b).c_str(), BM_TlsPingPong, b);
  for (const std::string& b : backends)
    benchmark::RegisterBenchmark(("TlsBulk/" + b).c_str(), BM_TlsBulk, b);
}

}  // namespace bench
