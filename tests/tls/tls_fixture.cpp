#include "tls/tls_fixture.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace corio::testing {
namespace {

using namespace std::chrono_literals;

std::string certs;  // the directory make_certs.sh filled

// The contexts the options point at, alive for the whole test.
std::vector<std::unique_ptr<TlsContext>> kept;

}  // namespace

void TlsSuite::SetUpTestSuite() {
  certs =
      (std::filesystem::temp_directory_path() / ("corio-tls-test-" + std::to_string(::getpid())))
          .string();
  const std::string cmd = std::string("bash ") + CORIO_TLS_CERT_SCRIPT + " " + certs;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

void TlsSuite::TearDownTestSuite() {
  std::filesystem::remove_all(certs);
}

std::string cert(const std::string& name) {
  return certs + "/" + name;
}

TlsContext server_context(const std::string& name) {
  return TlsContext::server(cert(name + ".pem"), cert(name + ".key"));
}

TlsContext client_context() {
  TlsContext c = TlsContext::client();
  c.load_verify_locations(cert("ca.pem"));
  return c;
}

StreamOptions tls_options(TlsContext ctx, std::string_view name) {
  kept.push_back(std::make_unique<TlsContext>(std::move(ctx)));
  StreamOptions o;
  o.tls = kept.back().get();
  o.server_hostname = name;
  return o;
}

Coro<void> echo_lines(StreamReader r, StreamWriter w) {
  for (;;) {
    std::string line = co_await r.readline();
    if (line.empty() || line == "quit\n") break;
    w.write(line);
    co_await w.drain();
  }
  w.close();
  co_await w.wait_closed();
}

Coro<void> echo_bytes(StreamReader r, StreamWriter w) {
  for (;;) {
    std::string data = co_await r.read(65536);
    if (data.empty()) break;
    w.write(data);
    co_await w.drain();
  }
  w.close();
}

Coro<Server> tls_echo_server(TlsContext ctx, StreamHandler handler) {
  ServerOptions so;
  so.tls = &ctx;  // read by start_server() only: the server keeps its own share
  so.tls_handshake_timeout = 2s;
  co_return co_await start_server(std::move(handler), "127.0.0.1", 0, so);
}

std::uint16_t free_port() {
  Socket probe = listen_on(Address::loopback(AddressFamily::ipv4, 0));
  return probe.local_address().port();
}

Coro<std::optional<std::pair<StreamReader, StreamWriter>>> connect_when_listening(
    std::string host, std::uint16_t port, StreamOptions options) {
  for (int i = 0; i < 400; ++i) {
    try {
      co_return co_await open_connection(host, port, options);
    } catch (const std::system_error& e) {
      if (e.code() != std::errc::connection_refused) throw;
    }
    co_await sleep(25ms);
  }
  co_return std::nullopt;
}

Child::Child(std::vector<std::string> args, const std::string& in, const std::string& out) {
  std::vector<char*> argv;
  for (std::string& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    if (!in.empty()) (void)std::freopen(in.c_str(), "r", stdin);
    (void)std::freopen(out.c_str(), "w", stdout);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

Coro<int> Child::wait() {
  const pid_t pid = pid_;
  const int status = co_await to_thread([pid] {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return st;
  });
  pid_ = -1;
  co_return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace corio::testing
