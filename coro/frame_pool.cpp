// Coroutine frames recycled per thread. A program that calls a coroutine per message
// (send_all, a parsing helper, a handler) would otherwise pay a malloc and a free per
// call; here a freed frame waits on its size class's list for the next call of a
// similar size. Each list is capped, so a burst of frames goes back to the heap.
#include "corio/coro/frame_pool.hpp"

#include <cstddef>
#include <cstdint>
#include <new>

namespace corio::detail {
namespace {

constexpr std::size_t kGranule = 64;       // size classes step by a cache line
constexpr std::size_t kClasses = 16;       // pooled up to 1 KiB; larger frames go to the heap
constexpr std::uint32_t kMaxCached = 128;  // per class and thread
// A class asks the heap for its step less this much, so that with the heap's own header
// the block fills the step exactly: glibc (and every ptmalloc) keeps an 8-byte size
// word before each block and rounds blocks to 16 bytes, so asking for 192 costs 208 and
// asking for 184 costs 192. A million sleeping tasks (176-byte frames under g++ -O2)
// cost 208 B each with the round classes and 192 B with these (corio_micro Sleepers).
constexpr std::size_t kHeapHeader = 8;

// ASan must see every frame freed, or a use after free of a frame would go unnoticed.
// CORIO_NO_FRAME_POOL (set by the build where thread_local destructors are unsafe, see
// CMakeLists.txt) sends every frame to the heap too.
#if defined(CORIO_NO_FRAME_POOL)
constexpr bool kPool = false;
#elif defined(__SANITIZE_ADDRESS__)
constexpr bool kPool = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPool = false;
#else
constexpr bool kPool = true;
#endif
#else
constexpr bool kPool = true;
#endif

struct FreeFrame {
  FreeFrame* next;
};

struct Cache {
  FreeFrame* head[kClasses]{};
  std::uint32_t count[kClasses]{};
  Cache() noexcept;
  ~Cache();
};

// Trivially destructible, so it stays readable after ~Cache has run at thread exit: a
// frame freed later (a thread_local of the program's holding a Task) goes to the heap.
constinit thread_local bool t_cache_alive = false;
thread_local Cache t_cache;

Cache::Cache() noexcept {
  t_cache_alive = true;
}

Cache::~Cache() {
  t_cache_alive = false;
  for (std::size_t c = 0; c < kClasses; ++c) {
    while (FreeFrame* f = head[c]) {
      head[c] = f->next;
      ::operator delete(f);
    }
  }
}

// Class c holds frames of up to (c + 1) * kGranule - kHeapHeader bytes.
constexpr std::size_t class_of(std::size_t size) noexcept {
  return (size + kHeapHeader - 1) / kGranule;
}

constexpr std::size_t class_size(std::size_t c) noexcept {
  return (c + 1) * kGranule - kHeapHeader;
}
static_assert(class_of(class_size(2)) == 2 && class_of(class_size(2) + 1) == 3);
static_assert(class_of(1) == 0 && class_size(0) >= sizeof(void*));

}  // namespace

void* frame_alloc(std::size_t size) {
  const std::size_t c = class_of(size);
  if (!kPool || c >= kClasses) return ::operator new(size);
  Cache& cache = t_cache;
  if (FreeFrame* f = cache.head[c]) {
    cache.head[c] = f->next;
    --cache.count[c];
    return f;
  }
  return ::operator new(class_size(c));  // the class's size, so any of it can reuse
}

void frame_free(void* p, std::size_t size) noexcept {
  const std::size_t c = class_of(size);
  if (!kPool || c >= kClasses) {
    ::operator delete(p);
    return;
  }
  if (t_cache_alive) {
    Cache& cache = t_cache;
    if (cache.count[c] < kMaxCached) {
      auto* f = static_cast<FreeFrame*>(p);
      f->next = cache.head[c];
      cache.head[c] = f;
      ++cache.count[c];
      return;
    }
  }
  ::operator delete(p);
}

}  // namespace corio::detail
