// Heap accounting for the benchmarks: this binary replaces the global operator new and
// delete (alloc_counter.cpp) so a benchmark can count the allocations a code path makes,
// and reads the allocator's and the kernel's view of memory for bytes-per-object numbers.
// The counters are per thread: the loop under test runs on the benchmark's thread, and
// Google Benchmark's own threads (if any) must not pollute them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bench {

/// What operator new/delete saw on this thread since it started.
struct AllocCounts {
  std::uint64_t news = 0;     ///< calls to any operator new
  std::uint64_t deletes = 0;  ///< calls to any operator delete with a non-null pointer
  std::uint64_t bytes = 0;    ///< bytes requested from operator new

  friend AllocCounts operator-(const AllocCounts& a, const AllocCounts& b) noexcept {
    return {a.news - b.news, a.deletes - b.deletes, a.bytes - b.bytes};
  }
};

[[nodiscard]] AllocCounts alloc_counts() noexcept;

/// While on, every operator new on this thread also records its requested size in a
/// histogram (a flag check otherwise, so timed loops pay almost nothing).
void record_sizes(bool on) noexcept;
/// Clears the histogram.
void clear_sizes() noexcept;
/// The `max` most frequent requested sizes since clear_sizes(), as (size, count) pairs,
/// most frequent first; returns how many were written. Sizes above 64 KiB share one slot
/// reported as size 0.
std::size_t top_sizes(std::size_t (*out)[2], std::size_t max) noexcept;

/// Bytes the allocator has handed out and not got back (glibc mallinfo2: arena chunks in
/// use plus mmapped blocks), including its per-chunk overhead, which the requested sizes
/// do not show.
[[nodiscard]] std::size_t malloc_in_use() noexcept;
/// Resident set size of the process in bytes (/proc/self/statm).
[[nodiscard]] std::size_t rss_bytes() noexcept;
/// Gives freed heap memory back to the kernel so the next RSS delta starts clean.
void trim_heap() noexcept;

}  // namespace bench
