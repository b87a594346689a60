// corio-bench: backend latency and throughput, one row per backend.
//   corio-bench timer --backend all --duration 2
//   corio-bench echo --backend io_uring --conns 50 --size 64 --json
// Subcommands: timer (wake-up lateness of sleeps), wake (cross-thread wake-up), yield
// (loop turn cost), echo (TCP ping-pong), accept (connection rate), http (keep-alive
// requests against http_hello).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "bench.hpp"
#include "corio/corio.hpp"

namespace corio_bench {
namespace {

constexpr const char* kUsage =
    "usage: corio-bench COMMAND [options]\n"
    "commands:\n"
    "  timer   sleep wake-up lateness (--conns timers, --interval-us period)\n"
    "  wake    call_soon_threadsafe from another thread to the blocked loop\n"
    "  yield   cost of a loop turn (--conns tasks yielding)\n"
    "  echo    TCP ping-pong (--conns, --size); in process, or --host/--port\n"
    "  accept  connection rate (--conns concurrent connectors)\n"
    "  http    keep-alive GETs against http_hello (spawned, or --host/--port)\n"
    "options:\n"
    "  --backend NAME|all   default $CORIO_BACKEND, else auto; all = every one that opens;\n"
    "                       a comma list (io_uring,epoll) runs those in turn\n"
    "  --duration S         measured seconds per backend (default 2)\n"
    "  --warmup S           unmeasured seconds first (default 0.2)\n"
    "  --conns N            concurrency (default 1)\n"
    "  --size B             message bytes for echo (default 64)\n"
    "  --interval-us N      timer period (default 1000)\n"
    "  --host H --port N    use an external server (echo, http)\n"
    "  --json               machine-readable output on stdout\n"
    "  --plot FILE.png      draw latency percentiles per backend (needs gnuplot)\n"
    "  --no-syscalls        skip the syscall-counting probe\n";

int usage_error(const std::string& why) {
  std::fprintf(stderr, "corio-bench: %s\n%s", why.c_str(), kUsage);
  return 2;
}

std::vector<std::string> resolve_backends(const std::string& requested) {
  if (requested == "all") return corio::available_backends();
  if (auto comma = requested.find(','); comma != std::string::npos) {
    std::vector<std::string> list = resolve_backends(requested.substr(0, comma));
    for (std::string& more : resolve_backends(requested.substr(comma + 1)))
      list.push_back(std::move(more));
    return list;
  }
  std::string name = requested;
  if (name.empty()) {
    const char* env = std::getenv("CORIO_BACKEND");
    name = env != nullptr && *env != '\0' ? env : "auto";
  }
  if (name == "auto") {
    // Whatever the loop picks: open one to ask.
    std::error_code ec;
    std::string message;
    auto r = corio::Reactor::open(corio::ReactorOptions{.backend = "auto"}, ec, message);
    if (!r) throw corio::BackendError(ec, message);
    return {std::string(r->backend_name())};
  }
  return {name};
}

}  // namespace
}  // namespace corio_bench

int main(int argc, char** argv) {
  using namespace corio_bench;
  Config c;
  std::string backend;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return usage_error("no command");
  if (args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  c.command = std::string(args[0]);
  const std::vector<std::string_view> commands = {"timer", "wake",   "yield",
                                                  "echo",  "accept", "http"};
  if (std::find(commands.begin(), commands.end(), c.command) == commands.end()) {
    return usage_error("unknown command '" + c.command + "'");
  }
  try {
    for (std::size_t i = 1; i < args.size(); ++i) {
      const std::string_view a = args[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(std::string(a) + " needs a value");
        return std::string(args[++i]);
      };
      if (a == "--backend") {
        backend = value();
      } else if (a == "--duration") {
        c.duration = std::stod(value());
      } else if (a == "--warmup") {
        c.warmup = std::stod(value());
      } else if (a == "--conns") {
        c.conns = std::stoi(value());
      } else if (a == "--size") {
        c.size = std::stoul(value());
      } else if (a == "--interval-us") {
        c.interval_us = std::stoi(value());
      } else if (a == "--host") {
        c.host = value();
      } else if (a == "--port") {
        c.port = std::stoi(value());
      } else if (a == "--json") {
        c.json = true;
      } else if (a == "--plot") {
        c.plot = value();
      } else if (a == "--no-syscalls") {
        c.count_syscalls = false;
      } else if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else {
        return usage_error("unknown option '" + std::string(a) + "'");
      }
    }
    if (c.duration <= 0 || c.conns < 1 || c.size < 1 || c.interval_us < 1 || c.warmup < 0) {
      return usage_error("--duration, --conns, --size and --interval-us must be positive");
    }
  } catch (const std::exception& e) {
    return usage_error(e.what());
  }

  try {
    c.backends = resolve_backends(backend);
    std::vector<Result> results;
    for (const std::string& b : c.backends) {
      Result r;
      if (c.command == "timer") r = run_timer(c, b);
      if (c.command == "wake") r = run_wake(c, b);
      if (c.command == "yield") r = run_yield(c, b);
      if (c.command == "echo") r = run_echo(c, b);
      if (c.command == "accept") r = run_accept(c, b);
      if (c.command == "http") r = run_http(c, b);
      r.backend = b;
      results.push_back(std::move(r));
    }
    if (c.json) {
      print_json(c, results);
    } else {
      print_table(c, results);
    }
    if (!c.plot.empty() && !draw_plot(c, results)) return 1;
    for (const Result& r : results) {
      if (r.errors > 0) return 1;
    }
    return 0;
  } catch (const corio::BackendError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corio-bench: %s\n", e.what());
    return 1;
  }
}
