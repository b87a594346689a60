// IOCP backend. Every operation is one overlapped Winsock call (WSARecv, WSASend,
// WSARecvFrom, WSASendTo, AcceptEx, ConnectEx) whose OVERLAPPED lives in a slot owned by
// the backend; the completion port hands the slot back and the slot names the Operation.
// The Operation holds nothing of the backend's while in flight (its links belong to the
// lists above it): cancel() finds the slot through the handle's record, which lists the
// slots in flight on that handle (a recv and a send, typically).
// Completions are dequeued in batches with GetQueuedCompletionStatusEx; wake() posts a
// packet with its own key.
//
// Readiness waits (readable/writable) have no Winsock call: they use the AFD poll ioctl
// that WSAPoll itself is built on, issued asynchronously on the socket, as libuv, mio and
// wepoll do. It reports exactly the POSIX readiness (a full send buffer is not writable,
// a readiness wait consumes nothing, also on datagram sockets), which cheaper tricks
// (a zero-byte WSARecv, "writable at once") do not.
//
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is not used: every started operation completes
// through the port, so there is one path for results and submit() never finishes an
// operation inline except when Winsock refuses to start it.
#include "backends/iocp.hpp"

// winsock2.h first: windows.h would otherwise bring in the old winsock.h.
#include <winsock2.h>

#include <mswsock.h>
#include <windows.h>
#include <winternl.h>
#include <ws2tcpip.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <new>
#include <unordered_map>
#include <vector>

#include "corio/os/net.hpp"
#include "corio/util/intrusive_list.hpp"
#include "os/winsock.hpp"

namespace corio {
namespace {

constexpr ULONG_PTR kOpKey = 0;    // a socket's completion: the OVERLAPPED is in a Slot
constexpr ULONG_PTR kWakeKey = 1;  // a wake() packet, no OVERLAPPED

// The AFD poll ioctl (undocumented but stable since Windows XP; the layout libuv's
// src/win/winsock.h, mio and wepoll use). Wine implements WSAPoll on it as well.
constexpr ULONG kIoctlAfdPoll = 0x00012024;
constexpr ULONG kAfdPollReceive = 0x0001;
constexpr ULONG kAfdPollSend = 0x0004;
constexpr ULONG kAfdPollDisconnect = 0x0008;
constexpr ULONG kAfdPollAbort = 0x0010;
constexpr ULONG kAfdPollLocalClose = 0x0020;
constexpr ULONG kAfdPollAccept = 0x0080;
constexpr ULONG kAfdPollConnectFail = 0x0100;

struct AfdPollHandleInfo {
  HANDLE handle;
  ULONG events;
  NTSTATUS status;
};

struct AfdPollInfo {
  LARGE_INTEGER timeout;
  ULONG count;
  ULONG exclusive;
  AfdPollHandleInfo handles[1];
};

// FileReplaceCompletionInformation (Windows 8.1+): moves a handle to another port. A
// socket can be associated with one port only, so a socket that outlives its loop (the
// process-wide signal wake-up pair) is moved to the next loop's port with it.
constexpr int kFileReplaceCompletionInformation = 61;
struct FileCompletionInfo {
  HANDLE port;
  void* key;
};

struct KnownHandle;

// Everything an overlapped call needs until its completion, owned by the backend (not
// by the Operation) so that nothing the kernel still writes to can be freed early.
// Slots come from a free list that only grows: steady state allocates nothing.
struct Slot {
  OVERLAPPED ov{};  // first: the port returns its address
  Operation* op = nullptr;
  SOCKET socket = INVALID_SOCKET;
  Slot* next_free = nullptr;
  // In its handle's list of slots in flight (nullptr owner: the handle was released
  // under it, against the contract, and the close that follows ends it).
  KnownHandle* owner = nullptr;
  Slot* next_on_handle = nullptr;
  Slot* prev_on_handle = nullptr;
  WSABUF buf{};
  DWORD flags = 0;
  INT addr_len = 0;
  SOCKET accepted = INVALID_SOCKET;  // AcceptEx's pre-created socket
  AfdPollInfo poll{};
  // AcceptEx writes both addresses here, each with 16 bytes of slack it insists on.
  char accept_buf[2 * (sizeof(sockaddr_storage) + 16)];
};

constexpr DWORD kAcceptAddrLen = sizeof(sockaddr_storage) + 16;

using SlotList = util::IntrusiveList<Slot, &Slot::next_on_handle, &Slot::prev_on_handle>;

// A handle associated with the port, until release().
struct KnownHandle {
  SOCKET base = INVALID_SOCKET;  // for AFD poll: the socket below any layered provider
  SlotList in_flight;            // what cancel() searches: this handle's own, often one
};

// A started overlapped call: 0 if it is in flight (its completion will come), else the
// errno that kept it from starting.
int started(int rc) noexcept {
  if (rc == 0) return 0;
  const int err = ::WSAGetLastError();
  return err == WSA_IO_PENDING ? 0 : winsock::to_errno(static_cast<unsigned long>(err));
}

// Only the flags Winsock shares with POSIX; the rest (MSG_DONTWAIT, ...) mean nothing
// to an overlapped call.
DWORD native_flags(int flags) noexcept {
  return static_cast<DWORD>(flags) & (MSG_PEEK | MSG_OOB);
}

ULONG clamp_len(std::size_t n) noexcept {
  // A short transfer is allowed by the contract; WSABUF counts in ULONG.
  return static_cast<ULONG>(std::min<std::size_t>(n, 1u << 30));
}

template <class Fn>
bool extension(SOCKET s, GUID guid, Fn& fn) noexcept {
  DWORD bytes = 0;
  return ::WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &fn, sizeof fn,
                    &bytes, nullptr, nullptr) == 0;
}

class IocpBackend final : public Backend {
 public:
  IocpBackend(HANDLE port, LPFN_ACCEPTEX accept_ex, LPFN_CONNECTEX connect_ex,
              CompletionQueue& sink) noexcept
      : port_(port), accept_ex_(accept_ex), connect_ex_(connect_ex), sink_(sink) {}

