// A read on a transport's handle that the transport can stop from outside
// (Transport::cancel_read()) while it is suspended. Private to coro/: the handle
// transports read with it, and so does the TLS transport over a socket's handles.
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>
#include <system_error>

#include "corio/coro/io.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/transport.hpp"
#include "coro/io_name.hpp"

namespace corio::detail {

class StoppableRead : public IoAwaiter {
 public:
  /// Reads into `buf` from `io`'s read handle; `slot` points at it while it is suspended.
  StoppableRead(const Transport::Handles& io, std::span<char> buf, StoppableRead*& slot) noexcept
      : IoAwaiter(io.read, io.in, buf.data(), buf.size(), 0, nullptr, io_name(io.read)),
        slot_(slot) {}
  StoppableRead(const StoppableRead&) = delete;
  StoppableRead& operator=(const StoppableRead&) = delete;
  ~StoppableRead() {
    if (slot_ == this) slot_ = nullptr;
  }

  template <CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    slot_ = this;
    return IoAwaiter::await_suspend(caller);
  }
  /// The byte count or -errno (ECANCELED once stop() ended it), not an exception: a
  /// caller that has a way to report the error without one uses it. CancelledError if
  /// the task was cancelled meanwhile.
  std::intptr_t await_resume() const {
    slot_ = nullptr;
    throw_if_cancelled();
    return result;
  }
  void stop() noexcept {
    if (EventLoop* loop = EventLoop::current()) loop->reactor().cancel(*this);
  }

 private:
  StoppableRead*& slot_;
};

/// What a failed read of `io` (`r` = -errno) throws: what IoAwaiter would have.
[[noreturn]] inline void throw_read_error(const Transport::Handles& io, std::intptr_t r) {
  throw std::system_error(static_cast<int>(-r), std::generic_category(), io_name(io.read));
}

}  // namespace corio::detail
