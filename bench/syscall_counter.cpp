#include "syscall_counter.hpp"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <initializer_list>

namespace bench {
namespace {

// The tracepoint's numeric id, which perf_event_open takes as `config`.
long tracepoint_id() noexcept {
  for (const char* path : {"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                           "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"}) {
    if (std::FILE* f = std::fopen(path, "r")) {
      long id = -1;
      const int got = std::fscanf(f, "%ld", &id);
      std::fclose(f);
      if (got == 1) return id;
    }
  }
  return -1;
}

}  // namespace

SyscallCounter::SyscallCounter() noexcept {
  const long id = tracepoint_id();
  if (id < 0) return;
  perf_event_attr attr{};
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof attr;
  attr.config = static_cast<unsigned long long>(id);
  attr.disabled = 0;
  // pid 0, cpu -1: this thread on any CPU; no inherit, so only the loop's thread counts.
  fd_ = static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

SyscallCounter::~SyscallCounter() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t SyscallCounter::read() const noexcept {
  if (fd_ < 0) return 0;
  std::uint64_t count = 0;
  if (::read(fd_, &count, sizeof count) != static_cast<ssize_t>(sizeof count)) return 0;
  return count;
}

}  // namespace bench