  ~IocpBackend() override {
    // An operation still in flight would let the kernel write into a freed slot:
    // cancel them and wait (bounded) for their completions before freeing anything.
    for (auto& s : slots_) {
      if (s->op != nullptr) ::CancelIoEx(reinterpret_cast<HANDLE>(s->socket), &s->ov);
    }
    for (int i = 0; i < 100 && in_flight_ > 0; ++i) {
      OVERLAPPED_ENTRY entries[64];
      ULONG n = 0;
      if (!::GetQueuedCompletionStatusEx(port_, entries, 64, &n, 10, FALSE)) continue;
      for (ULONG k = 0; k < n; ++k) {
        if (entries[k].lpCompletionKey != kOpKey || entries[k].lpOverlapped == nullptr) continue;
        Slot& s = *reinterpret_cast<Slot*>(entries[k].lpOverlapped);
        if (s.accepted != INVALID_SOCKET) ::closesocket(s.accepted);
        s.op = nullptr;
        --in_flight_;
      }
    }
    ::CloseHandle(port_);
  }
  IocpBackend(const IocpBackend&) = delete;
  IocpBackend& operator=(const IocpBackend&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "iocp"; }
  [[nodiscard]] Capability capabilities() const noexcept override {
    return Capability::completion_based;
  }

  bool submit(Operation& op) noexcept override {
    const SOCKET s = static_cast<SOCKET>(op.handle);
    KnownHandle* known = associate(s);
    if (known == nullptr) {
      op.result = -association_error_;
      return true;
    }
    Slot& slot = take_slot(op, *known);
    int err = 0;
    switch (op.code) {
      case OpCode::accept:
        err = start_accept(slot);
        break;
      case OpCode::connect:
        err = start_connect(op, slot);
        break;
      case OpCode::recv:
        slot.flags = native_flags(op.flags);
        err = started(::WSARecv(s, &slot.buf, 1, nullptr, &slot.flags, &slot.ov, nullptr));
        break;
      case OpCode::send:
        err =
            started(::WSASend(s, &slot.buf, 1, nullptr, native_flags(op.flags), &slot.ov, nullptr));
        break;
      case OpCode::recvfrom:
        slot.flags = native_flags(op.flags);
        slot.addr_len = static_cast<INT>(sizeof op.address->data);
        err = started(::WSARecvFrom(s, &slot.buf, 1, nullptr, &slot.flags,
                                    reinterpret_cast<sockaddr*>(op.address->data), &slot.addr_len,
                                    &slot.ov, nullptr));
        break;
      case OpCode::sendto:
        err = started(::WSASendTo(s, &slot.buf, 1, nullptr, native_flags(op.flags),
                                  reinterpret_cast<const sockaddr*>(op.address->data),
                                  static_cast<int>(op.address->size), &slot.ov, nullptr));
        break;
      case OpCode::readable:
        err = start_poll(slot, known->base,
                         kAfdPollReceive | kAfdPollAccept | kAfdPollDisconnect | kAfdPollAbort |
                             kAfdPollConnectFail);
        break;
      case OpCode::writable:
        err = start_poll(slot, known->base, kAfdPollSend | kAfdPollAbort | kAfdPollConnectFail);
        break;
      case OpCode::read:
      case OpCode::readv:
        err = start_file_io(slot, false);
        break;
      case OpCode::write:
      case OpCode::writev:
        err = start_file_io(slot, true);
        break;
    }
    if (err == 0) return false;
    // Not started: no completion will come, so this is the operation's one result.
    op.result = err == kConnectedNow || err == kEndOfStream ? 0 : -err;
    put_slot(slot);
    return true;
  }

