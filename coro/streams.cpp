// StreamReader and StreamWriter: the public handles over a StreamConn, and the
// coroutines behind their reads (asyncio/streams.py).
#include "corio/coro/streams.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <system_error>

#include "corio/coro/errors.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/sleep.hpp"
#include "corio/coro/timeout.hpp"
#include "coro/stream_conn.hpp"
#include "coro/tls_transport.hpp"

namespace corio {
namespace {

using detail::StreamConn;
using ConnPtr = std::shared_ptr<StreamConn>;

StreamConn& checked(const ConnPtr& conn) {
  if (!conn) throw InvalidStateError("corio: the stream has no connection (moved from?)");
  return *conn;
}

// Marks one read call, so a second task reading at the same time is refused and a
// close() that waits for the reader is finished when it leaves.
class ReadScope {
 public:
  explicit ReadScope(StreamConn& c) : c_(c) { c_.begin_read(); }
  ~ReadScope() { c_.end_read(); }
  ReadScope(const ReadScope&) = delete;
  ReadScope& operator=(const ReadScope&) = delete;

 private:
  StreamConn& c_;
};

// Each coroutine takes the connection by value, so it stays alive (and its socket open)
// for as long as a read is in progress, whatever happens to the handles.

// Each read waits for more input with `if (c.fed()) co_await c.next_feed(); else
// co_await c.fill(hint);`, spelled out at each site: the two awaiters differ in type,
// and wrapping them in a coroutine would cost a frame per receive.

Coro<std::string> read_some(ConnPtr conn, std::size_t n) {
  StreamConn& c = *conn;
  ReadScope scope(c);
  c.throw_if_read_failed();
  if (n == 0) co_return std::string();
  if (n == SIZE_MAX) {
    while (!c.eof()) {
      if (c.fed()) {
        co_await c.next_feed();
      } else {
        co_await c.fill(SIZE_MAX);
      }
    }
    co_return c.in.take(c.in.size());
  }
  while (c.in.size() == 0 && !c.eof()) {
    if (c.fed()) {
      co_await c.next_feed();
    } else {
      co_await c.fill(n);
    }
  }
  co_return c.in.take(std::min(n, c.in.size()));
}

Coro<std::string> read_exactly(ConnPtr conn, std::size_t n) {
  StreamConn& c = *conn;
  ReadScope scope(c);
  c.throw_if_read_failed();
  while (c.in.size() < n) {
    if (c.eof()) throw IncompleteReadError(c.in.take(c.in.size()), n);
    if (c.fed()) {
      co_await c.next_feed();
    } else {
      co_await c.fill(n - c.in.size());
    }
  }
  co_return c.in.take(n);
}

enum class UntilMode : bool { until, line };

// asyncio's StreamReader.readuntil: the search resumes where the last one stopped
// (less the separator's length minus one), so a long chunk is scanned once.
Coro<std::string> read_until(ConnPtr conn, std::string separator, UntilMode mode) {
  StreamConn& c = *conn;
  ReadScope scope(c);
  c.throw_if_read_failed();
  const std::size_t seplen = separator.size();
  std::size_t offset = 0;
  std::size_t found = std::string_view::npos;
  for (;;) {
    const std::string_view buf = c.in.view();
    if (buf.size() >= offset + seplen) {
      found = buf.find(separator, offset);
      if (found != std::string_view::npos) break;
      offset = buf.size() + 1 - seplen;
      if (offset > c.limit_for_reads()) {
        if (mode == UntilMode::line) c.in.consume(c.in.size());  // asyncio drops it all
        throw LimitOverrunError("corio: separator not found and the chunk exceeds the limit",
                                offset);
      }
    }
    if (c.eof()) {
      std::string partial = c.in.take(c.in.size());
      if (mode == UntilMode::line) co_return partial;
      throw IncompleteReadError(std::move(partial), std::nullopt);
    }
    if (c.fed()) {
      co_await c.next_feed();
    } else {
      co_await c.fill(0);
    }
  }
  if (found > c.limit_for_reads()) {
    // readline drops the over-long line with its separator; readuntil keeps it.
    if (mode == UntilMode::line) c.in.consume(found + seplen);
    throw LimitOverrunError("corio: separator found but the chunk is longer than the limit", found);
  }
  co_return c.in.take(found + seplen);
}

Coro<void> drain_conn(ConnPtr conn) {
  StreamConn& c = *conn;
  for (;;) {
    // asyncio's drain() raises the reader's exception first: the connection is broken.
    c.throw_if_read_failed();
    if (c.write_error()) throw std::system_error(c.write_error(), "corio: drain");
    if (!c.paused()) break;
    co_await c.drain_event().wait();
  }
  // Count the call against the step's budget like an I/O call that finished at once,
  // so a write()+drain() loop on a fast socket still lets the other tasks run.
  if (!EventLoop::running().consume_budget()) co_await sleep(Duration::zero());
}

Coro<void> wait_conn_closed(ConnPtr conn) {
  co_await conn->closed_event().wait();
}

std::string describe_incomplete(std::size_t got, std::optional<std::size_t> expected) {
  std::string s = "corio: " + std::to_string(got) + " bytes read on a total of ";
  s += expected ? std::to_string(*expected) : std::string("undefined");
  return s + " expected bytes";
}

Coro<Socket> connect_with_timeout(Address addr, std::optional<Duration> limit) {
  if (!limit) co_return co_await connect(addr);
  co_return co_await timeout(*limit).run(connect(addr));
}

// What a connection's TLS needs, owned: StreamOptions only points at the context and
// views the name for the duration of the call. A class with a constructor, not an
// aggregate: GCC 12 copies an aggregate coroutine parameter with a non-trivial
// destructor wrongly when it comes from a temporary.
class TlsPlan {
 public:
  TlsPlan(const StreamOptions& o, std::string_view host)
      : name_(o.server_hostname.empty() ? host : o.server_hostname),
        timeout_(o.tls_handshake_timeout),
        shutdown_timeout_(o.tls_shutdown_timeout) {
    if (o.tls == nullptr) return;
    if (o.tls->role() != TlsRole::client) {
      throw std::invalid_argument("corio: open_connection() needs a client TLS context");
    }
    ctx_ = *o.tls;
  }
  [[nodiscard]] const std::optional<TlsContext>& context() const noexcept { return ctx_; }
  [[nodiscard]] std::string& name() noexcept { return name_; }
  [[nodiscard]] Duration timeout() const noexcept { return timeout_; }
  [[nodiscard]] Duration shutdown_timeout() const noexcept { return shutdown_timeout_; }

