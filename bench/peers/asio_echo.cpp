// asio_echo: the C++20-coroutine peer. Standalone Asio (Debian libasio-dev, 1.22),
// one io_context on one thread, one asio::awaitable per connection: read_some, then
// async_write the same bytes, the shape of corio's echo_server. Built twice by
// CMakeLists.txt: asio_echo_epoll (Asio's default reactor) and asio_echo_uring
// (-DASIO_HAS_IO_URING -DASIO_DISABLE_EPOLL: Asio's io_uring service for sockets).
//
//   asio_echo_{epoll,uring} [--host H] [--port N]
#include <asio.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

// 64 KiB, as in corio's echo_server and c_epoll_echo.
constexpr std::size_t kBufferSize = 64 * 1024;

asio::awaitable<void> session(asio::ip::tcp::socket socket) {
  socket.set_option(asio::ip::tcp::no_delay(true));
  std::unique_ptr<char[]> data(new char[kBufferSize]);
  asio::error_code ec;
  for (;;) {
    // redirect_error instead of exceptions: EOF is the normal end of a session.
    std::size_t n = co_await socket.async_read_some(asio::buffer(data.get(), kBufferSize),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(socket, asio::buffer(data.get(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
}

asio::awaitable<void> listener(asio::ip::tcp::acceptor& acceptor) {
  for (;;) {
    asio::error_code ec;
    asio::ip::tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // EMFILE and friends: keep accepting
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::string port = "0";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--host H] [--port N]\n", argv[0]);
      return 2;
    }
  }
  try {
    // Concurrency hint 1: one thread runs the context, so Asio can skip some locking.
    asio::io_context ctx(1);
    asio::ip::tcp::resolver resolver(ctx);
    asio::ip::tcp::endpoint endpoint = *resolver.resolve(host, port).begin();
    asio::ip::tcp::acceptor acceptor(ctx, endpoint);  // SO_REUSEADDR, listen(SOMAXCONN)
    std::printf("listening on %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);

    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code&, int) { ctx.stop(); });
    asio::co_spawn(ctx, listener(acceptor), asio::detached);
    ctx.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
