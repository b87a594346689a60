// Runs an example server as a child process, the way a user would, and reads what it
// prints: the backend line, the port it listens on, the summary at the end.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "os/posix_fd.hpp"

namespace corio::testing {

/// A server binary started with its stdout on a pipe (stderr is the test's). Killed
/// and reaped when the object goes, if it is still running.
class ServerProcess {
 public:
  /// Starts `path` with `args`. A `max_files` above 0 becomes the child's
  /// RLIMIT_NOFILE (to make it run out of descriptors).
  ServerProcess(const std::string& path, const std::vector<std::string>& args,
                rlim_t max_files = 0) {
    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls until exec.
    std::vector<std::string> all{path};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (posix::open_blocking_pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      if (max_files > 0) {
        const rlimit limit{max_files, max_files};
        ::setrlimit(RLIMIT_NOFILE, &limit);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Everything read from its stdout so far.
  [[nodiscard]] const std::string& output() const noexcept { return output_; }

  /// Reads until a line starting with `prefix` has arrived; returns that line, or ""
  /// at end of output or after `guard` (a hang guard, not a performance bound).
  std::string wait_for_line(std::string_view prefix,
                            std::chrono::seconds guard = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    for (;;) {
      std::size_t start = 0;
      for (std::size_t end; (end = output_.find('\n', start)) != std::string::npos;
           start = end + 1) {
        std::string_view line(output_.data() + start, end - start);
        if (line.starts_with(prefix)) return std::string(line);
      }
      if (!read_some(deadline)) return "";
    }
  }

  /// The port from its `listening on HOST:PORT` line; 0 if it never printed one.
  std::uint16_t port() {
    const std::string line = wait_for_line("listening on ");
    const std::size_t colon = line.rfind(':');
    if (colon == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
  }

  void signal(int sig) const { ::kill(pid_, sig); }

  /// Waits for the process to end (SIGKILL after `guard`), reading the rest of its
  /// output. Returns its exit code, or -1 if a signal ended it.
  int wait(std::chrono::seconds guard = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + guard;
    while (read_some(deadline)) {
    }
    int status = 0;
    if (std::chrono::steady_clock::now() >= deadline) ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  /// Whether cpu_seconds() can work here: it reads /proc, which Linux has and macOS not.
  [[nodiscard]] static bool cpu_seconds_available() {
    return std::ifstream("/proc/self/stat").good();
  }

  /// CPU time (user + system) the process has used so far, in seconds.
  [[nodiscard]] double cpu_seconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces, so skip past its ')').
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
      if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

 private:
  // Appends what the pipe has; false at end of output or past the deadline.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    if (out_ < 0) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0) return errno == EINTR;
    if (r == 0) return false;
    char buf[4096];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return n < 0 && errno == EINTR;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool exited_ = false;
  std::string output_;
};

/// What a finished command printed on stdout, and how it ended.
struct CommandOutcome {
  int exit_code = -1;  ///< -1: it did not exit normally
  std::string output;
};

/// Runs `command` through the shell and collects its stdout.
inline CommandOutcome run_command(const std::string& command) {
  CommandOutcome out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe))
    out.output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

/// The lines of `text`.
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace corio::testing
