// Where coroutine frames come from: a small per-thread cache in front of the heap.
#pragma once

#include <cstddef>

namespace corio::detail {

/// Memory for a coroutine frame of `size` bytes: a recently freed frame of the same
/// size class on this thread if there is one, else the heap. Throws std::bad_alloc.
void* frame_alloc(std::size_t size);
/// Returns a frame from frame_alloc (on any thread) with the size it was asked for.
void frame_free(void* p, std::size_t size) noexcept;

}  // namespace corio::detail
