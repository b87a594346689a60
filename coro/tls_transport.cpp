#include "coro/tls_transport.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "corio/coro/io.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/timeout.hpp"
#include "corio/os/kernel_tls.hpp"
#include "corio/os/net.hpp"
#include "coro/stoppable_read.hpp"

namespace corio {
namespace {

class TlsCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "corio.tls"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<TlsErrc>(code)) {
      case TlsErrc::protocol:
        return "TLS protocol error";
      case TlsErrc::verification:
        return "TLS certificate verification failed";
      case TlsErrc::truncated:
        return "TLS connection truncated (closed without close_notify)";
      case TlsErrc::configuration:
        return "TLS configuration refused";
      case TlsErrc::unavailable:
        return "TLS not built";
    }
    return "TLS error";
  }
};

// Plaintext encrypted per write: four full records, so one send carries them all and the
// records waiting to be sent stay bounded (the streams keep the rest).
constexpr std::size_t kEncrypt = 64 * 1024;

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

namespace detail {

// The one task sending out_ at a time; the others wait on send_idle_.
class TlsTransport::SendScope {
 public:
  explicit SendScope(TlsTransport& t) noexcept : t_(t) {
    t_.sending_ = true;
    t_.send_idle_.clear();
  }
  ~SendScope() {
    t_.sending_ = false;
    t_.send_idle_.set();
  }
  SendScope(const SendScope&) = delete;
  SendScope& operator=(const SendScope&) = delete;

