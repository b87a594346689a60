// Server: accept loops, one task per connection, graceful shutdown
// (asyncio/base_events.py Server and _accept_connection).
#include "corio/coro/server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "corio/coro/errors.hpp"
#include "corio/coro/event.hpp"
#include "corio/coro/io.hpp"
#include "corio/coro/loop.hpp"
#include "corio/coro/runtime_error.hpp"
#include "corio/coro/sleep.hpp"
#include "corio/coro/task.hpp"
#include "corio/coro/wait.hpp"
#include "coro/stream_conn.hpp"
#include "coro/tls_transport.hpp"

namespace corio {
namespace detail {

/// What a Server handle points to. Its tasks (accept loops, handlers, the idle reaper)
/// each hold it through a TaskLease; the state keeps only non-owning pointers to them,
/// so there is no cycle and a task's frame goes as soon as it finishes.
class ServerState : public std::enable_shared_from_this<ServerState> {
 public:
  enum class State : std::uint8_t { serving, closed };
  enum class Kind : std::uint8_t { accept, handler, reaper };

  ServerState(StreamHandler h, ServerOptions o) : handler(std::move(h)), options(o) {}

  void start(std::vector<Address> addrs);
  void close() noexcept;
  void cancel_handlers() noexcept;
  void for_each_conn(void (StreamConn::*fn)() noexcept) noexcept;
  void start_connection(Socket sock);
  void task_gone(Kind kind, std::uint64_t id) noexcept;

  struct Connection {
    PromiseBase* task = nullptr;
    std::weak_ptr<StreamConn> conn;
  };

  StreamHandler handler;
  ServerOptions options;          // its tls pointer is not used after the start
  std::optional<TlsContext> tls;  // the server's own share of options.tls
  std::vector<Socket> listeners;
  std::vector<Address> addresses;
  std::string unix_path;                   // a socket file to remove once closed
  std::vector<PromiseBase*> accept_tasks;  // by listener; nullptr once gone
  std::size_t accepting = 0;
  PromiseBase* reaper = nullptr;
  std::unordered_map<std::uint64_t, Connection> connections;
  std::uint64_t next_id = 0;
  State state = State::serving;
  bool serving_forever = false;
  Event closed_ev;    // close() was called
  Event finished_ev;  // closed, and every task of the server has ended

 private:
  void check_finished() noexcept;
};

namespace {

// Keeps the server state alive while one of its tasks exists and unregisters the task
// when its frame goes, even for a task cancelled before its first step (whose body
// never runs, so the body cannot be relied on to clean up).
struct TaskLease {
  std::shared_ptr<ServerState> state;
  ServerState::Kind kind;
  std::uint64_t id;

