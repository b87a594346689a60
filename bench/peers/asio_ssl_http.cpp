// asio_ssl_http: the Asio peer of corio's `http_hello --tls-cert --tls-key`, for the
// HTTPS benchmark (bench/peers/https.sh). Standalone Asio (Debian libasio-dev, 1.22) with
// asio::ssl over OpenSSL, one io_context on one thread, one asio::awaitable per
// connection: handshake, then read_some, answer every complete request head in the
// buffer with http_hello's exact bytes (pipelining), one async_write for all of them.
//
// Parsing is deliberately minimal (find "\r\n\r\n"; no bodies): this peer exists to
// measure the TLS and event-loop cost under wrk's GETs, not to be an HTTP server. The one
// header it looks at is wrk's `-H 'Connection: close'` (the handshake-rate run): wrk only
// reconnects when the answer says close, so without it that run would measure keep-alive.
//
//   asio_ssl_http --tls-cert FILE --tls-key FILE [--host H] [--port N]
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

// What http_hello answers to a keep-alive GET, byte for byte.
constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Connection: keep-alive\r\n\r\nHello, world!";
constexpr std::string_view kHelloClose =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Connection: close\r\n\r\nHello, world!";
// http_hello's input buffer: room for its largest head (8 KiB) and what follows.
constexpr std::size_t kInputSize = 16 * 1024;

using ssl_socket = asio::ssl::stream<asio::ip::tcp::socket>;

asio::awaitable<void> session(ssl_socket stream) {
  stream.lowest_layer().set_option(asio::ip::tcp::no_delay(true));
  asio::error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  std::unique_ptr<char[]> input(new char[kInputSize]);
  std::string output;
  std::size_t end = 0;  // input is [0, end)
  for (;;) {
    // redirect_error instead of exceptions: EOF (or a truncated session) ends it.
    std::size_t n =
        co_await stream.async_read_some(asio::buffer(input.get() + end, kInputSize - end),
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    end += n;
    std::string_view in(input.get(), end);
    std::size_t begin = 0;
    bool closing = false;
    for (std::size_t head_end; !closing && (head_end = in.find("\r\n\r\n", begin)) != in.npos;) {
      // Exactly as wrk sends it; anything else is keep-alive, HTTP/1.1's default.
      closing = in.substr(begin, head_end + 2 - begin).find("\r\nConnection: close\r\n") != in.npos;
      output += closing ? kHelloClose : kHello;
      begin = head_end + 4;
    }
    if (begin == 0 && end == kInputSize) break;  // a head this peer will not buffer
    std::memmove(input.get(), input.get() + begin, end - begin);
    end -= begin;
    if (output.empty()) continue;
    co_await asio::async_write(stream, asio::buffer(output),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    output.clear();
    if (closing) {
      // close_notify, as nginx and corio send; wrk closes without answering it.
      co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
      break;
    }
  }
}

asio::awaitable<void> listener(asio::ip::tcp::acceptor& acceptor, asio::ssl::context& tls) {
  for (;;) {
    asio::error_code ec;
    asio::ip::tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // EMFILE and friends: keep accepting
    asio::co_spawn(acceptor.get_executor(), session(ssl_socket(std::move(socket), tls)),
                   asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::string port = "0";
  std::string cert;
  std::string key;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = argv[++i];
    } else if (std::strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc) {
      cert = argv[++i];
    } else if (std::strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc) {
      key = argv[++i];
    } else {
      cert.clear();
      break;
    }
  }
  if (cert.empty() || key.empty()) {
    std::fprintf(stderr, "usage: %s --tls-cert FILE --tls-key FILE [--host H] [--port N]\n",
                 argv[0]);
    return 2;
  }
  try {
    // TLS 1.2 and 1.3, as nginx is configured in https.sh; OpenSSL's defaults otherwise
    // (session tickets on, so `openssl s_time -reuse` resumes here as with the others).
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    tls.use_certificate_chain_file(cert);
    tls.use_private_key_file(key, asio::ssl::context::pem);

    // Concurrency hint 1: one thread runs the context, so Asio can skip some locking.
    asio::io_context ctx(1);
    asio::ip::tcp::resolver resolver(ctx);
    asio::ip::tcp::endpoint endpoint = *resolver.resolve(host, port).begin();
    asio::ip::tcp::acceptor acceptor(ctx, endpoint);  // SO_REUSEADDR, listen(SOMAXCONN)
    std::printf("listening on %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);

    asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code&, int) { ctx.stop(); });
    asio::co_spawn(ctx, listener(acceptor, tls), asio::detached);
    ctx.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_ssl_http: %s\n", e.what());
    return 1;
  }
  return 0;
}