 private:
  TlsTransport& t_;
};

TlsTransport::TlsTransport(std::unique_ptr<Transport> inner, std::unique_ptr<TlsEngine> engine)
    : inner_(std::move(inner)), engine_(std::move(engine)), direct_(inner_->handles()) {
  send_idle_.set();
  // Any socket: a Unix one refuses the tls ULP when the keys come (the note says so),
  // which costs nothing until then; asking its family here would be a syscall per
  // connection.
  if (!net::kernel_tls_support() && direct_ && inner_->socket() != nullptr) {
    engine_->offer_kernel_tls(*this);
  }
}

std::string TlsTransport::kernel_tls_note() const {
  return inner_->socket() == nullptr ? "not over a socket" : engine_->kernel_tls_note();
}

bool TlsTransport::send_all_now() noexcept {
  return send_now() == 0;
}

std::error_code TlsTransport::start_kernel_send(const void* crypto_info) noexcept {
  return net::start_kernel_tls_send(direct_->out, crypto_info);
}

std::intptr_t TlsTransport::send_record(unsigned char type, std::span<const char> record) noexcept {
  // After everything sent before it: the engine flushed first, but a writer may have
  // started a send since.
  if (sending_ || buffered_output() > 0) return -EAGAIN;
  return net::try_send_tls_record(direct_->out, type, record.data(), record.size());
}

Coro<void> TlsTransport::make_room() {
  if (sending_ || buffered_output() > 0 || engine_->output_size() > 0) {
    co_await flush();
  } else {
    co_await io::wait_writable(direct_->out);
  }
}

void TlsTransport::cancel_read() noexcept {
  if (reading_ != nullptr) {
    reading_->stop();
  } else {
    inner_->cancel_read();
  }
}

void TlsTransport::collect_output() {
  // Only the sender (or a try while nobody sends) may touch out_: a send in flight
  // points into it.
  if (out_sent_ == out_.size()) {
    out_.clear();
    out_sent_ = 0;
  }
  engine_->take_output(out_);
}

std::intptr_t TlsTransport::send_now() noexcept {
  if (sending_) return -EAGAIN;  // the sender collects what is new after its current send
  try {
    collect_output();
  } catch (const std::bad_alloc&) {
    return -EAGAIN;  // stays in the engine for the next flush
  }
  while (out_sent_ < out_.size()) {
    const std::intptr_t r = inner_->try_write({out_.data() + out_sent_, out_.size() - out_sent_});
    if (r <= 0) return r;  // EAGAIN: a flush sends it; an error: the flush raises it
    out_sent_ += static_cast<std::size_t>(r);
  }
  return 0;
}

Coro<void> TlsTransport::send_records() {
  for (;;) {
    collect_output();
    if (out_sent_ == out_.size()) break;
    out_sent_ += co_await inner_->write_some({out_.data() + out_sent_, out_.size() - out_sent_});
  }
}

Coro<void> TlsTransport::flush() {
  while (sending_)
    co_await send_idle_.wait();
  SendScope scope(*this);
  co_await send_records();
}

Coro<std::size_t> TlsTransport::write_plain(std::span<const char> data) {
  while (sending_)
    co_await send_idle_.wait();
  // The sender while the plaintext is in flight too, so no record of the engine's
  // overtakes it (send_record()).
  SendScope scope(*this);
  co_await send_records();
  co_return co_await inner_->write_some(data);
}

Coro<std::intptr_t> TlsTransport::receive() {
  const std::span<char> room = engine_->input_space();
  std::intptr_t n = 0;
  if (direct_) {
    // Straight to the reactor: no coroutine frame of the socket transport's
    // read_some(), and a failure comes back as -errno instead of an exception that
    // every frame on the way up raises again (a reset ends many HTTPS connections).
    StoppableRead read(*direct_, room, reading_);
    n = co_await read;
    if (n < 0 && n != -ECANCELED) broken_ = true;
  } else {
    n = static_cast<std::intptr_t>(co_await inner_->read_some(room));
  }
  if (n > 0) engine_->commit_input(static_cast<std::size_t>(n));
  co_return n;
}

Coro<void> TlsTransport::handshake() {
  for (;;) {
    TlsEngine::Status st = TlsEngine::Status::want_read;
    try {
      st = engine_->handshake();
    } catch (const TlsError&) {
      send_now();  // the alert that tells the peer why
      throw;
    }
    if (st == TlsEngine::Status::want_write) {
      co_await make_room();
      continue;
    }
    if (st == TlsEngine::Status::ok) {
      // The last flight (a client's Finished; a server's session tickets) goes without
      // a wait where the socket takes it. A peer that is gone already (s_time and
      // scanners close right after their Finished) is then the first read's or write's
      // error, not a failed handshake: the handshake did succeed, and no exception has
      // to climb out of it.
      if (send_now() == -EAGAIN && buffered_output() > 0) co_await flush();
      break;
    }
    if (engine_->output_size() > 0 || buffered_output() > 0) co_await flush();
    if (st == TlsEngine::Status::closed) {
      throw TlsError(TlsErrc::protocol, "corio: TLS handshake: the peer closed the session");
    }
    const std::intptr_t got = co_await receive();
    if (got < 0) throw_read_error(*direct_, got);
    if (got == 0) {
      throw TlsError(TlsErrc::protocol,
                     "corio: TLS handshake: the peer closed the connection before it ended");
    }
  }
  info_ = engine_->info();
}

Coro<std::size_t> TlsTransport::read_some(std::span<char> buf, std::error_code& ec) {
  // Over another filter, whose failures are exceptions: the default catches them.
  if (!direct_) return Transport::read_some(buf, ec);
  ec.clear();
  return read_plain(buf, &ec);
}

Coro<std::size_t> TlsTransport::read_plain(std::span<char> buf, std::error_code* ec) {
  for (;;) {
    std::size_t n = 0;
    TlsEngine::Status st = TlsEngine::Status::want_read;
    try {
      st = engine_->read(buf, n);
    } catch (const TlsError& e) {  // the peer broke the protocol (a forged record, ...)
      if (ec == nullptr) throw;
      *ec = e.code();
      co_return 0;
    }
    if (st == TlsEngine::Status::want_write) {
      co_await make_room();
      continue;
    }
    if (st != TlsEngine::Status::want_read) {
      // A read can make records to send (a KeyUpdate's answer): they go without
      // waiting, so no decrypted byte is held back by a send.
      send_now();
      co_return st == TlsEngine::Status::ok ? n : 0;
    }
    if (!sending_ && (engine_->output_size() > 0 || buffered_output() > 0)) co_await flush();
    // The one throw of a truncation, where it is known (none inside receive()):
    // exceptions cost a lot on the way up through coroutine frames.
    const std::intptr_t got = co_await receive();
    if (got > 0) continue;
    if (ec != nullptr) {
      *ec = got < 0 ? std::error_code(static_cast<int>(-got), std::generic_category())
                    : make_error_code(TlsErrc::truncated);
      co_return 0;
    }
    if (got < 0) throw_read_error(*direct_, got);
    throw TlsError(TlsErrc::truncated,
                   "corio: TLS: the peer closed the connection without close_notify");
  }
}

Coro<std::size_t> TlsTransport::write_some(std::span<const char> data) {
  // The only wait comes before anything is taken, so a cancelled write_some() has taken
  // nothing and a finished one says exactly what it took: a retry never duplicates.
  // The new records go out as far as the socket takes them now; the rest is
  // buffered_output(), sent by the next write or flush().
  if (engine_->kernel_sends()) co_return co_await write_plain(data);
  co_await flush();
  const std::size_t n = engine_->write(data.first(std::min(data.size(), kEncrypt)));
  send_now();
  co_return n;
}

std::intptr_t TlsTransport::try_write(std::span<const char> data) noexcept {
  // Records already waiting go first, and out_ is the sender's while one sends.
  if (closed_ || sending_ || buffered_output() > 0) return -EAGAIN;
  if (engine_->kernel_sends()) {
    return engine_->output_size() > 0 ? -EAGAIN : inner_->try_write(data);
  }
  std::size_t n = 0;
  try {
    n = engine_->write(data.first(std::min(data.size(), kEncrypt)));
  } catch (const TlsError&) {
    return -EPROTO;
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  send_now();  // what the socket does not take now is buffered_output(): the streams flush it
  return static_cast<std::intptr_t>(n);
}

void TlsTransport::write_eof() {
  throw RuntimeError("corio: a TLS stream cannot end its write side alone (close() it)");
}

void TlsTransport::close() noexcept {
  if (closed_) return;
  closed_ = true;
  if (inner_->is_open() && !sending_ && !goodbye_sent_ && !broken_) {
    // close_notify, as far as the socket takes it at once: the streams close only
    // after every byte written was sent, so it is usually the only thing left.
    engine_->shutdown();
    send_now();
  }
  inner_->close();
}

Coro<void> TlsTransport::goodbye() {
  while (!goodbye_sent_) {
    if (engine_->shutdown() == TlsEngine::Status::ok) {
      goodbye_sent_ = true;
    } else {
      co_await make_room();
    }
  }
  co_await flush();
  std::array<char, 1024> scratch{};
  for (;;) {
    std::size_t n = 0;
    const TlsEngine::Status st = engine_->read(scratch, n);
    if (st == TlsEngine::Status::closed) break;
    // Data after our close_notify has nowhere to go; a peer that closes the TCP
    // connection instead has said goodbye its own way.
    // So has one that resets it.
    if (st == TlsEngine::Status::want_read) {
      const std::intptr_t got = co_await receive();
      if (got <= 0) break;
    }
  }
}

Coro<void> TlsTransport::close_gracefully() {
  if (closed_) co_return;
  std::exception_ptr cancelled;
  try {
    co_await timeout(shutdown_timeout_).run(goodbye());
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  } catch (const std::exception&) {
    // the timeout, a reset, a truncation: the peer had its chance
  }
  close();
  if (cancelled) std::rethrow_exception(cancelled);
}

namespace {

// Why a session's records stay in user space.
std::string why_no_kernel_tls(const TlsTransport& t) {
  const std::error_code support = net::kernel_tls_support();
  if (!support) return t.kernel_tls_note();
  if (support == std::errc::no_such_file_or_directory) return "the kernel has no tls ULP";
  if (support == std::errc::not_supported) return "no kTLS on this OS";
  return "probing the kernel's tls ULP failed: " + support.message();
}

// Debug mode's line about a new session, as asyncio's "SSL handshake took ... ms".
void report_session(const TlsTransport& t, Duration took) noexcept {
  try {
    std::string peer = "?";
    if (const Socket* sock = t.socket()) {
      try {
        peer = sock->peer_address().to_string();
      } catch (const std::system_error&) {
        // gone already: the next read says so
      }
    }
    const TlsInfo& i = t.info();
    const std::string path = i.kernel_tls
                                 ? "sends encrypted by the kernel (kTLS), receives in user space"
                                 : "records in user space (" + why_no_kernel_tls(t) + ")";
    std::fprintf(stderr, "corio: TLS handshake with %s took %.1f ms: %s %s%s; %s\n", peer.c_str(),
                 std::chrono::duration<double, std::milli>(took).count(), i.version.c_str(),
                 i.cipher.c_str(), i.resumed ? ", resumed" : "", path.c_str());
  } catch (...) {
    std::fputs("corio: TLS handshake done (out of memory describing it)\n", stderr);
  }
}

}  // namespace

Coro<std::unique_ptr<TlsTransport>> start_tls_session(std::unique_ptr<Transport> inner,
                                                      const TlsContext& ctx, std::string host,
                                                      Duration limit, std::string early) {
  auto t = std::make_unique<TlsTransport>(std::move(inner), make_tls_engine(ctx, host));
  if (!early.empty()) t->feed_early(early);
  EventLoop& loop = EventLoop::running();
  const TimePoint began = loop.now();
  co_await timeout(limit).run(t->handshake());
  if (loop.debug()) report_session(*t, loop.now() - began);
  co_return t;
}

}  // namespace detail

namespace {

// Owns what start_tls() was given, so the caller's context and name may go at once.
Coro<std::unique_ptr<Transport>> upgrade(std::unique_ptr<Transport> inner, TlsContext ctx,
                                         std::string host, Duration limit,
                                         Duration shutdown_limit) {
  std::unique_ptr<detail::TlsTransport> session =
      co_await detail::start_tls_session(std::move(inner), ctx, std::move(host), limit);
  session->set_shutdown_timeout(shutdown_limit);
  co_return session;
}

}  // namespace

Coro<std::unique_ptr<Transport>> start_tls(std::unique_ptr<Transport> inner, const TlsContext& ctx,
                                           TlsOptions options) {
  if (!inner) throw std::invalid_argument("corio: start_tls() needs a transport");
  detail::check_server_hostname(ctx, options.server_hostname);
  return upgrade(std::move(inner), ctx, std::string(options.server_hostname),
                 options.handshake_timeout, options.shutdown_timeout);
}

std::optional<TlsInfo> tls_info(const Transport& t) {
  const auto* session = dynamic_cast<const detail::TlsTransport*>(&t);
  if (session == nullptr) return std::nullopt;
  return session->info();
}
}  // namespace corio