 private:
  std::optional<TlsContext> ctx_;
  std::string name_;
  Duration timeout_;
  Duration shutdown_timeout_;
};

Coro<std::pair<StreamReader, StreamWriter>> streams_for(Socket sock, std::size_t limit,
                                                        TlsPlan& tls) {
  // asyncio sets TCP_NODELAY on every TCP transport: writes are already coalesced in the
  // buffer, and Nagle's delay would only add latency to request/response traffic.
  const AddressFamily family = sock.local_address().family();
  if (family == AddressFamily::ipv4 || family == AddressFamily::ipv6) {
    sock.set_option(SocketOption::no_delay, 1);
  }
  if (!tls.context()) co_return make_streams(std::move(sock), limit);
  std::unique_ptr<Transport> plain = socket_transport(std::move(sock));
  std::unique_ptr<detail::TlsTransport> session = co_await detail::start_tls_session(
      std::move(plain), *tls.context(), std::move(tls.name()), tls.timeout());
  session->set_shutdown_timeout(tls.shutdown_timeout());
  co_return make_streams(std::move(session), limit);
}

}  // namespace

IncompleteReadError::IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
    : std::runtime_error(describe_incomplete(partial.size(), expected)),
      partial_(std::move(partial)),
      expected_(expected) {}

// --- StreamReader ---

Coro<std::string> StreamReader::read(std::size_t n) {
  checked(conn_);
  return read_some(conn_, n);
}

Coro<std::string> StreamReader::readexactly(std::size_t n) {
  checked(conn_);
  return read_exactly(conn_, n);
}

Coro<std::string> StreamReader::readline() {
  checked(conn_);
  return read_until(conn_, "\n", UntilMode::line);
}

Coro<std::string> StreamReader::readuntil(std::string_view separator) {
  checked(conn_);
  if (separator.empty()) throw std::invalid_argument("corio: readuntil() needs a separator");
  // Copied: the coroutine may outlive the caller's view.
  return read_until(conn_, std::string(separator), UntilMode::until);
}

bool StreamReader::at_eof() const noexcept {
  return conn_ && conn_->eof() && conn_->in.size() == 0;
}

std::size_t StreamReader::limit() const noexcept {
  return conn_ ? conn_->limit_for_reads() : 0;
}

std::size_t StreamReader::buffered() const noexcept {
  return conn_ ? conn_->in.size() : 0;
}

void StreamReader::feed_data(std::string_view data) {
  checked(conn_).feed(data, false);
}

void StreamReader::feed_eof() {
  checked(conn_).feed({}, true);
}

// --- StreamWriter ---

void StreamWriter::write(std::string_view data) {
  checked(conn_).write(data);
}

Coro<void> StreamWriter::drain() {
  checked(conn_);
  return drain_conn(conn_);
}

bool StreamWriter::can_write_eof() const noexcept {
  return conn_ && conn_->transport() != nullptr && conn_->transport()->can_write_eof();
}

void StreamWriter::write_eof() {
  StreamConn& c = checked(conn_);
  if (!can_write_eof()) throw RuntimeError("corio: this transport cannot end its write side alone");
  c.write_eof();
}

void StreamWriter::close() noexcept {
  if (conn_) conn_->close();
}

void StreamWriter::abort() noexcept {
  if (conn_) conn_->abort();
}

bool StreamWriter::is_closing() const noexcept {
  return conn_ && conn_->is_closing();
}

Coro<void> StreamWriter::wait_closed() {
  checked(conn_);
  return wait_conn_closed(conn_);
}

std::size_t StreamWriter::write_buffer_size() const noexcept {
  return conn_ ? conn_->write_buffer_size() : 0;
}

void StreamWriter::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
  const std::size_t lo = low.value_or(high / 4);
  if (lo > high) throw std::invalid_argument("corio: write buffer limits need low <= high");
  checked(conn_).set_limits(high, lo);
}