  TaskLease(std::shared_ptr<ServerState> s, ServerState::Kind k, std::uint64_t i) noexcept
      : state(std::move(s)), kind(k), id(i) {}
  TaskLease(TaskLease&&) noexcept = default;
  TaskLease& operator=(TaskLease&&) = delete;
  ~TaskLease() {
    if (state) state->task_gone(kind, id);
  }
};

bool is_transient(int error) noexcept {
  switch (error) {
    // accept(2): Linux passes errors of the pending connection on to accept(); they
    // say nothing about the listener, so take the next connection.
    case ECONNABORTED:
    case EINTR:
    case EAGAIN:
    case EPROTO:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
      return true;
    default:
      return false;
  }
}

// accept() whose failure is a value (-errno) instead of a std::system_error: the accept
// loop handles every error itself, and a listener out of descriptors should not pay for
// an exception on each attempt. Cancellation still raises CancelledError.
class [[nodiscard]] TryAccept : public IoAwaiter {
 public:
  explicit TryAccept(native_handle listener) noexcept
      : IoAwaiter(OpCode::accept, listener, nullptr, 0, 0, nullptr, "accept") {}
  std::intptr_t await_resume() const {
    throw_if_cancelled();
    return result;
  }
};

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return std::string(typeid(ex).name()) + ": " + ex.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

// TCP_NODELAY, as asyncio sets it; a failure here is not worth losing the client.
void set_no_delay(Socket& conn) noexcept {
  try {
    conn.set_option(SocketOption::no_delay, 1);
  } catch (const std::system_error&) {
    // a connection already reset: the handler will find out
  }
}

Coro<void> accept_loop(TaskLease lease) {
  ServerState& s = *lease.state;
  const Socket& listener = s.listeners[lease.id];
  const AddressFamily family = s.addresses[lease.id].family();
  const bool tcp = family == AddressFamily::ipv4 || family == AddressFamily::ipv6;
  bool reported = false;
  while (s.state == ServerState::State::serving) {
    const std::intptr_t r = co_await TryAccept(listener.handle());
    if (r >= 0) {
      Socket conn(static_cast<native_handle>(r));
      if (s.state != ServerState::State::serving) break;  // closed as it arrived: drop it
      reported = false;
      if (tcp) set_no_delay(conn);
      s.start_connection(std::move(conn));
      continue;
    }
    const int error = static_cast<int>(-r);
    if (is_transient(error)) continue;
    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or something
    // unexpected. The connection stays queued and an immediate retry would fail the same
    // way, in a busy loop: wait, as asyncio does with accept_retry_delay.
    if (!reported) {
      reported = true;
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(s.options.accept_retry_delay);
      // Logged once per episode. strerror, not std::error_code::message(): its virtual
      // call trips UBSan's vptr check while no descriptor is free (the check probes
      // memory through a pipe), and the exception-free TryAccept avoids it likewise.
      std::fprintf(stderr, "corio: accept() on %s failed (%s); retrying every %lld ms\n",
                   s.addresses[lease.id].to_string().c_str(), std::strerror(error),
                   static_cast<long long>(ms.count()));
    }
    co_await sleep(s.options.accept_retry_delay);
  }
}

// The TLS handshake of a new connection, in its handler's task (so shutdown() cancels a
// slow one like a handler); null if it failed, which only this connection sees.
Coro<std::shared_ptr<StreamConn>> handshake(ServerState& s, Socket sock) {
  std::string peer = "?";
  try {
    peer = sock.peer_address().to_string();
  } catch (const std::system_error&) {
    // reset already: the handshake below says so
  }
  try {
    // Named locals, not temporaries, as arguments: see streams_for() (GCC 12).
    std::unique_ptr<Transport> plain = socket_transport(std::move(sock));
    std::string no_name;
    std::unique_ptr<detail::TlsTransport> session = co_await detail::start_tls_session(
        std::move(plain), *s.tls, std::move(no_name), s.options.tls_handshake_timeout);
    session->set_shutdown_timeout(s.options.tls_shutdown_timeout);
    co_return std::make_shared<StreamConn>(std::move(session), s.options.limit);
  } catch (const std::exception& e) {
    // asyncio reports these to the loop's exception handler and closes the transport.
    std::fprintf(stderr, "corio: TLS handshake with %s failed: %s\n", peer.c_str(), e.what());
  }
  co_return nullptr;
}

Coro<void> serve_connection(TaskLease lease, std::shared_ptr<StreamConn> conn, Socket tls_sock) {
  ServerState& s = *lease.state;
  if (!conn) {
    conn = co_await handshake(s, std::move(tls_sock));
    if (!conn) co_return;
    if (s.options.idle_timeout) conn->track_idle();
    auto it = s.connections.find(lease.id);
    if (it != s.connections.end()) it->second.conn = conn;
  }
  std::exception_ptr error;
  bool cancelled = false;
  try {
    co_await s.handler(StreamReader(conn), StreamWriter(conn));
  } catch (const CancelledError&) {
    cancelled = true;
  } catch (...) {
    error = std::current_exception();
  }
  if (cancelled) {
    conn->abort();  // shutdown(): no lingering flush to a client that does not read
  } else if (error) {
    std::string peer = "?";
    try {
      peer = conn->peer_address().to_string();
    } catch (const std::system_error&) {
      // the peer is gone already
    }
    std::fprintf(stderr, "corio: unhandled exception in a connection handler (peer %s): %s\n",
                 peer.c_str(), describe(error).c_str());
    conn->close();
  }
  // On a normal return the connection lives on while the handler's streams do (it may
  // have kept the writer); it closes, after sending what is queued, when they are gone.
}

Coro<void> reap_idle(TaskLease lease) {
  ServerState& s = *lease.state;
  const Duration limit = *s.options.idle_timeout;
  const Duration tick = std::max<Duration>(limit / 4, std::chrono::milliseconds(1));
  for (;;) {
    co_await sleep(tick);
    const TimePoint now = EventLoop::running().now();
    for (auto& entry : s.connections) {
      std::shared_ptr<StreamConn> conn = entry.second.conn.lock();
      if (!conn) continue;
      const std::optional<TimePoint> since = conn->waiting_since();
      if (since && now - *since >= limit) conn->end_input();
    }
  }
}

Coro<void> wait_finished(std::shared_ptr<ServerState> s) {
  co_await s->finished_ev.wait();
}

// Clears serving_forever however serve_forever() ends.
struct ServingForever {
  explicit ServingForever(ServerState& s) : s_(s) { s_.serving_forever = true; }
  ~ServingForever() { s_.serving_forever = false; }
  ServingForever(const ServingForever&) = delete;
  ServingForever& operator=(const ServingForever&) = delete;
  ServerState& s_;
};

Coro<void> serve_forever_impl(std::shared_ptr<ServerState> s) {
  if (s->state != ServerState::State::serving) throw RuntimeError("corio: the server is closed");
  if (s->serving_forever) throw RuntimeError("corio: serve_forever() is already running");
  ServingForever guard(*s);
  std::exception_ptr cancel;
  try {
    co_await s->closed_ev.wait();
  } catch (const CancelledError&) {
    cancel = std::current_exception();
  }
  s->close();
  co_await s->finished_ev.wait();
  if (cancel) std::rethrow_exception(cancel);
}

Coro<void> shutdown_impl(std::shared_ptr<ServerState> s, Duration grace) {
  s->close();
  bool timed_out = false;
  if (!s->finished_ev.is_set()) {
    try {
      co_await wait_for(s->finished_ev.wait(), grace);
    } catch (const TimeoutError&) {
      timed_out = true;
    }
  }
  if (timed_out) {
    s->cancel_handlers();
    co_await s->finished_ev.wait();
  }
}

Server start_listening(StreamHandler handler, std::vector<Address> addrs,
                       const ServerOptions& options, std::optional<TlsContext> tls,
                       std::string unix_path) {
  if (!handler) throw std::invalid_argument("corio: a server needs a handler");
  if (addrs.empty()) throw std::invalid_argument("corio: no address to listen on");
  auto state = std::make_shared<ServerState>(std::move(handler), options);
  state->tls = std::move(tls);
  state->options.tls = nullptr;  // it may dangle from now on: state->tls is the one
  state->unix_path = std::move(unix_path);
  state->start(std::move(addrs));
  return Server(std::move(state));
}

}  // namespace

void ServerState::start(std::vector<Address> addrs) {
  for (const Address& a : addrs) {
    ListenOptions lo;
    lo.backlog = options.backlog;
    lo.reuse_port = options.reuse_port;
    lo.v6_only = true;  // as asyncio: lets 0.0.0.0 and :: share a port
    listeners.push_back(listen_on(a, lo));
    addresses.push_back(a.family() == AddressFamily::local ? a : listeners.back().local_address());
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    Task<void> t = create_task(accept_loop(TaskLease(shared_from_this(), Kind::accept, i)));
    accept_tasks.push_back(&t.promise());
    ++accepting;
  }
  if (options.idle_timeout) {
    Task<void> t = create_task(reap_idle(TaskLease(shared_from_this(), Kind::reaper, 0)));
    reaper = &t.promise();
  }
}

void ServerState::start_connection(Socket sock) {
  std::shared_ptr<StreamConn> conn;
  if (!tls) {
    conn = std::make_shared<StreamConn>(std::move(sock), options.limit);
    if (options.idle_timeout) conn->track_idle();
  }
  const std::uint64_t id = next_id++;
  Connection& entry = connections[id];
  entry.conn = conn;  // a TLS connection's once its handshake is done
  Task<void> t = create_task(
      serve_connection(TaskLease(shared_from_this(), Kind::handler, id), conn, std::move(sock)));
  entry.task = &t.promise();
}

void ServerState::close() noexcept {
  if (state == State::closed) return;
  state = State::closed;
  for (PromiseBase* t : accept_tasks) {
    if (t != nullptr) t->request_cancel();
  }
  if (reaper != nullptr) reaper->request_cancel();
  closed_ev.set();
  check_finished();
}

void ServerState::cancel_handlers() noexcept {
  std::vector<std::uint64_t> ids;
  ids.reserve(connections.size());
  for (const auto& entry : connections)
    ids.push_back(entry.first);
  for (std::uint64_t id : ids) {
    auto it = connections.find(id);
    if (it != connections.end() && it->second.task != nullptr) it->second.task->request_cancel();
  }
}

void ServerState::for_each_conn(void (StreamConn::*fn)() noexcept) noexcept {
  for (auto& entry : connections) {
    if (std::shared_ptr<StreamConn> conn = entry.second.conn.lock()) ((*conn).*fn)();
  }
}

void ServerState::task_gone(Kind kind, std::uint64_t id) noexcept {
  switch (kind) {
    case Kind::accept:
      accept_tasks[id] = nullptr;
      listeners[id].close();  // its accept has completed: now the socket may go
      if (--accepting == 0 && !unix_path.empty()) {
        std::error_code ec;
        if (std::filesystem::is_socket(unix_path, ec)) std::filesystem::remove(unix_path, ec);
      }
      break;
    case Kind::handler:
      connections.erase(id);
      break;
    case Kind::reaper:
      reaper = nullptr;
      break;
  }
  check_finished();
}

void ServerState::check_finished() noexcept {
  if (state == State::closed && accepting == 0 && reaper == nullptr && connections.empty()) {
    finished_ev.set();
  }
}

}  // namespace detail

using detail::ServerState;

Server::Server(std::shared_ptr<ServerState> state) noexcept : s_(std::move(state)) {}

Server& Server::operator=(Server&& o) noexcept {
  if (this != &o) {
    close();
    s_ = std::move(o.s_);
  }
  return *this;
}

Server::~Server() {
  close();
}

std::span<const Socket> Server::sockets() const noexcept {
  if (!is_serving()) return {};
  return s_->listeners;
}

std::vector<Address> Server::addresses() const {
  if (!is_serving()) return {};
  return s_->addresses;
}

bool Server::is_serving() const noexcept {
  return s_ && s_->state == ServerState::State::serving;
}

std::size_t Server::active_connections() const noexcept {
  return s_ ? s_->connections.size() : 0;
}

void Server::close() noexcept {
  if (s_) s_->close();
}

Coro<void> Server::wait_closed() {
  if (!s_) throw InvalidStateError("corio: empty Server");
  return detail::wait_finished(s_);
}

Coro<void> Server::serve_forever() {
  if (!s_) throw InvalidStateError("corio: empty Server");
  return detail::serve_forever_impl(s_);
}

Coro<void> Server::shutdown(Duration grace) {
  if (!s_) throw InvalidStateError("corio: empty Server");
  return detail::shutdown_impl(s_, grace);
}

void Server::close_clients() noexcept {
  if (s_) s_->for_each_conn(&detail::StreamConn::close);
}

void Server::abort_clients() noexcept {
  if (s_) s_->for_each_conn(&detail::StreamConn::abort);
}

// The public start_*() are plain functions: they take the server's share of the TLS
// context before the coroutine that listens starts (ServerOptions only points at it).
namespace {

std::optional<TlsContext> own_tls(const ServerOptions& options) {
  if (options.tls == nullptr) return std::nullopt;
  if (options.tls->role() != TlsRole::server) {
    throw std::invalid_argument("corio: a TLS server needs a server context (TlsContext::server)");
  }
  return *options.tls;
}

Coro<Server> serve_host(StreamHandler handler, std::string host, std::uint16_t port,
                        ServerOptions options, std::optional<TlsContext> tls) {
  std::vector<Address> addrs = co_await resolve(std::move(host), port);
  co_return detail::start_listening(std::move(handler), std::move(addrs), options, std::move(tls),
                                    {});
}

Coro<Server> serve_address(StreamHandler handler, Address addr, ServerOptions options,
                           std::optional<TlsContext> tls) {
  std::vector<Address> addrs{addr};
  co_return detail::start_listening(std::move(handler), std::move(addrs), options, std::move(tls),
                                    {});
}

Coro<Server> serve_unix(StreamHandler handler, std::string path, ServerOptions options,
                        std::optional<TlsContext> tls) {
  std::string file;
  if (!path.empty() && path[0] != '@') {
    // A socket file left by a server that is gone would make bind() fail with
    // EADDRINUSE; anything that is not a socket is left alone (bind reports it).
    std::error_code ec;
    if (std::filesystem::is_socket(path, ec)) std::filesystem::remove(path, ec);
    file = path;
  }
  std::vector<Address> addrs{Address::local(path)};
  co_return detail::start_listening(std::move(handler), std::move(addrs), options, std::move(tls),
                                    std::move(file));
}

}  // namespace

Coro<Server> start_server(StreamHandler handler, std::string host, std::uint16_t port,
                          ServerOptions options) {
  std::optional<TlsContext> tls = own_tls(options);
  return serve_host(std::move(handler), std::move(host), port, options, std::move(tls));
}

Coro<Server> start_server(StreamHandler handler, Address addr, ServerOptions options) {
  std::optional<TlsContext> tls = own_tls(options);
  return serve_address(std::move(handler), addr, options, std::move(tls));
}

Coro<Server> start_unix_server(StreamHandler handler, std::string path, ServerOptions options) {
  std::optional<TlsContext> tls = own_tls(options);
  return serve_unix(std::move(handler), std::move(path), options, std::move(tls));
}

}  // namespace corio
