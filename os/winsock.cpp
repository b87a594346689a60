// Winsock start-up and the Windows-error-to-errno table (see winsock.hpp).
#include "os/winsock.hpp"

// winsock2.h first: windows.h would otherwise bring in the old winsock.h.
#include <winsock2.h>

#include <windows.h>

#include <cerrno>

namespace corio::winsock {

int startup() noexcept {
  // Never paired with WSACleanup: sockets may outlive static destruction order, and the
  // process exit releases Winsock anyway (what libuv does too).
  static const int rc = [] {
    WSADATA data;
    const int err = ::WSAStartup(MAKEWORD(2, 2), &data);
    return err == 0 ? 0 : to_errno(static_cast<unsigned long>(err));
  }();
  return rc;
}

int to_errno(unsigned long code) noexcept {
  switch (code) {
    case 0:
      return 0;
    case WSAEINTR:
      return EINTR;
    case WSAEBADF:
    case WSAENOTSOCK:
    case ERROR_INVALID_HANDLE:
      return EBADF;
    case WSAEACCES:
    case ERROR_ACCESS_DENIED:
      return EACCES;
    case WSAEFAULT:
    case ERROR_NOACCESS:
      return EFAULT;
    case WSAEINVAL:
    case ERROR_INVALID_PARAMETER:
      return EINVAL;
    case WSAEMFILE:
    case ERROR_TOO_MANY_OPEN_FILES:
      return EMFILE;
    case WSAEWOULDBLOCK:
    case WSA_IO_INCOMPLETE:
      return EAGAIN;
    case WSAEINPROGRESS:
    case WSA_IO_PENDING:
      return EINPROGRESS;
    case WSAEALREADY:
      return EALREADY;
    case WSAEDESTADDRREQ:
      return EDESTADDRREQ;
    case WSAEMSGSIZE:
    case ERROR_MORE_DATA:
      return EMSGSIZE;
    case WSAEPROTOTYPE:
      return EPROTOTYPE;
    case WSAENOPROTOOPT:
      return ENOPROTOOPT;
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
      return EPROTONOSUPPORT;
    case WSAEOPNOTSUPP:
    case ERROR_NOT_SUPPORTED:
      return EOPNOTSUPP;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
      return EAFNOSUPPORT;
    case WSAEADDRINUSE:
    case ERROR_ADDRESS_ALREADY_ASSOCIATED:
      return EADDRINUSE;
    case WSAEADDRNOTAVAIL:
      return EADDRNOTAVAIL;
    case WSAENETDOWN:
      return ENETDOWN;
    case WSAENETUNREACH:
    case ERROR_NETWORK_UNREACHABLE:
      return ENETUNREACH;
    case WSAENETRESET:
      return ENETRESET;
    case WSAECONNABORTED:
    case ERROR_CONNECTION_ABORTED:
    case ERROR_REQUEST_ABORTED:
      return ECONNABORTED;
    // ERROR_NETNAME_DELETED is what a completion reports for a connection the peer reset.
    case WSAECONNRESET:
    case ERROR_NETNAME_DELETED:
      return ECONNRESET;
    case WSAENOBUFS:
    case ERROR_NO_SYSTEM_RESOURCES:
      return ENOBUFS;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return ENOMEM;
    case WSAEISCONN:
      return EISCONN;
    case WSAENOTCONN:
    case ERROR_PIPE_NOT_CONNECTED:
      return ENOTCONN;
    // Sending after shutdown(SD_SEND) or on a broken connection: POSIX says EPIPE.
    case WSAESHUTDOWN:
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
      return EPIPE;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT:
    case WAIT_TIMEOUT:
      return ETIMEDOUT;
    // ERROR_PORT_UNREACHABLE: an ICMP port unreachable, the datagram ECONNREFUSED.
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
    case ERROR_PORT_UNREACHABLE:
      return ECONNREFUSED;
    case WSAEHOSTDOWN:
    case WSAEHOSTUNREACH:
    case ERROR_HOST_UNREACHABLE:
      return EHOSTUNREACH;
    case WSAENAMETOOLONG:
      return ENAMETOOLONG;
    case WSAELOOP:
      return ELOOP;
    case WSA_OPERATION_ABORTED:  // == ERROR_OPERATION_ABORTED: CancelIoEx won the race
      return ECANCELED;
    default:
      return EIO;
  }
}

int last_errno() noexcept {
  return to_errno(static_cast<unsigned long>(::WSAGetLastError()));
}

}  // namespace corio::winsock
