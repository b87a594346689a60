// The provided-buffer ring: registration, and copying out of a handle's held buffers.
#include "backends/io_uring_buffers.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace corio::uring {

BufferRing::~BufferRing() {
  if (ring_ != nullptr) ::munmap(ring_, ring_bytes());
}

bool BufferRing::open(io_uring& ring) noexcept {
  void* mem =
      ::mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return false;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = kCount;
  reg.bgid = kGroup;
  if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
    ::munmap(mem, ring_bytes());
    return false;
  }
  ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(ring_);
  memory_ = std::make_unique_for_overwrite<std::byte[]>(std::size_t{kCount} * kSize);
  for (unsigned b = 0; b < kCount; ++b) {
    io_uring_buf_ring_add(ring_, buffer(b), kSize, static_cast<unsigned short>(b),
                          io_uring_buf_ring_mask(kCount), static_cast<int>(b));
  }
  io_uring_buf_ring_advance(ring_, static_cast<int>(kCount));
  return true;
}

std::size_t BufferRing::copy_out(HeldBuffers& held, std::byte* out, std::size_t want,
                                 bool consume) noexcept {
  std::size_t n = 0;
  std::uint16_t b = held.head;
  std::uint32_t off = held.head_offset;
  while (n < want && b != kNoBuf) {
    const std::size_t take = std::min<std::size_t>(want - n, len_[b] - off);
    std::memcpy(out + n, buffer(b) + off, take);
    n += take;
    off += static_cast<std::uint32_t>(take);
    if (off == len_[b]) {
      const std::uint16_t next = next_[b];
      if (consume) {
        recycle(b);
        --held.count;
      }
      b = next;
      off = 0;
    }
  }
  if (consume) {
    held.head = b;
    held.head_offset = off;
    if (b == kNoBuf) held.tail = kNoBuf;
  }
  return n;
}

void BufferRing::drop(HeldBuffers& held) noexcept {
  for (std::uint16_t b = held.head; b != kNoBuf;) {
    const std::uint16_t next = next_[b];
    recycle(b);
    b = next;
  }
  held = HeldBuffers{};
}

}  // namespace corio::uring