std::pair<std::size_t, std::size_t> StreamWriter::write_buffer_limits() const noexcept {
  if (!conn_) return {0, 0};
  return {conn_->low_water(), conn_->high_water()};
}

Address StreamWriter::peer_address() const {
  return checked(conn_).peer_address();
}

Address StreamWriter::local_address() const {
  return checked(conn_).local_address();
}

const Socket& StreamWriter::socket() const {
  return checked(conn_).socket();
}

std::optional<TlsInfo> StreamWriter::tls_info() const {
  const Transport* t = checked(conn_).transport();  // none during and after a failed start_tls
  return t == nullptr ? std::nullopt : corio::tls_info(*t);
}

namespace {

// Owns what start_tls() was given: the caller's context and name may go at once.
Coro<void> upgrade_stream(std::shared_ptr<StreamConn> conn, TlsContext ctx, std::string host,
                          Duration limit, Duration shutdown_limit) {
  StreamConn& c = *conn;
  while (c.flushing())
    co_await c.flushed_event().wait();
  std::string early;
  std::unique_ptr<Transport> plain = c.begin_upgrade(early);
  std::unique_ptr<detail::TlsTransport> session;
  try {
    session = co_await detail::start_tls_session(std::move(plain), ctx, std::move(host), limit,
                                                 std::move(early));
    session->set_shutdown_timeout(shutdown_limit);
  } catch (...) {
    c.end_upgrade(nullptr);
    throw;
  }
  c.end_upgrade(std::move(session));
}

}  // namespace

Coro<void> StreamWriter::start_tls(const TlsContext& ctx, TlsOptions options) {
  checked(conn_);
  detail::check_server_hostname(ctx, options.server_hostname);  // before the stream is lost
  return upgrade_stream(conn_, ctx, std::string(options.server_hostname), options.handshake_timeout,
                        options.shutdown_timeout);
}

Transport& StreamWriter::transport() const {
  Transport* t = checked(conn_).transport();  // fed streams are readers: never here
  if (t == nullptr) throw InvalidStateError("corio: the stream lost its transport in start_tls()");
  return *t;
}

// --- opening ---

std::pair<StreamReader, StreamWriter> make_streams(Socket sock, std::size_t limit) {
  auto conn = std::make_shared<StreamConn>(std::move(sock), limit);
  return {StreamReader(conn), StreamWriter(std::move(conn))};
}

std::pair<StreamReader, StreamWriter> make_streams(std::unique_ptr<Transport> transport,
                                                   std::size_t limit) {
  if (!transport) throw std::invalid_argument("corio: make_streams() needs a transport");
  auto conn = std::make_shared<StreamConn>(std::move(transport), limit);
  return {StreamReader(conn), StreamWriter(std::move(conn))};
}

StreamReader connect_read_pipe(native_handle read_end, std::size_t limit) {
  return make_streams(pipe_transport(read_end, invalid_handle), limit).first;
}

StreamWriter connect_write_pipe(native_handle write_end) {
  return make_streams(pipe_transport(invalid_handle, write_end)).second;
}

StreamReader make_stream_reader(std::size_t limit) {
  return StreamReader(std::make_shared<StreamConn>(StreamConn::Fed{}, limit));
}

// The public open_*() are plain functions: they copy what the options point at into a
// TlsPlan before the coroutine that connects starts.
namespace {

Coro<std::pair<StreamReader, StreamWriter>> open_host(std::string host, std::uint16_t port,
                                                      StreamOptions options, TlsPlan tls) {
  Socket s = co_await connect(host, port, options.timeout);
  co_return co_await streams_for(std::move(s), options.limit, tls);
}

Coro<std::pair<StreamReader, StreamWriter>> open_address(Address addr, StreamOptions options,
                                                         TlsPlan tls) {
  Socket s = co_await connect_with_timeout(addr, options.timeout);
  co_return co_await streams_for(std::move(s), options.limit, tls);
}

}  // namespace

Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                            StreamOptions options) {
  TlsPlan tls(options, host);
  return open_host(std::move(host), port, options, std::move(tls));
}

Coro<std::pair<StreamReader, StreamWriter>> open_connection(Address addr, StreamOptions options) {
  TlsPlan tls(options, addr.family() == AddressFamily::local ? std::string() : addr.host());
  return open_address(addr, options, std::move(tls));
}

Coro<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path,
                                                                 StreamOptions options) {
  TlsPlan tls(options, std::string_view());
  return open_address(Address::local(path), options, std::move(tls));
}

}  // namespace corio
