// A TLS session as a filter transport over another transport (a socket's): the engine
// (tls_engine.hpp) turns plaintext into records and back, and this moves the records
// with the transport below. Private to coro/: streams.cpp and server.cpp make them.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "corio/coro/coro.hpp"
#include "corio/coro/event.hpp"
#include "corio/coro/tls.hpp"
#include "corio/coro/transport.hpp"
#include "corio/reactor/clock.hpp"
#include "coro/stoppable_read.hpp"
#include "coro/tls_engine.hpp"

namespace corio::detail {

/// Reads and writes may run at once in two tasks (a reader and a flusher); only one
/// task at a time sends records, and a read never waits for a writer's send (that could
/// deadlock with a peer that is itself blocked writing to us): a send in progress takes
/// the reader's records along. Over a TCP socket where the kernel has kTLS, the session
/// hands its sends to the kernel after the handshake: writes then go to the socket as
/// plaintext (the engine sees them no more), and the records the engine still makes
/// (tickets, alerts) go through the KernelTlsSocket calls, in order after every send.
class TlsTransport final : public Transport, private KernelTlsSocket {
 public:
  TlsTransport(std::unique_ptr<Transport> inner, std::unique_ptr<TlsEngine> engine);

  /// Hands the session ciphertext that arrived before it existed (the bytes a stream
  /// had buffered when start_tls() upgraded it).
  void feed_early(std::span<const char> ciphertext) { engine_->feed(ciphertext); }
  /// Runs the handshake to its end. TlsError if it fails, or if the peer closes first.
  [[nodiscard]] Coro<void> handshake();
  /// What the handshake negotiated (after handshake()).
  [[nodiscard]] const TlsInfo& info() const noexcept { return info_; }
  /// Why the session's sends stay in user space (after handshake(); "" if the kernel
  /// sends; where it has no kTLS, net::kernel_tls_support() says why).
  [[nodiscard]] std::string kernel_tls_note() const;

  [[nodiscard]] std::optional<Handles> handles() const noexcept override { return std::nullopt; }
  Coro<std::size_t> read_some(std::span<char> buf) override { return read_plain(buf, nullptr); }
  Coro<std::size_t> read_some(std::span<char> buf, std::error_code& ec) override;
  Coro<std::size_t> write_some(std::span<const char> data) override;
  std::intptr_t try_write(std::span<const char> data) noexcept override;
  [[nodiscard]] std::size_t buffered_output() const noexcept override {
    return out_.size() - out_sent_;
  }
  Coro<void> flush() override;
  void cancel_read() noexcept override;
  // TLS 1.2 has no half-close (close_notify ends the session), so none, as asyncio.
  [[nodiscard]] bool can_write_eof() const noexcept override { return false; }
  void write_eof() override;
  void close() noexcept override;
  Coro<void> close_gracefully() override;
  /// Bounds close_gracefully() (asyncio's ssl_shutdown_timeout; 30 s by default).
  void set_shutdown_timeout(Duration limit) noexcept { shutdown_timeout_ = limit; }
  [[nodiscard]] bool is_open() const noexcept override { return inner_->is_open(); }
  [[nodiscard]] const Socket* socket() const noexcept override { return inner_->socket(); }

 private:
  class SendScope;
  // read_some(): a failure is thrown, or stored in *ec if `ec` is not null.
  Coro<std::size_t> read_plain(std::span<char> buf, std::error_code* ec);
  // Moves the engine's records to out_.
  void collect_output();
  // Sends out_ without waiting, as far as the transport below takes it: 0 once all is
  // sent, else the transport's -EAGAIN or -errno (what is left stays for flush()).
  std::intptr_t send_now() noexcept;
  // Sends out_ (the caller is the sender).
  Coro<void> send_records();
  // A write once the kernel sends: the records waiting first, then the plaintext.
  Coro<std::size_t> write_plain(std::span<const char> data);
  // What a want_write waits for: the records waiting go, or the socket makes room.
  Coro<void> make_room();
  // KernelTlsSocket, for the engine.
  bool send_all_now() noexcept override;
  std::error_code start_kernel_send(const void* crypto_info) noexcept override;
  std::intptr_t send_record(unsigned char type, std::span<const char> record) noexcept override;
  // Waits for the peer's next ciphertext, received straight into the engine's input:
  // the byte count, 0 at the end of the stream, or -errno from a handle transport below
  // (a failure of another transport is its exception). A failure other than ECANCELED
  // marks the connection broken_.
  Coro<std::intptr_t> receive();
  // close_notify out, then reads (and drops) until the peer's.
  Coro<void> goodbye();

  std::unique_ptr<Transport> inner_;
  std::unique_ptr<TlsEngine> engine_;
  std::optional<Handles> direct_;     // the handles below, if it is a handle transport
  StoppableRead* reading_ = nullptr;  // the receive in progress on them, for cancel_read()
  TlsInfo info_;
  std::string out_;  // records to send; out_sent_ bytes of it are sent
  std::size_t out_sent_ = 0;
  bool sending_ = false;  // a task is in a send of out_
  Event send_idle_;       // set while no task sends
  bool closed_ = false;
  bool goodbye_sent_ = false;  // close_notify is queued
  // A receive failed (a reset, mostly): close() then sends no close_notify, which
  // could only fail too (EPIPE), one syscall more per connection that ends that way.
  bool broken_ = false;
  Duration shutdown_timeout_ = std::chrono::seconds(30);
};

/// A TLS session of `ctx`'s side over `inner`, handshaken within `limit`
/// (TimeoutError past it; TlsError if it fails). A client names the server in `host`.
/// `early` is ciphertext read from `inner` before (see feed_early()).
[[nodiscard]] Coro<std::unique_ptr<TlsTransport>> start_tls_session(
    std::unique_ptr<Transport> inner, const TlsContext& ctx, std::string host, Duration limit,
    std::string early = {});

}  // namespace corio::detail
