// Replacement global operator new/delete that count calls per thread. Replacing them in
// the executable is the portable hook ([replacement.functions]); every allocation in the
// process, the library's included, goes through here.
#include "alloc_counter.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace bench {
namespace {

constexpr std::size_t kMaxTracked = 64 * 1024;

// Plain thread_locals, not atomics: an atomic increment would add a locked instruction
// to every allocation and distort the very benchmarks that count them.
thread_local AllocCounts t_counts;
thread_local bool t_record = false;
// Static (not thread_local) because it is large; only the benchmark thread records.
std::array<std::uint32_t, kMaxTracked + 1> g_sizes{};

void* counted_alloc(std::size_t size, std::size_t align) noexcept {
  ++t_counts.news;
  t_counts.bytes += size;
  if (t_record) ++g_sizes[size <= kMaxTracked ? size : 0];
  if (size == 0) size = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(size);
  // aligned_alloc wants a size that is a multiple of the alignment.
  return std::aligned_alloc(align, (size + align - 1) / align * align);
}

void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  ++t_counts.deletes;
  std::free(p);
}

void* throwing_alloc(std::size_t size, std::size_t align) {
  void* p = counted_alloc(size, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

AllocCounts alloc_counts() noexcept {
  return t_counts;
}

void record_sizes(bool on) noexcept {
  t_record = on;
}

void clear_sizes() noexcept {
  g_sizes.fill(0);
}

std::size_t top_sizes(std::size_t (*out)[2], std::size_t max) noexcept {
  std::size_t n = 0;
  for (std::size_t s = 0; s <= kMaxTracked; ++s) {
    if (g_sizes[s] == 0) continue;
    // Insertion into a short sorted list: max is a handful.
    std::size_t i = std::min(n, max);
    while (i > 0 && out[i - 1][1] < g_sizes[s]) {
      if (i < max) {
        out[i][0] = out[i - 1][0];
        out[i][1] = out[i - 1][1];
      }
      --i;
    }
    if (i < max) {
      out[i][0] = s;
      out[i][1] = g_sizes[s];
      if (n < max) ++n;
    }
  }
  return n;
}

std::size_t malloc_in_use() noexcept {
  const struct mallinfo2 mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

std::size_t rss_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0;
  unsigned long resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

void trim_heap() noexcept {
  ::malloc_trim(0);
}

}  // namespace bench

// The replaceable forms. The sized and aligned deletes forward to free(), which knows the
// size anyway.
void* operator new(std::size_t n) {
  return bench::throwing_alloc(n, 0);
}
void* operator new[](std::size_t n) {
  return bench::throwing_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return bench::throwing_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return bench::throwing_alloc(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return bench::counted_alloc(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return bench::counted_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return bench::counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return bench::counted_alloc(n, static_cast<std::size_t>(a));
}

void operator delete(void* p) noexcept {
  bench::counted_free(p);
}
void operator delete[](void* p) noexcept {
  bench::counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  bench::counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  bench::counted_free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  bench::counted_free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  bench::counted_free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  bench::counted_free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  bench::counted_free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  bench::counted_free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  bench::counted_free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  bench::counted_free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  bench::counted_free(p);
}
