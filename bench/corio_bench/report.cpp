// Progress line, CPU accounting, and the three outputs: table, JSON, gnuplot PNG.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench.hpp"
#include "syscall_counter.hpp"

namespace corio_bench {
namespace {

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

double rate(const Result& r) {
  return r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0.0;
}

std::string unit_of(const Config& c) {
  if (c.command == "echo" || c.command == "http") return "req/s";
  if (c.command == "accept") return "conn/s";
  return "ops/s";
}

std::string optional_number(double v, const char* fmt);

// The allocs/op cell (with its leading space), or nothing when no result measured it.
std::string alloc_column(bool shown, const Result& r) {
  if (!shown) return "";
  char cell[32];
  std::snprintf(cell, sizeof cell, " %12s", optional_number(r.allocs_per_op, "%.4f").c_str());
  return cell;
}

std::string optional_number(double v, const char* fmt) {
  if (v < 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

Progress::Progress(const Config& c, const std::string& backend)
    : config_(c), backend_(backend), tty_(::isatty(STDERR_FILENO) != 0) {}

void Progress::update(std::uint64_t ops) {
  if (config_.quiet) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(1))) return;
  last_ = now;
  const double t = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "%s[%s] %s %.1f/%.1f s, %llu ops%s", tty_ ? "\r" : "", backend_.c_str(),
               config_.command.c_str(), t, config_.warmup + config_.duration,
               static_cast<unsigned long long>(ops), tty_ ? "   " : "\n");
}

void Progress::done() {
  if (tty_ && !config_.quiet) std::fputs("\r\033[K", stderr);
}

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double probe_syscalls(const Config& c, Result (*run)(const Config&, const std::string&),
                      const std::string& backend) {
  if (!c.count_syscalls) return -1;
  bench::SyscallCounter counter;
  if (!counter.available()) return -1;
  Config q = c;
  q.duration = 0.3;
  q.warmup = 0.05;
  q.count_syscalls = false;
  q.quiet = true;
  const std::uint64_t mark = counter.start();
  const Result r = run(q, backend);
  const std::uint64_t calls = counter.since(mark);
  // The probe's ops are counted after its warm-up but its calls from the start: scale.
  const double ops = static_cast<double>(r.ops) * (q.warmup + q.duration) / q.duration;
  return ops > 0 ? static_cast<double>(calls) / ops : -1;
}

void print_table(const Config& c, const std::vector<Result>& results) {
  std::printf("corio-bench %s: ", c.command.c_str());
  // timer, wake and yield run on one loop with no connection: a count would mislead.
  if (c.command == "echo" || c.command == "accept" || c.command == "http") {
    std::printf("%d conns, ", c.conns);
  }
  std::printf("%.1f s per backend", c.duration);
  if (c.command == "echo") std::printf(", %zu B messages", c.size);
  std::printf("\n");
  const bool allocs = std::any_of(results.begin(), results.end(),
                                  [](const Result& r) { return r.allocs_per_op >= 0; });
  std::printf("%-10s %12s %10s %10s %10s %10s %12s %12s%s\n", "backend", unit_of(c).c_str(),
              "p50 us", "p99 us", "p99.9 us", "max us", "CPU us/op", "syscalls/op",
              allocs ? "    allocs/op" : "");
  for (const Result& r : results) {
    const bool lat = r.has_latency && r.latency.count() > 0;
    std::printf("%-10s %12.0f %10s %10s %10s %10s %12s %12s%s%s\n", r.backend.c_str(), rate(r),
                lat ? optional_number(us(r.latency.quantile(0.5)), "%.1f").c_str() : "-",
                lat ? optional_number(us(r.latency.quantile(0.99)), "%.1f").c_str() : "-",
                lat ? optional_number(us(r.latency.quantile(0.999)), "%.1f").c_str() : "-",
                lat ? optional_number(us(r.latency.max()), "%.1f").c_str() : "-",
                optional_number(r.cpu_us_per_op, "%.2f").c_str(),
                optional_number(r.syscalls_per_op, "%.2f").c_str(), alloc_column(allocs, r).c_str(),
                r.errors > 0 ? ("  ERRORS: " + std::to_string(r.errors)).c_str() : "");
  }
  if (!results.empty()) std::printf("CPU is the %s's.\n", results.front().cpu_scope.c_str());
}

void print_json(const Config& c, const std::vector<Result>& results) {
  std::printf("{\"command\":\"%s\",\"conns\":%d,\"size\":%zu,\"duration\":%.3f,\"results\":[",
              c.command.c_str(), c.conns, c.size, c.duration);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::printf("%s{\"backend\":\"%s\",\"ops\":%llu,\"seconds\":%.6f,\"ops_per_sec\":%.1f",
                i ? "," : "", r.backend.c_str(), static_cast<unsigned long long>(r.ops), r.seconds,
                rate(r));
    if (r.has_latency && r.latency.count() > 0) {
      std::printf(",\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.3f",
                  us(r.latency.quantile(0.5)), us(r.latency.quantile(0.99)),
                  us(r.latency.quantile(0.999)), us(r.latency.max()));
    }
    if (r.cpu_us_per_op >= 0) {
      std::printf(",\"cpu_us_per_op\":%.4f,\"cpu_scope\":\"%s\"", r.cpu_us_per_op,
                  r.cpu_scope.c_str());
    }
    if (r.syscalls_per_op >= 0) std::printf(",\"syscalls_per_op\":%.4f", r.syscalls_per_op);
    if (r.allocs_per_op >= 0) std::printf(",\"allocs_per_op\":%.6f", r.allocs_per_op);
    std::printf(",\"errors\":%llu}", static_cast<unsigned long long>(r.errors));
  }
  std::printf("]}\n");
}

bool draw_plot(const Config& c, const std::vector<Result>& results) {
  // gnuplot (Debian's gnuplot-nox) draws a PNG from a few lines of script: no plotting
  // library linked into the tool, nothing to build.
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "corio-bench: --plot needs gnuplot (apt-get install gnuplot-nox)\n");
    return false;
  }
  char data_path[] = "/tmp/corio-bench-XXXXXX";
  const int fd = ::mkstemp(data_path);
  if (fd < 0) return false;
  std::FILE* f = ::fdopen(fd, "w");
  std::fprintf(f, "backend p50 p99 p999 max\n");
  for (const Result& r : results) {
    std::fprintf(f, "%s %.3f %.3f %.3f %.3f\n", r.backend.c_str(), us(r.latency.quantile(0.5)),
                 us(r.latency.quantile(0.99)), us(r.latency.quantile(0.999)), us(r.latency.max()));
  }
  std::fclose(f);
  const std::string script =
      "set terminal pngcairo size 900,500 noenhanced; set output '" + c.plot +
      "'; set title 'corio-bench " + c.command + " latency (" + std::to_string(c.conns) +
      " conns)'; set ylabel 'microseconds'; set logscale y; set style data histogram;"
      " set style histogram clustered gap 1; set style fill solid 0.8 border -1;"
      " set key top left; set grid ytics;"
      " plot '" +
      std::string(data_path) +
      "' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9',"
      " '' using 5 title 'max'";
  const std::string cmd = "gnuplot -e \"" + script + "\" 2>&1";
  const int rc = std::system(cmd.c_str());
  std::remove(data_path);
  if (rc != 0) {
    // pngcairo is in gnuplot-nox on Debian; fall back to the plain png terminal.
    std::fprintf(stderr, "corio-bench: gnuplot failed (exit %d)\n", rc);
    return false;
  }
  return true;
}

}  // namespace corio_bench
