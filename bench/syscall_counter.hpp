// Counts the system calls this thread makes, in process, through the kernel's
// raw_syscalls:sys_enter tracepoint (perf_event_open, counting mode: no sampling, no
// ring buffer). design.md judges corio by syscalls per request, so the I/O benchmarks
// report them next to the time. Needs tracefs and permission (root, or
// perf_event_paranoid <= -1); without them `available()` is false and the benchmarks
// leave the counter out. The same numbers, from outside:
//   strace -c -f ./corio_micro --benchmark_filter='PingPong/epoll'
//   perf stat -e raw_syscalls:sys_enter ./corio_micro --benchmark_filter='PingPong/epoll'
// (those include the timed loop and setup; divide by the iteration count shown).
#pragma once

#include <cstdint>

namespace bench {

class SyscallCounter {
 public:
  SyscallCounter() noexcept;
  ~SyscallCounter();
  SyscallCounter(const SyscallCounter&) = delete;
  SyscallCounter& operator=(const SyscallCounter&) = delete;

  [[nodiscard]] bool available() const noexcept { return fd_ >= 0; }
  /// A mark to measure from (0 if unavailable).
  [[nodiscard]] std::uint64_t start() const noexcept { return read(); }
  /// Syscalls made since `mark`, not counting the reads of the counter itself.
  [[nodiscard]] std::uint64_t since(std::uint64_t mark) const noexcept {
    // The tracepoint fires on entry, so each value includes the read() that fetched it:
    // the difference counts the second read once too much.
    return available() ? read() - mark - 1 : 0;
  }

 private:
  [[nodiscard]] std::uint64_t read() const noexcept;

  int fd_ = -1;
};

}  // namespace bench
