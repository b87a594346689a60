// io_uring's provided-buffer ring (5.19+) and the chains of received buffers that each
// handle holds until the program reads them. Multishot recv takes a buffer per message
// from the ring; the backend links it behind the handle's earlier ones (read-ahead) and
// gives it back to the ring once a recv has copied everything out of it.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace corio::uring {

/// Buffer ids are 16-bit (io_uring_buf::bid); this one names none.
constexpr std::uint16_t kNoBuf = 0xffff;

/// One handle's received buffers, oldest first, linked through the ring's `next` table.
struct HeldBuffers {
  std::uint16_t head = kNoBuf;
  std::uint16_t tail = kNoBuf;
  std::uint32_t head_offset = 0;  // bytes of `head` already consumed
  unsigned count = 0;             // buffers in the chain

  [[nodiscard]] bool empty() const noexcept { return head == kNoBuf; }
};

/// The ring of 256 buffers of 4 KiB (1 MiB per loop). A message larger than a buffer
/// arrives in several; a recv gathers across them.
class BufferRing {
 public:
  static constexpr unsigned kCount = 256;
  static constexpr unsigned kSize = 4096;
  static constexpr int kGroup = 0;  // the buffer group multishot recv selects from

  BufferRing() = default;
  /// Unmaps the ring: the io_uring it was registered with must be gone already.
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  /// Registers the ring with `ring` and fills it; false when the kernel cannot (before
  /// 5.19, or memory limits), and then receives stay single-shot.
  bool open(io_uring& ring) noexcept;

  /// Appends buffer `b`, just filled with `len` bytes, to `held`.
  void hold(HeldBuffers& held, std::uint16_t b, std::uint32_t len) noexcept {
    len_[b] = len;
    next_[b] = kNoBuf;
    (held.tail != kNoBuf ? next_[held.tail] : held.head) = b;
    held.tail = b;
    ++held.count;
  }

  /// Copies up to `want` bytes from `held` to `out`; with `consume`, removes them and
  /// gives emptied buffers back to the ring. Returns the bytes copied.
  std::size_t copy_out(HeldBuffers& held, std::byte* out, std::size_t want, bool consume) noexcept;

  /// Gives every buffer of `held` back to the ring, unread.
  void drop(HeldBuffers& held) noexcept;

  /// Gives buffer `b` back to the kernel.
  void recycle(std::uint16_t b) noexcept {
    io_uring_buf_ring_add(ring_, buffer(b), kSize, b, io_uring_buf_ring_mask(kCount), 0);
    io_uring_buf_ring_advance(ring_, 1);
  }

 private:
  static std::size_t ring_bytes() noexcept { return kCount * sizeof(io_uring_buf); }
  std::byte* buffer(unsigned b) const noexcept { return memory_.get() + std::size_t{b} * kSize; }

  io_uring_buf_ring* ring_ = nullptr;
  std::unique_ptr<std::byte[]> memory_;
  std::uint32_t len_[kCount]{};   // bytes received into each buffer
  std::uint16_t next_[kCount]{};  // the next buffer of the same handle
};

}  // namespace corio::uring
