// Awaitable operations on native handles (sockets, and any byte stream for read and
// write): the reactor's operations as coroutine calls. Higher-level sockets and streams are built
// on these.
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <system_error>

#include "corio/backends/operation.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/promise.hpp"

namespace corio {

/// One I/O operation awaited by a task. The Operation lives in the coroutine frame, so
/// awaiting costs no allocation. Finishing at once (a readiness backend's first try)
/// does not suspend, within the loop's cooperative budget.
class [[nodiscard]] IoAwaiter : protected detail::WaitPoint, protected Operation {
 public:
  /// With `failure`, a failed operation's error (an errno value, so the generic
  /// category) is stored there and the result is 0, instead of being thrown; it is
  /// cleared on success. CancelledError throws either way.
  IoAwaiter(OpCode op, native_handle h, void* buf, std::size_t len, int msg_flags,
            SocketAddress* addr, const char* what, std::error_code* failure = nullptr) noexcept
      : WaitPoint(&on_cancel), what_(what), failure_(failure) {
    code = op;
    handle = h;
    buffer = buf;
    length = len;
    flags = msg_flags;
    address = addr;
    on_complete = &completed;
  }

  bool await_ready() const noexcept { return false; }

  template <detail::CorioPromise P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    if (!begin(caller.promise())) return false;
    caller_ = caller;
    EventLoop& loop = *EventLoop::current();
    if (!loop.reactor().submit(*this)) return true;  // one completion will follow
    end();
    if (loop.consume_budget()) return false;
    loop.schedule(caller);  // done, but this step has run long enough: yield first
    return true;
  }

  /// The byte count or new handle; throws std::system_error (an errno value, so the
  /// generic category) on failure and CancelledError when the task was cancelled
  /// during the operation.
  std::size_t await_resume() const {
    throw_if_cancelled();
    if (failure_ != nullptr) {
      if (result >= 0) {
        failure_->clear();
        return static_cast<std::size_t>(result);
      }
      failure_->assign(static_cast<int>(-result), std::generic_category());
      return 0;
    }
    if (result < 0)
      throw std::system_error(static_cast<int>(-result), std::generic_category(), what_);
    return static_cast<std::size_t>(result);
  }

 private:
  static void completed(Operation& op) noexcept {
    auto& self = static_cast<IoAwaiter&>(op);
    self.end();
    if (self.cancel_requested()) {
      if (self.result == -ECANCELED) {
        self.mark_cancelled();
      } else {
        self.defer_cancel();  // it finished first: keep the result, cancel at next await
      }
    }
    EventLoop::current()->schedule(self.caller_);
  }
  static void on_cancel(detail::WaitPoint& wp) noexcept {
    auto& self = static_cast<IoAwaiter&>(wp);
    EventLoop::current()->reactor().cancel(self);
  }

  const char* what_;
  std::error_code* failure_;
  std::coroutine_handle<> caller_{};
};

namespace io {

/// Receives up to `len` bytes; 0 means the peer closed its side.
inline IoAwaiter recv(native_handle h, void* buf, std::size_t len, int flags = 0) noexcept {
  return IoAwaiter(OpCode::recv, h, buf, len, flags, nullptr, "recv");
}
/// Sends up to `len` bytes; returns how many were sent (may be fewer).
inline IoAwaiter send(native_handle h, const void* buf, std::size_t len, int flags = 0) noexcept {
  return IoAwaiter(OpCode::send, h, const_cast<void*>(buf), len, flags, nullptr, "send");
}
/// Accepts a connection on a listening socket; returns the new (non-blocking) handle.
inline IoAwaiter accept(native_handle h, SocketAddress* peer = nullptr) noexcept {
  return IoAwaiter(OpCode::accept, h, nullptr, 0, 0, peer, "accept");
}
/// Connects a non-blocking socket to `addr`.
inline IoAwaiter connect(native_handle h, SocketAddress& addr) noexcept {
  return IoAwaiter(OpCode::connect, h, nullptr, 0, 0, &addr, "connect");
}
/// Receives one datagram; `from` receives the sender's address.
inline IoAwaiter recvfrom(native_handle h, void* buf, std::size_t len, SocketAddress& from,
                          int flags = 0) noexcept {
  return IoAwaiter(OpCode::recvfrom, h, buf, len, flags, &from, "recvfrom");
}
/// Sends one datagram to `to`.
inline IoAwaiter sendto(native_handle h, const void* buf, std::size_t len, SocketAddress& to,
                        int flags = 0) noexcept {
  return IoAwaiter(OpCode::sendto, h, const_cast<void*>(buf), len, flags, &to, "sendto");
}
/// Waits until `h` is readable.
inline IoAwaiter wait_readable(native_handle h) noexcept {
  return IoAwaiter(OpCode::readable, h, nullptr, 0, 0, nullptr, "wait_readable");
}
/// Waits until `h` is writable.
inline IoAwaiter wait_writable(native_handle h) noexcept {
  return IoAwaiter(OpCode::writable, h, nullptr, 0, 0, nullptr, "wait_writable");
}
/// Reads up to `len` bytes from any byte stream (a pipe end, a TTY, ...); 0 means the
/// writer closed its end. On a socket use recv: see OpCode::read.
inline IoAwaiter read(native_handle h, void* buf, std::size_t len) noexcept {
  return IoAwaiter(OpCode::read, h, buf, len, 0, nullptr, "read");
}
/// Writes up to `len` bytes to any byte stream; returns how many went (may be fewer).
/// A pipe nobody reads fails with EPIPE (std::system_error), never with SIGPIPE.
inline IoAwaiter write(native_handle h, const void* buf, std::size_t len) noexcept {
  return IoAwaiter(OpCode::write, h, const_cast<void*>(buf), len, 0, nullptr, "write");
}
/// Scatter read into `count` slices, which stay alive until the await ends; returns the
/// byte count (0 = end of stream).
inline IoAwaiter readv(native_handle h, const IoSlice* slices, std::size_t count) noexcept {
  return IoAwaiter(OpCode::readv, h, const_cast<IoSlice*>(slices), count, 0, nullptr, "readv");
}
/// Gather write of `count` slices; returns the byte count, which may stop short of the
/// whole (a backend with no native vectored form moves one slice a call).
inline IoAwaiter writev(native_handle h, const IoSlice* slices, std::size_t count) noexcept {
  return IoAwaiter(OpCode::writev, h, const_cast<IoSlice*>(slices), count, 0, nullptr, "writev");
}
/// Tells the running loop's backend to forget `h`; call before closing it.
inline void release(native_handle h) {
  EventLoop::running().reactor().release(h);
}

}  // namespace io
}  // namespace corio
