// corio-bench http: keep-alive GETs against http_hello, spawned as a child process on
// the backend under test (or an external server with --host/--port).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

extern char** environ;

namespace corio_bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string http_hello_path() {
  if (const char* env = std::getenv("CORIO_HTTP_HELLO")) return env;
#ifdef CORIO_HTTP_HELLO_PATH
  return CORIO_HTTP_HELLO_PATH;
#else
  throw std::runtime_error("http: set CORIO_HTTP_HELLO to the http_hello binary or pass --port");
#endif
}

// http_hello as a child: started on `backend` with a free port, stopped with SIGTERM.
class Child {
 public:
  explicit Child(const std::string& backend) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("http: pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    const std::string path = http_hello_path();
    std::vector<std::string> args = {path, "--backend", backend, "--port", "0"};
    std::vector<char*> argv;
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, path.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      throw std::runtime_error("http: cannot start " + path);
    }
    // Read its stdout until it says where it listens.
    std::FILE* f = ::fdopen(out[0], "r");
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      std::string s(line);
      if (auto at = s.find("listening on "); at != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(s.substr(s.rfind(':') + 1)));
        break;
      }
    }
    out_ = f;
    if (port_ == 0) {
      stop();
      throw std::runtime_error("http: http_hello did not start on " + backend);
    }
  }
  ~Child() { stop(); }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// CPU seconds of the child so far (utime + stime from /proc).
  [[nodiscard]] double cpu_seconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(all.substr(all.rfind(')') + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i)
      fields >> skip;
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  /// Sends SIGTERM and waits; returns the exit status (0 = clean).
  int stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (out_ != nullptr) std::fclose(out_);
    out_ = nullptr;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::FILE* out_ = nullptr;
};

corio::Coro<void> http_client(corio::Address to, const Window& w, Result& r, Progress& p) {
  corio::Socket s = co_await corio::connect(to);
  s.set_option(corio::SocketOption::no_delay, 1);
  const std::string request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::string in;
  char buf[4096];
  for (;;) {
    const auto t0 = Clock::now();
    if (t0 >= w.end) break;
    co_await s.send_all(request);
    // One response: headers, then Content-Length bytes of body.
    std::size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      const std::size_t n = co_await s.recv(buf, sizeof buf);
      if (n == 0) throw std::runtime_error("http: the server closed the connection");
      in.append(buf, n);
    }
    const std::size_t cl = in.find("Content-Length: ");
    const std::size_t length =
        cl != std::string::npos && cl < head_end ? std::stoul(in.substr(cl + 16)) : 0;
    while (in.size() < head_end + 4 + length) {
      const std::size_t n = co_await s.recv(buf, sizeof buf);
      if (n == 0) throw std::runtime_error("http: the server closed the connection");
      in.append(buf, n);
    }
    if (in.compare(0, 12, "HTTP/1.1 200") != 0 ||
        in.compare(head_end + 4, length, "Hello, world!") != 0) {
      ++r.errors;
    }
    in.erase(0, head_end + 4 + length);
    w.sample(r, t0, ns_between(t0, Clock::now()));
    p.update(r.ops);
  }
}

}  // namespace

Result run_http(const Config& c, const std::string& backend) {
  Result r;
  Progress p(c, backend);
  std::unique_ptr<Child> child;
  corio::Address to;
  if (c.port != 0) {
    to = corio::Address::ip(c.host, static_cast<std::uint16_t>(c.port));
    r.cpu_scope = "client process (external server)";
  } else {
    child = std::make_unique<Child>(backend);
    to = corio::Address::loopback(corio::AddressFamily::ipv4, child->port());
    r.cpu_scope = "http_hello process";
  }
  auto cpu = [](const void* child) {
    return child != nullptr ? static_cast<const Child*>(child)->cpu_seconds()
                            : process_cpu_seconds();
  };
  // The client's own loop runs on auto: the backend under test is the server's.
  run_clients(c, "auto", r, p, cpu, child.get(),
              [&](int, const Window& w) { return http_client(to, w, r, p); });
  if (child && child->stop() != 0) ++r.errors;  // it must stop cleanly on SIGTERM
  return r;
}

}  // namespace corio_bench
