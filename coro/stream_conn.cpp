#include "coro/stream_conn.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/task.hpp"
#include "coro/io_name.hpp"

namespace corio::detail {
namespace {

// A receive asks for at least 4 KiB of room and at most 256 KiB: asyncio's selector
// transport reads up to 256 KiB per recv (max_size), and a smaller ceiling only adds
// syscalls when a large message is arriving.
constexpr std::size_t kMinRecv = 4 * 1024;
constexpr std::size_t kMaxRecv = 256 * 1024;
constexpr std::size_t kFirstBuffer = 16 * 1024;
// An emptied buffer larger than this is given back, so one burst does not pin memory
// for the life of the connection.
constexpr std::size_t kKeepBuffer = 1024 * 1024;

}  // namespace

// --- ReadBuffer ---

void ReadBuffer::consume(std::size_t n) noexcept {
  begin_ += n;
  if (begin_ != end_) return;
  begin_ = end_ = 0;
  if (capacity_ > kKeepBuffer) {
    data_.reset();
    capacity_ = 0;
  }
}

std::string ReadBuffer::take(std::size_t n) {
  std::string out(data_.get() + begin_, n);
  consume(n);
  return out;
}

std::span<char> ReadBuffer::prepare(std::size_t min) {
  // Slide the unread bytes to the front only when they are no more than what was
  // consumed ahead of them, so the moves are paid for by earlier reads.
  if (capacity_ - end_ < min && begin_ > 0 && size() <= begin_) {
    std::memmove(data_.get(), data_.get() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
  }
  if (capacity_ - end_ < min) {
    const std::size_t want = std::max({capacity_ * 2, size() + min, kFirstBuffer});
    auto fresh = std::make_unique_for_overwrite<char[]>(want);
    if (size() > 0) std::memcpy(fresh.get(), data_.get() + begin_, size());
    end_ = size();
    begin_ = 0;
    data_ = std::move(fresh);
    capacity_ = want;
  }
  return {data_.get() + end_, capacity_ - end_};
}

// --- reading ---

StreamConn::StreamConn(std::unique_ptr<Transport> transport, std::size_t limit) noexcept
    : transport_(std::move(transport)), limit_(limit) {
  if (std::optional<Transport::Handles> io = transport_->handles()) {
    io_ = *io;
    direct_ = true;
    if (io_.in == invalid_handle) eof_ = true;  // a write-only pipe reads as empty
  }
  drain_ok_.set();
  flushed_.set();
}

void StreamConn::begin_read() {
  if (upgrading_) throw RuntimeError("corio: a read was started during start_tls()");
  if (reading_) {
    throw RuntimeError("corio: a read was started while another task is already reading");
  }
  reading_ = true;
}

void StreamConn::end_read() noexcept {
  reading_ = false;
  waiting_since_.reset();
  finish_close_if_idle();
}

void StreamConn::throw_if_read_failed() const {
  if (read_error_) {
    throw std::system_error(read_error_, std::string("corio: ") + io_name(io_.read));
  }
}

StreamConn::FillAwaiter StreamConn::fill(std::size_t hint) {
  std::span<char> room = in.prepare(std::clamp(hint, kMinRecv, kMaxRecv));
  if (room.size() > kMaxRecv) room = room.first(kMaxRecv);
  if (track_idle_) waiting_since_ = EventLoop::running().now();
  return FillAwaiter(*this, room);
}

bool StreamConn::FillAwaiter::await_resume() {
  StreamConn& c = *conn_;
  c.filling_ = nullptr;
  c.waiting_since_.reset();
  std::size_t n = 0;
  try {
    n = received();
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::operation_canceled && c.eof_) return false;  // wake_reader()
    c.read_error_ = e.code();  // sticky, as asyncio's reader.set_exception()
    throw;
  }
  if (n == 0) {
    c.eof_ = true;
    return false;
  }
  c.in.commit(n);
  return true;
}

std::size_t StreamConn::FillAwaiter::received() {
  if (filtered_.valid()) return filtered_.operator co_await().await_resume();
  // A CancelledError (the task's own cancellation) wins over a close: it is not a
  // std::system_error, so it passes await_resume()'s handler.
  return IoAwaiter::await_resume();
}

void StreamConn::feed(std::string_view data, bool eof) {
  if (!fed_) {
    throw RuntimeError("corio: feed_data()/feed_eof() on a reader that reads a transport");
  }
  if (eof) {
    eof_ = true;
  } else {
    if (eof_) throw RuntimeError("corio: feed_data() after feed_eof()");
    if (data.empty()) return;
    std::span<char> room = in.prepare(data.size());
    std::memcpy(room.data(), data.data(), data.size());
    in.commit(data.size());
  }
  fed_input_.set();
}

void StreamConn::end_input() noexcept {
  eof_ = true;
  wake_reader();
}

void StreamConn::wake_reader() noexcept {
  // Cancelling the pending receive works on every backend, where shutdown(SHUT_RD)
  // does not: an overlapped WSARecv is not woken by it, and on Windows bytes arriving
  // after it reset the connection. The receive completes with ECANCELED (or with what
  // it got first), and with eof_ set the reader takes ECANCELED as the end of stream.
  if (!reading_ || filling_ == nullptr || !transport_->is_open()) return;
  filling_->stop();
}

void StreamConn::FillAwaiter::stop() noexcept {
  if (filtered_.valid()) {
    conn_->transport_->cancel_read();
  } else if (EventLoop* loop = EventLoop::current()) {
    loop->reactor().cancel(*this);
  }
}

// --- writing ---

void StreamConn::write(std::string_view data) {
  if (write_error_) throw std::system_error(write_error_, "corio: write");
  if (upgrading_) throw RuntimeError("corio: write() during start_tls()");
  if (state_ != State::open) {
    throw RuntimeError(state_ < State::closing ? "corio: write() after write_eof()"
                                               : "corio: write() after close()");
  }
  if (data.empty()) return;
  if (direct_ && io_.out == invalid_handle) {
    throw RuntimeError("corio: write() on a stream that has no write direction");
  }
  if (flusher_ == nullptr) {
    // Nothing queued and no send in flight: send now. Usually the transport takes it
    // all and the data never waits for a turn of the loop.
    const std::intptr_t r = transport_->try_write(data);
    if (r >= 0) {
      data.remove_prefix(static_cast<std::size_t>(r));
      if (data.empty()) {
        // A filter may have taken it all but not sent all of it yet: the flusher
        // finishes that.
        if (!direct_ && transport_->buffered_output() > 0) {
          update_paused();
          start_flusher();
        }
        return;
      }
    } else if (r != -EAGAIN) {
      write_error_ = std::error_code(static_cast<int>(-r), std::generic_category());
      throw std::system_error(write_error_, std::string("corio: ") + io_name(io_.write));
    }
  }
  pending_.append(data);
  update_paused();
  if (flusher_ == nullptr) start_flusher();
}

// Holds the connection while its flusher exists, and tells it when the flusher's frame
// goes: a task cancelled before its first step is destroyed without running its body,
// so the body cannot be trusted to clean up.
struct StreamConn::FlushLease {
  std::shared_ptr<StreamConn> conn;
  explicit FlushLease(std::shared_ptr<StreamConn> c) noexcept : conn(std::move(c)) {}
  FlushLease(FlushLease&&) noexcept = default;
  FlushLease& operator=(FlushLease&&) = delete;
  ~FlushLease() {
    if (conn) conn->flusher_gone();
  }
};

void StreamConn::start_flusher() {
  Task<void> t = create_task(flush(FlushLease(shared_from_this())));
  flusher_ = &t.promise();  // valid until flusher_gone(): the loop owns the task
  flushed_.clear();
}

Coro<void> StreamConn::flush(FlushLease lease) {
  StreamConn& c = *lease.conn;
  try {
    // abort() cancels us, but a send that completed first still returns normally.
    while (c.state_ != State::aborting) {
      if (c.sent_ == c.sending_.size()) {
        c.sending_.clear();
        c.sent_ = 0;
        if (c.pending_.empty()) {
          if (c.direct_ || c.transport_->buffered_output() == 0) break;
          co_await c.transport_->flush();  // what the filter took but did not send
          c.update_paused();
          continue;
        }
        c.sending_.swap(c.pending_);
      }
      const char* const from = c.sending_.data() + c.sent_;
      const std::size_t len = c.sending_.size() - c.sent_;
      std::size_t n = 0;
      if (c.direct_) {
        n = co_await IoAwaiter(c.io_.write, c.io_.out, const_cast<char*>(from), len, 0, nullptr,
                               detail::io_name(c.io_.write));
      } else {
        n = co_await c.transport_->write_some({from, len});
      }
      c.sent_ += n;
      c.update_paused();
    }
  } catch (const std::system_error& e) {
    c.write_error_ = e.code();  // raised by the next write() or drain()
  }
  // A CancelledError (abort(), or the loop shutting down) ends the task; the lease
  // drops what was not sent.
}

void StreamConn::flusher_gone() noexcept {
  flusher_ = nullptr;
  flushed_.set();
  if (write_buffer_size() > 0) drop_output();  // an error or a cancellation ended it early
  if (state_ == State::eof_pending) {
    try {
      transport_->write_eof();
    } catch (const std::system_error&) {
      // the connection failed meanwhile: nothing left to half-close
    }
    state_ = State::half_closed;
  }
  finish_close_if_idle();
}

void StreamConn::update_paused() noexcept {
  const std::size_t size = write_buffer_size();
  if (!paused_ && size > high_) {
    paused_ = true;
    drain_ok_.clear();
  } else if (paused_ && size <= low_) {
    paused_ = false;
    drain_ok_.set();
  }
}

void StreamConn::set_limits(std::size_t high, std::size_t low) noexcept {
  high_ = high;
  low_ = low;
  if (paused_ && write_buffer_size() <= low_) {
    paused_ = false;
    drain_ok_.set();
  } else {
    update_paused();
  }
}

void StreamConn::drop_output() noexcept {
  sending_.clear();
  sent_ = 0;
  pending_.clear();
  paused_ = false;
  drain_ok_.set();
}

void StreamConn::write_eof() {
  if (state_ != State::open) return;  // already half-closed or closing
  if (flusher_ != nullptr) {
    state_ = State::eof_pending;
    return;
  }
  transport_->write_eof();
  state_ = State::half_closed;
}

void StreamConn::close() noexcept {
  if (state_ >= State::closing) return;
  state_ = State::closing;
  eof_ = true;
  wake_reader();
  finish_close_if_idle();  // else the flusher or the reader finishes it
}

void StreamConn::abort() noexcept {
  if (state_ == State::aborting || state_ == State::closed) return;
  state_ = State::aborting;
  eof_ = true;
  pending_.clear();  // sending_ may be in a send in flight: the flusher's end drops it
  if (flusher_ != nullptr) {
    flusher_->request_cancel();
    paused_ = false;
    drain_ok_.set();
  } else {
    drop_output();
  }
  if (closer_ != nullptr) closer_->request_cancel();
  wake_reader();
  finish_close_if_idle();
}

void StreamConn::finish_close_if_idle() noexcept {
  if (state_ != State::closing && state_ != State::aborting) return;
  // An upgrade holds the transport: end_upgrade() closes it.
  if (flusher_ != nullptr || reading_ || upgrading_ || closer_ != nullptr) return;
  // A filter says goodbye before the socket closes (TLS: close_notify, and the peer's
  // in answer), so wait_closed() waits for that; abort() skips it. Without a loop to
  // run it on (or an owner to keep us alive meanwhile), close at once.
  if (state_ == State::closing && transport_ && !direct_ && transport_->is_open() &&
      EventLoop::current() != nullptr) {
    if (std::shared_ptr<StreamConn> self = weak_from_this().lock()) {
      try {
        Task<void> t = create_task(close_transport(std::move(self)));
        closer_ = &t.promise();  // valid until close_transport() ends: the loop owns it
        return;
      } catch (const std::bad_alloc&) {
        // no room for the task: close without the goodbye
      }
    }
  }
  if (transport_) transport_->close();
  state_ = State::closed;
  closed_.set();
}

Coro<void> StreamConn::close_transport(std::shared_ptr<StreamConn> self) {
  StreamConn& c = *self;
  try {
    co_await c.transport_->close_gracefully();
  } catch (const CancelledError&) {
    // abort(), or the loop ending: close without waiting any more
  }
  c.transport_->close();
  c.closer_ = nullptr;
  c.state_ = State::closed;
  c.closed_.set();
}

// --- upgrading ---

std::unique_ptr<Transport> StreamConn::begin_upgrade(std::string& unread) {
  if (fed_ || !transport_) throw RuntimeError("corio: start_tls() needs a stream over a transport");
  if (write_error_) throw std::system_error(write_error_, "corio: write");
  if (state_ != State::open) throw RuntimeError("corio: start_tls() on a closing stream");
  if (upgrading_) throw RuntimeError("corio: start_tls() while another one runs");
  if (reading_) throw RuntimeError("corio: start_tls() while a task is reading");
  if (flusher_ != nullptr) throw RuntimeError("corio: start_tls() while output is queued");
  unread = in.take(in.size());
  upgrading_ = true;
  return std::move(transport_);
}

void StreamConn::end_upgrade(std::unique_ptr<Transport> t) noexcept {
  upgrading_ = false;
  transport_ = std::move(t);
  if (!transport_) {
    abort();
    finish_close_if_idle();  // abort() does nothing if a close was already under way
    return;
  }
  if (std::optional<Transport::Handles> io = transport_->handles()) {
    io_ = *io;
    direct_ = true;
  } else {
    direct_ = false;
  }
  finish_close_if_idle();  // a close() while the handshake ran
}

// --- the rest ---

const Socket& StreamConn::socket() const {
  const Socket* s = transport_ ? transport_->socket() : nullptr;
  if (s == nullptr) throw InvalidStateError("corio: the stream's transport is not a socket");
  return *s;
}

const Address& StreamConn::peer_address() {
  if (!peer_) peer_ = socket().peer_address();
  return *peer_;
}

const Address& StreamConn::local_address() {
  if (!local_) local_ = socket().local_address();
  return *local_;
}

}  // namespace corio::detail
