// The state a StreamReader and its StreamWriter share (asyncio keeps it in a transport
// and a protocol) over a Transport. Private to coro/: stream_conn.cpp implements it,
// streams.cpp reads through it, server.cpp closes and watches connections through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "corio/coro/event.hpp"
#include "corio/coro/io.hpp"
#include "corio/coro/socket.hpp"
#include "corio/coro/streams.hpp"
#include "corio/coro/transport.hpp"
#include "corio/reactor/clock.hpp"
#include "coro/io_name.hpp"

namespace corio::detail {

/// Received bytes not read yet: one allocation with a read cursor, so consuming is O(1)
/// and the unread rest moves only when it is no larger than what was consumed before
/// it (each byte is moved O(1) times on average).
class ReadBuffer {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
  [[nodiscard]] std::string_view view() const noexcept {
    return {data_.get() + begin_, end_ - begin_};
  }
  /// Removes the first `n` bytes.
  void consume(std::size_t n) noexcept;
  /// Removes and returns the first `n` bytes.
  std::string take(std::size_t n);
  /// Free space at the end for a receive: at least `min` bytes, often more.
  std::span<char> prepare(std::size_t min);
  /// Appends `n` bytes a receive wrote into the span prepare() gave.
  void commit(std::size_t n) noexcept { end_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

/// One connection over a transport. Reads run in the reading task (straight into `in`);
/// sends that cannot finish at once are queued and sent by a flusher task that exists
/// only while something is queued. Every task working on the connection holds a
/// shared_ptr to it, so the transport closes only when no operation is pending on it.
/// Over a handle transport (socket, pipe) reads and sends are the reactor's operations
/// on its handles; over a filter transport (TLS) they are its read_some/write_some.
class StreamConn : public std::enable_shared_from_this<StreamConn> {
 public:
  /// Where the connection stands; writes are only accepted while `open`.
  enum class State : std::uint8_t {
    open,
    eof_pending,  ///< write_eof(): FIN goes once the queue is sent
    half_closed,  ///< FIN sent; reads go on
    closing,      ///< close(): the queue is still sent, then the transport closes
    aborting,     ///< abort(): the queue is dropped, the transport closes
    closed,       ///< the transport is closed
  };

  StreamConn(std::unique_ptr<Transport> transport, std::size_t limit) noexcept;
  StreamConn(Socket sock, std::size_t limit)
      : StreamConn(socket_transport(std::move(sock)), limit) {}
  /// A connection with no transport whose input comes from feed() (make_stream_reader).
  struct Fed {};
  StreamConn(Fed, std::size_t limit) noexcept : limit_(limit), fed_(true) {
    drain_ok_.set();
    flushed_.set();
  }
  StreamConn(const StreamConn&) = delete;
  StreamConn& operator=(const StreamConn&) = delete;

  // --- reading (used by StreamReader's coroutines) ---

  /// Marks the start of a read; RuntimeError if another task is reading.
  void begin_read();
  /// Marks its end (even by an exception); finishes a close that waited for it.
  void end_read() noexcept;
  /// Throws the sticky receive error, if any.
  void throw_if_read_failed() const;
  /// A receive of at least `hint` bytes' room into the buffer (clamped to a sane
  /// range); awaiting it gives false at EOF.
  class FillAwaiter;
  [[nodiscard]] FillAwaiter fill(std::size_t hint);

  ReadBuffer in;
  std::size_t limit_for_reads() const noexcept { return limit_; }
  [[nodiscard]] bool eof() const noexcept { return eof_; }

  /// Whether the input comes from feed() rather than a transport.
  [[nodiscard]] bool fed() const noexcept { return fed_; }
  /// Appends fed input (feed_data), or ends it (`eof`); wakes a waiting read.
  void feed(std::string_view data, bool eof);
  /// A fed reader's stand-in for fill(): waits until feed() is called again.
  [[nodiscard]] Event::WaitAwaiter next_feed() noexcept {
    fed_input_.clear();
    return fed_input_.wait();
  }

  // --- writing ---

  void write(std::string_view data);
  void write_eof();
  void close() noexcept;
  void abort() noexcept;
  [[nodiscard]] bool is_closing() const noexcept { return state_ >= State::closing; }
  [[nodiscard]] State state() const noexcept { return state_; }
  /// Bytes written but not sent, the filter transport's own buffer included.
  [[nodiscard]] std::size_t write_buffer_size() const noexcept {
    return sending_.size() - sent_ + pending_.size() +
           (direct_ || !transport_ ? 0 : transport_->buffered_output());
  }
  void set_limits(std::size_t high, std::size_t low) noexcept;
  [[nodiscard]] std::size_t high_water() const noexcept { return high_; }
  [[nodiscard]] std::size_t low_water() const noexcept { return low_; }
  /// drain()'s condition: the error to raise, else whether to keep waiting.
  [[nodiscard]] std::error_code write_error() const noexcept { return write_error_; }
  [[nodiscard]] std::error_code read_error() const noexcept { return read_error_; }
  [[nodiscard]] bool paused() const noexcept { return paused_; }
  Event& drain_event() noexcept { return drain_ok_; }
  Event& closed_event() noexcept { return closed_; }

  // --- upgrading (start_tls) ---

  /// Whether a flusher is sending queued output; flushed_event() is set when it ends.
  [[nodiscard]] bool flushing() const noexcept { return flusher_ != nullptr; }
  Event& flushed_event() noexcept { return flushed_; }
  /// Takes the transport out to wrap it, with the bytes received but not read yet in
  /// `unread`. Needs an open connection over a transport with nothing queued and no
  /// read in progress (RuntimeError, or the send error). Until end_upgrade() reads and
  /// writes are refused; a close meanwhile takes effect there.
  [[nodiscard]] std::unique_ptr<Transport> begin_upgrade(std::string& unread);
  /// Puts the wrapping transport in (nullptr if the upgrade failed: the connection is
  /// aborted).
  void end_upgrade(std::unique_ptr<Transport> t) noexcept;

  // --- the rest ---

  /// The transport's socket; InvalidStateError if it has none (a pipe).
  [[nodiscard]] const Socket& socket() const;
  /// The transport (nullptr for a fed reader).
  [[nodiscard]] Transport* transport() const noexcept { return transport_.get(); }
  [[nodiscard]] const Address& peer_address();
  [[nodiscard]] const Address& local_address();

  /// For a server's idle timeout: record when a read starts waiting for data.
  void track_idle() noexcept { track_idle_ = true; }
  /// When the read waiting now started to wait, if one is waiting.
  [[nodiscard]] std::optional<TimePoint> waiting_since() const noexcept { return waiting_since_; }
  /// Ends reading as if the peer had sent EOF: a waiting read is woken and sees it.
  void end_input() noexcept;

 private:
  struct FlushLease;
  static Coro<void> flush(FlushLease lease);
  void start_flusher();
  void flusher_gone() noexcept;
  void update_paused() noexcept;
  void drop_output() noexcept;
  void wake_reader() noexcept;
  void finish_close_if_idle() noexcept;
  // A filter transport's graceful close (TLS close_notify both ways), as a task.
  static Coro<void> close_transport(std::shared_ptr<StreamConn> self);

  std::unique_ptr<Transport> transport_;
  Transport::Handles io_;  // the transport's handles, if direct_
  bool direct_ = false;    // a handle transport: reads and sends go to the reactor
  std::size_t limit_;
  std::optional<Address> peer_;
  std::optional<Address> local_;

  // Read side.
  std::error_code read_error_;
  std::optional<TimePoint> waiting_since_;
  FillAwaiter* filling_ = nullptr;  // the reader's receive while it is suspended in one
  bool eof_ = false;
  bool reading_ = false;
  bool track_idle_ = false;
  bool fed_ = false;
  bool upgrading_ = false;  // between begin_upgrade() and end_upgrade()
  Event fed_input_;         // set by feed(), cleared by a read that waits for more

  // Write side. Two buffers, because a send in flight points into `sending_`: write()
  // appends to `pending_`, and the flusher swaps them once `sending_` is out.
  std::string sending_;
  std::size_t sent_ = 0;  // bytes of sending_ already sent
  std::string pending_;
  std::size_t high_ = default_stream_limit;
  std::size_t low_ = default_stream_limit / 4;
  std::error_code write_error_;
  PromiseBase* flusher_ = nullptr;  // the flusher task while it exists
  PromiseBase* closer_ = nullptr;   // the close_transport() task while it exists
  bool paused_ = false;             // above the high-water mark, not yet back to low
  State state_ = State::open;
  Event drain_ok_;  // set while not paused
  Event flushed_;   // set while there is no flusher
  Event closed_;
};

/// A receive into the free end of a connection's read buffer. The bytes count only once
/// the await returns them, so a cancelled receive leaves the buffer as it was. While it
/// is suspended the connection knows it, so close() can stop it (see wake_reader()).
/// Over a handle transport it is the reactor's operation itself (no frame); over a
/// filter it runs the transport's read_some() inside the reading task.
class [[nodiscard]] StreamConn::FillAwaiter : public IoAwaiter {
 public:
  FillAwaiter(StreamConn& c, std::span<char> room) noexcept
      : IoAwaiter(c.io_.read, c.io_.in, room.data(), room.size(), 0, nullptr,
                  detail::io_name(c.io_.read)),
        conn_(&c),
        room_(room) {}
  FillAwaiter(const FillAwaiter&) = delete;
  FillAwaiter& operator=(const FillAwaiter&) = delete;
  ~FillAwaiter() {
    if (conn_->filling_ == this) conn_->filling_ = nullptr;
  }

  template <detail::CorioPromise P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) {
    conn_->filling_ = this;
    if (!conn_->direct_) {
      filtered_ = conn_->transport_->read_some(room_);
      return filtered_.operator co_await().await_suspend(caller);
    }
    if (IoAwaiter::await_suspend(caller)) return std::noop_coroutine();
    return caller;  // finished at once
  }
  /// Commits what arrived; false at EOF (a receive stopped by close() included).
  /// Records a receive error before raising it.
  bool await_resume();
  /// Cancels the receive; it then completes with ECANCELED.
  void stop() noexcept;

 private:
  std::size_t received();

  StreamConn* conn_;
  std::span<char> room_;
  Coro<std::size_t> filtered_;  // a filter transport's read_some(), while it runs
};

}  // namespace corio::detail
