// The handle transports: a stream socket, and a pair of byte-stream handles (pipes).
#include "corio/coro/transport.hpp"

#include <cerrno>
#include <system_error>
#include <utility>

#include "corio/coro/io.hpp"
#include "corio/coro/loop.hpp"
#include "corio/os/net.hpp"
#include "corio/os/pipe.hpp"
#include "coro/io_name.hpp"
#include "coro/stoppable_read.hpp"

namespace corio {

Coro<void> Transport::flush() {
  co_return;  // nothing is buffered unless a transport says so
}

Coro<std::size_t> Transport::read_some(std::span<char> buf, std::error_code& ec) {
  ec.clear();
  try {
    co_return co_await read_some(buf);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  co_return 0;
}

Coro<void> Transport::close_gracefully() {
  close();
  co_return;
}

namespace {

// What a socket and a pipe share: their reads and writes are the reactor's operations
// on their handles, so read_some()/write_some() (used by filters stacked on them; the
// streams go to the reactor directly) need no per-transport code.
class HandleTransport : public Transport {
 public:
  [[nodiscard]] std::optional<Handles> handles() const noexcept override { return io_; }

  Coro<std::size_t> read_some(std::span<char> buf) override {
    detail::StoppableRead read(io_, buf, reading_);
    const std::intptr_t r = co_await read;
    if (r < 0) detail::throw_read_error(io_, r);
    co_return static_cast<std::size_t>(r);
  }

  Coro<std::size_t> read_some(std::span<char> buf, std::error_code& ec) override {
    detail::StoppableRead read(io_, buf, reading_);
    const std::intptr_t r = co_await read;
    if (r < 0) {
      ec.assign(static_cast<int>(-r), std::generic_category());
      co_return 0;
    }
    ec.clear();
    co_return static_cast<std::size_t>(r);
  }

  Coro<std::size_t> write_some(std::span<const char> data) override {
    co_return co_await IoAwaiter(io_.write, io_.out, const_cast<char*>(data.data()), data.size(), 0,
                                 nullptr, detail::io_name(io_.write));
  }

  void cancel_read() noexcept override {
    if (reading_ != nullptr) reading_->stop();
  }

 protected:
  explicit HandleTransport(Handles io) noexcept : io_(io) {}

  Handles io_;

 private:
  detail::StoppableRead* reading_ = nullptr;
};

class SocketTransport final : public HandleTransport {
 public:
  explicit SocketTransport(Socket sock) noexcept
      : HandleTransport({sock.handle(), OpCode::recv, sock.handle(), OpCode::send}),
        sock_(std::move(sock)) {}

  std::intptr_t try_write(std::span<const char> data) noexcept override {
    return net::try_send(sock_.handle(), data.data(), data.size());
  }
  [[nodiscard]] bool can_write_eof() const noexcept override { return true; }
  void write_eof() override { sock_.shutdown(ShutdownHow::write); }
  void close() noexcept override { sock_.close(); }
  [[nodiscard]] bool is_open() const noexcept override { return sock_.is_open(); }
  [[nodiscard]] const Socket* socket() const noexcept override { return &sock_; }

 private:
  Socket sock_;
};

class PipeTransport final : public HandleTransport {
 public:
  PipeTransport(native_handle in, native_handle out) noexcept
      : HandleTransport({in, OpCode::read, out, OpCode::write}) {}
  ~PipeTransport() override { close(); }
  PipeTransport(const PipeTransport&) = delete;
  PipeTransport& operator=(const PipeTransport&) = delete;

  std::intptr_t try_write(std::span<const char> data) noexcept override {
    if (io_.out == invalid_handle) return -EBADF;
    return os::try_write(io_.out, data.data(), data.size());
  }
  // One handle for both directions (a TTY) cannot end one of them alone.
  [[nodiscard]] bool can_write_eof() const noexcept override { return io_.out != io_.in; }
  void write_eof() override {
    if (io_.out == io_.in) return;
    close_one(io_.out);
  }
  void close() noexcept override {
    if (io_.out == io_.in) io_.out = invalid_handle;
    close_one(io_.in);
    close_one(io_.out);
  }
  [[nodiscard]] bool is_open() const noexcept override {
    return io_.in != invalid_handle || io_.out != invalid_handle;
  }

 private:
  static void close_one(native_handle& h) noexcept {
    if (h == invalid_handle) return;
    // The backend may cache state for the handle; it must forget it before the number
    // can be reused (as Socket::close does).
    if (EventLoop* loop = EventLoop::current()) loop->reactor().release(h);
    os::close_handle(std::exchange(h, invalid_handle));
  }
};

}  // namespace

std::unique_ptr<Transport> socket_transport(Socket sock) {
  return std::make_unique<SocketTransport>(std::move(sock));
}

std::unique_ptr<Transport> pipe_transport(native_handle in, native_handle out) {
  return std::make_unique<PipeTransport>(in, out);
}

}  // namespace corio