  void cancel(Operation& op) noexcept override {
    // Only an operation in flight has a slot, in its handle's list; none there means
    // its completion has been dequeued already.
    Slot* slot = in_flight_slot(op);
    if (slot == nullptr) return;
    // The slot, buffer and accept socket stay alive until the completion arrives, with
    // ERROR_OPERATION_ABORTED (-ECANCELED) if this won, its real result otherwise.
    // ERROR_NOT_FOUND means it already finished: nothing to do.
    (void)::CancelIoEx(reinterpret_cast<HANDLE>(slot->socket), &slot->ov);
  }

  void release(native_handle handle) noexcept override {
    auto it = known_.find(static_cast<SOCKET>(handle));
    if (it == known_.end()) return;
    // Nothing should be in flight here (the contract); if something is, its slot must
    // not point into the erased record when its completion comes.
    while (Slot* slot = it->second.in_flight.pop_front())
      slot->owner = nullptr;
    known_.erase(it);
  }

  int wait(std::chrono::nanoseconds timeout) noexcept override {
    DWORD ms = INFINITE;
    if (timeout >= std::chrono::nanoseconds::zero()) {
      // Rounded up: waking before the deadline would only make the loop wait again.
      const auto up = (timeout.count() + 999'999) / 1'000'000;
      ms = static_cast<DWORD>(std::min<long long>(up, INFINITE - 1));
    }
    OVERLAPPED_ENTRY entries[kBatch];
    ULONG n = 0;
    if (!::GetQueuedCompletionStatusEx(port_, entries, kBatch, &n, ms, FALSE)) {
      const DWORD err = ::GetLastError();
      return err == WAIT_TIMEOUT ? 0 : -winsock::to_errno(err);
    }
    int pushed = 0;
    for (ULONG i = 0; i < n; ++i) {
      if (entries[i].lpCompletionKey == kWakeKey) {
        woken_.store(false, std::memory_order_release);
        continue;
      }
      complete(*reinterpret_cast<Slot*>(entries[i].lpOverlapped),
               entries[i].dwNumberOfBytesTransferred);
      ++pushed;
    }
    return pushed;
  }

  // Not a sys::Waker: the port takes a user packet (PQCS), no descriptor needed. The
  // coalescing flag follows os/waker.hpp's WakeFlag protocol (consume, then lower).
  void wake() noexcept override {
    // Coalesced: one packet in the port is enough however many threads call this.
    if (woken_.exchange(true, std::memory_order_acq_rel)) return;
    if (!::PostQueuedCompletionStatus(port_, 0, kWakeKey, nullptr)) {
      woken_.store(false, std::memory_order_release);
    }
  }

 private:
  static constexpr ULONG kBatch = 128;
  static constexpr int kConnectedNow = -1;  // start_connect finished synchronously
  static constexpr int kEndOfStream = -2;   // start_file_io: the writer is gone, result 0

  // The socket's record, associating the socket with the port on first use; nullptr
  // (and association_error_) if it cannot be.
  KnownHandle* associate(SOCKET s) noexcept {
    auto it = known_.find(s);
    if (it != known_.end()) return &it->second;
    const auto h = reinterpret_cast<HANDLE>(s);
    if (::CreateIoCompletionPort(h, port_, kOpKey, 0) == nullptr) {
      const DWORD err = ::GetLastError();
      // ERROR_INVALID_PARAMETER: already associated, with an earlier loop's port.
      FileCompletionInfo info{port_, reinterpret_cast<void*>(kOpKey)};
      IO_STATUS_BLOCK iosb{};
      if (err != ERROR_INVALID_PARAMETER ||
          ::NtSetInformationFile(
              h, &iosb, &info, sizeof info,
              static_cast<FILE_INFORMATION_CLASS>(kFileReplaceCompletionInformation)) < 0) {
        association_error_ = winsock::to_errno(err);
        return nullptr;
      }
    }
    // Layered service providers may wrap the socket; AFD must see the base one.
    SOCKET base = s;
    DWORD bytes = 0;
    if (::WSAIoctl(s, SIO_BASE_HANDLE, nullptr, 0, &base, sizeof base, &bytes, nullptr, nullptr) !=
        0) {
      base = s;
    }
    try {
      KnownHandle& known = known_[s];
      known.base = base;
      return &known;
    } catch (...) {
      association_error_ = ENOMEM;
      return nullptr;
    }
  }

  Slot& take_slot(Operation& op, KnownHandle& known) noexcept {
    Slot* slot = free_slots_;
    if (slot != nullptr) {
      free_slots_ = slot->next_free;
    } else {
      slots_.push_back(std::make_unique<Slot>());  // grows once; bad_alloc terminates
      slot = slots_.back().get();
    }
    slot->ov = OVERLAPPED{};
    slot->op = &op;
    slot->socket = static_cast<SOCKET>(op.handle);
    slot->accepted = INVALID_SOCKET;
    slot->buf.buf = static_cast<char*>(op.buffer);
    slot->buf.len = clamp_len(op.length);
    slot->owner = &known;
    known.in_flight.push_back(*slot);
    ++in_flight_;
    return *slot;
  }

  void put_slot(Slot& slot) noexcept {
    if (slot.owner != nullptr) slot.owner->in_flight.remove(slot);
    slot.owner = nullptr;
    slot.op = nullptr;
    slot.next_free = free_slots_;
    free_slots_ = &slot;
    --in_flight_;
  }

  // ReadFile/WriteFile on an overlapped handle (a pipe from os::open_pipe, a file or a
  // device opened with FILE_FLAG_OVERLAPPED). Windows has no vectored form for these
  // (ReadFileScatter wants page-sized file buffers), so readv/writev move the first
  // non-empty slice: a short transfer, which the contract allows. A synchronous success
  // still queues its completion packet (no FILE_SKIP_COMPLETION_PORT_ON_SUCCESS).
  int start_file_io(Slot& slot, bool write) noexcept {
    Operation& op = *slot.op;
    if (op.code == OpCode::readv || op.code == OpCode::writev) {
      const auto* slices = static_cast<const IoSlice*>(op.buffer);
      std::size_t i = 0;
      while (i < op.length && slices[i].size == 0)
        ++i;
      if (i == op.length) return kEndOfStream;  // nothing to move: 0 bytes at once
      slot.buf.buf = static_cast<char*>(slices[i].data);
      slot.buf.len = clamp_len(slices[i].size);
    }
    const auto h = reinterpret_cast<HANDLE>(slot.socket);
    const BOOL ok = write ? ::WriteFile(h, slot.buf.buf, slot.buf.len, nullptr, &slot.ov)
                          : ::ReadFile(h, slot.buf.buf, slot.buf.len, nullptr, &slot.ov);
    if (ok) return 0;
    const DWORD err = ::GetLastError();
    if (err == ERROR_IO_PENDING) return 0;
    // A pipe whose writer has closed reads as the end of the stream, as on POSIX.
    if (!write && (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF)) return kEndOfStream;
    return winsock::to_errno(err);
  }

  int start_accept(Slot& slot) noexcept {
    sockaddr_storage local{};
    int len = sizeof local;
    if (::getsockname(slot.socket, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      return winsock::last_errno();
    }
    slot.accepted = ::WSASocketW(local.ss_family, SOCK_STREAM, 0, nullptr, 0,
                                 WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (slot.accepted == INVALID_SOCKET) return winsock::last_errno();
    DWORD bytes = 0;
    const int err = accept_ex_(slot.socket, slot.accepted, slot.accept_buf, 0, kAcceptAddrLen,
                               kAcceptAddrLen, &bytes, &slot.ov)
                        ? 0
                        : started(-1);
    if (err != 0) {
      ::closesocket(slot.accepted);
      slot.accepted = INVALID_SOCKET;
    }
    return err;
  }

  int start_connect(Operation& op, Slot& slot) noexcept {
    const auto* to = reinterpret_cast<const sockaddr*>(op.address->data);
    const int to_len = static_cast<int>(op.address->size);
    if (!net::is_stream(op.handle)) {
      // ConnectEx is for streams; a datagram "connect" only sets the default peer and
      // never waits.
      return ::connect(slot.socket, to, to_len) == 0 ? kConnectedNow : winsock::last_errno();
    }
    // ConnectEx insists on a bound socket; POSIX connect binds implicitly.
    sockaddr_storage local{};
    int len = sizeof local;
    if (::getsockname(slot.socket, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
      sockaddr_storage any{};
      any.ss_family = to->sa_family;
      const int any_len =
          to->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : static_cast<int>(sizeof(sockaddr_in));
      if (::bind(slot.socket, reinterpret_cast<sockaddr*>(&any), any_len) != 0) {
        return winsock::last_errno();
      }
    }
    return connect_ex_(slot.socket, to, to_len, nullptr, 0, nullptr, &slot.ov) ? 0 : started(-1);
  }

  static int start_poll(Slot& slot, SOCKET base, ULONG events) noexcept {
    slot.poll.timeout.QuadPart = std::numeric_limits<LONGLONG>::max();
    slot.poll.count = 1;
    slot.poll.exclusive = FALSE;
    slot.poll.handles[0].handle = reinterpret_cast<HANDLE>(base);
    slot.poll.handles[0].events = events;
    slot.poll.handles[0].status = 0;
    slot.ov.Internal = STATUS_PENDING;
    const NTSTATUS st = ::NtDeviceIoControlFile(
        reinterpret_cast<HANDLE>(slot.socket), nullptr, nullptr, &slot.ov,
        reinterpret_cast<PIO_STATUS_BLOCK>(&slot.ov.Internal), kIoctlAfdPoll, &slot.poll,
        sizeof slot.poll, &slot.poll, sizeof slot.poll);
    // Success or pending: either way the completion is queued to the port.
    if (st >= 0) return 0;
    return winsock::to_errno(::RtlNtStatusToDosError(st));
  }

  // The operation's result from its completion packet.
  std::intptr_t result_of(Slot& slot, Operation& op, DWORD bytes) noexcept {
    if (is_file_io(op.code)) return file_result_of(slot, op, bytes);
    DWORD transferred = 0;
    DWORD flags = 0;
    int err = 0;
    if (!::WSAGetOverlappedResult(slot.socket, &slot.ov, &transferred, FALSE, &flags)) {
      err = ::WSAGetLastError();
    }
    const auto failed = [&] { return -winsock::to_errno(static_cast<unsigned long>(err)); };
    switch (op.code) {
      case OpCode::recv:
      case OpCode::recvfrom:
        // A datagram larger than the buffer: POSIX truncates and returns what fit.
        if (err == WSAEMSGSIZE) err = 0;
        if (err == 0 && op.code == OpCode::recvfrom) {
          op.address->size = static_cast<std::uint32_t>(slot.addr_len);
        }
        [[fallthrough]];
      case OpCode::send:
      case OpCode::sendto:
        return err != 0 ? failed() : static_cast<std::intptr_t>(bytes);
      case OpCode::accept:
        return finish_accept(slot, op, err);
      case OpCode::connect:
        if (err != 0) return failed();
        // Makes getpeername/shutdown work on the socket, as after connect().
        ::setsockopt(slot.socket, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0);
        return 0;
      case OpCode::readable:
      case OpCode::writable:
        if (err != 0) return failed();
        // Closed under the wait; errors (reset, refused) count as ready, like poll()'s
        // POLLERR/POLLHUP: the next call reports them.
        return (slot.poll.handles[0].events & kAfdPollLocalClose) != 0 ? -EBADF : 0;
      case OpCode::read:
      case OpCode::write:
      case OpCode::readv:
      case OpCode::writev:
        break;  // file_result_of
    }
    return -EINVAL;
  }

  static bool is_file_io(OpCode code) noexcept {
    return code == OpCode::read || code == OpCode::write || code == OpCode::readv ||
           code == OpCode::writev;
  }

  // ReadFile/WriteFile's result: handles are not sockets, so GetOverlappedResult.
  std::intptr_t file_result_of(Slot& slot, Operation& op, DWORD bytes) noexcept {
    DWORD transferred = 0;
    if (::GetOverlappedResult(reinterpret_cast<HANDLE>(slot.socket), &slot.ov, &transferred,
                              FALSE)) {
      return static_cast<std::intptr_t>(bytes);
    }
    const DWORD err = ::GetLastError();
    const bool reading = op.code == OpCode::read || op.code == OpCode::readv;
    if (reading && (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF)) return 0;
    if (err == ERROR_MORE_DATA) return static_cast<std::intptr_t>(bytes);  // message pipes
    return -winsock::to_errno(err);
  }

  std::intptr_t finish_accept(Slot& slot, Operation& op, int err) noexcept {
    const SOCKET accepted = slot.accepted;
    slot.accepted = INVALID_SOCKET;
    if (err == 0) {
      // Inherit the listener's properties so getpeername/shutdown behave.
      if (::setsockopt(accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                       reinterpret_cast<const char*>(&slot.socket), sizeof slot.socket) != 0) {
        err = ::WSAGetLastError();
      }
    }
    u_long on = 1;
    if (err == 0 && ::ioctlsocket(accepted, FIONBIO, &on) != 0) err = ::WSAGetLastError();
    if (err != 0) {
      ::closesocket(accepted);
      return -winsock::to_errno(static_cast<unsigned long>(err));
    }
    if (op.address != nullptr) {
      int len = sizeof op.address->data;
      op.address->size =
          ::getpeername(accepted, reinterpret_cast<sockaddr*>(op.address->data), &len) == 0
              ? static_cast<std::uint32_t>(len)
              : 0;
    }
    return static_cast<std::intptr_t>(accepted);
  }

  void complete(Slot& slot, DWORD bytes) noexcept {
    Operation& op = *slot.op;
    op.result = result_of(slot, op, bytes);
    put_slot(slot);
    sink_.push(op);
  }

  // The slot `op` is in flight through, or nullptr.
  Slot* in_flight_slot(const Operation& op) noexcept {
    auto it = known_.find(static_cast<SOCKET>(op.handle));
    if (it == known_.end()) return nullptr;
    for (Slot* s = it->second.in_flight.front(); s != nullptr; s = SlotList::next(*s)) {
      if (s->op == &op) return s;
    }
    return nullptr;
  }

  HANDLE port_;
  LPFN_ACCEPTEX accept_ex_;
  LPFN_CONNECTEX connect_ex_;
  CompletionQueue& sink_;
  std::atomic<bool> woken_{false};
  int association_error_ = 0;
  std::size_t in_flight_ = 0;
  std::unordered_map<SOCKET, KnownHandle> known_;  // handles associated with the port
  Slot* free_slots_ = nullptr;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace

std::unique_ptr<Backend> open_iocp_backend(const BackendOptions& /*options*/, CompletionQueue& sink,
                                           std::error_code& ec) {
  ec.clear();
  if (const int err = winsock::startup(); err != 0) {
    ec.assign(err, std::generic_category());
    return nullptr;
  }
  // AcceptEx and ConnectEx are reached through a socket (they belong to its provider);
  // the TCP provider serves IPv4 and IPv6 alike.
  const SOCKET probe = ::WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                                    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (probe == INVALID_SOCKET) {
    ec.assign(winsock::last_errno(), std::generic_category());
    return nullptr;
  }
  LPFN_ACCEPTEX accept_ex = nullptr;
  LPFN_CONNECTEX connect_ex = nullptr;
  const bool found =
      extension(probe, WSAID_ACCEPTEX, accept_ex) && extension(probe, WSAID_CONNECTEX, connect_ex);
  const int lookup_err = found ? 0 : winsock::last_errno();
  ::closesocket(probe);
  if (!found) {
    ec.assign(lookup_err, std::generic_category());
    return nullptr;
  }
  // One thread drains the port: a loop is single-threaded.
  HANDLE port = ::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (port == nullptr) {
    ec.assign(winsock::to_errno(::GetLastError()), std::generic_category());
    return nullptr;
  }
  std::unique_ptr<Backend> backend(new (std::nothrow)
                                       IocpBackend(port, accept_ex, connect_ex, sink));
  if (!backend) {
    ::CloseHandle(port);
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return backend;
}

}  // namespace corio
