# Platform choice, part one (of two): which backend and OS-layer sources this build
# compiles. The other part is reactor/select.cpp, which picks among the compiled backends
# at run time. Sets CORIO_BACKEND_SOURCES, CORIO_OS_SOURCES, CORIO_BACKEND_DEFINITIONS
# (used by both) and CORIO_BACKEND_LIBRARIES.
include(CheckIncludeFileCXX)
include(CheckCXXSymbolExists)
include(CheckStructHasMember)

set(CORIO_BACKEND_SOURCES "")
set(CORIO_OS_SOURCES "")
set(CORIO_BACKEND_DEFINITIONS "")
set(CORIO_BACKEND_LIBRARIES "")
set(CORIO_BACKENDS "")

function(corio_add_backend name)
  string(TOUPPER "${name}" upper)
  set(CORIO_BACKEND_SOURCES ${CORIO_BACKEND_SOURCES} ${ARGN} PARENT_SCOPE)
  set(CORIO_BACKEND_DEFINITIONS ${CORIO_BACKEND_DEFINITIONS} CORIO_HAS_${upper}=1 PARENT_SCOPE)
  set(CORIO_BACKENDS ${CORIO_BACKENDS} ${name} PARENT_SCOPE)
endfunction()

if(UNIX)
  # Shared by the readiness backends: the non-blocking socket calls and per-fd queues.
  list(APPEND CORIO_BACKEND_SOURCES backends/readiness.cpp)
  # The OS layer's POSIX files: synchronous socket calls, signal delivery, descriptors,
  # the readiness backends' non-blocking calls (every backend on the platform shares them),
  # the cross-thread waker epoll, poll and io_uring wait on.
  list(APPEND CORIO_OS_SOURCES os/net_posix.cpp os/signals_posix.cpp os/posix_fd.cpp
       os/nb_io_posix.cpp os/pipe_posix.cpp os/waker_posix.cpp)
  # The sockaddr headers os/address.cpp builds addresses with (os/sockaddr.hpp).
  list(APPEND CORIO_BACKEND_DEFINITIONS CORIO_SOCKADDR_HEADER="os/sockaddr_posix.hpp")

  # Capabilities, not platforms: the code says CORIO_HAVE_ACCEPT4, never __APPLE__.
  # Linux and FreeBSD make a descriptor non-blocking and close-on-exec in the call that
  # creates it; macOS has none of these and needs fcntl() after (os/posix_fd.cpp).
  check_cxx_symbol_exists(accept4 sys/socket.h CORIO_HAVE_ACCEPT4)
  check_cxx_symbol_exists(SOCK_NONBLOCK sys/socket.h CORIO_HAVE_SOCK_NONBLOCK)
  check_cxx_symbol_exists(pipe2 unistd.h CORIO_HAVE_PIPE2)
  # The waker's one-descriptor form (os/waker_posix.cpp); a pipe pair without it.
  check_cxx_symbol_exists(eventfd sys/eventfd.h CORIO_HAVE_EVENTFD)
  # BSD: a per-socket "no SIGPIPE" option, set on every socket corio makes, so that even
  # a write without MSG_NOSIGNAL to a vanished peer gives EPIPE rather than a signal.
  check_cxx_symbol_exists(SO_NOSIGPIPE sys/socket.h CORIO_HAVE_SO_NOSIGPIPE)
  # BSD sockaddrs carry their own length, which getsockname() fills in: addresses corio
  # builds must carry it too, or they compare unequal to the kernel's.
  check_struct_has_member("struct sockaddr" sa_len sys/socket.h CORIO_HAVE_SA_LEN LANGUAGE CXX)
  # Abstract Unix socket names (a leading NUL) have no header to test for: unix(7) says
  # they are a Linux extension.
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(CORIO_HAVE_ABSTRACT_UNIX_SOCKETS ON)
  else()
    set(CORIO_HAVE_ABSTRACT_UNIX_SOCKETS OFF)
  endif()
  foreach(capability ACCEPT4 SOCK_NONBLOCK PIPE2 EVENTFD SO_NOSIGPIPE SA_LEN
                     ABSTRACT_UNIX_SOCKETS)
    if(CORIO_HAVE_${capability})
      list(APPEND CORIO_BACKEND_DEFINITIONS CORIO_HAVE_${capability}=1)
    endif()
  endforeach()
endif()

if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  # io_uring needs Debian's liburing-dev; without it the build simply lacks the backend.
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(LIBURING QUIET IMPORTED_TARGET liburing)
  endif()
  if(LIBURING_FOUND)
    corio_add_backend(io_uring backends/io_uring.cpp backends/io_uring_buffers.cpp
                    backends/io_uring_msg.cpp backends/io_uring_handles.cpp
                    backends/io_uring_multishot.cpp)
    list(APPEND CORIO_BACKEND_LIBRARIES PkgConfig::LIBURING)
  endif()
  check_include_file_cxx(sys/epoll.h CORIO_HAVE_SYS_EPOLL_H)
  if(CORIO_HAVE_SYS_EPOLL_H)
    corio_add_backend(epoll backends/epoll.cpp)
  endif()
endif()

# Kernel TLS: Linux's tls ULP behind socket options (os/kernel_tls.hpp); where the
# kernel's header is missing, the OS layer says kTLS is not supported.
check_include_file_cxx(linux/tls.h CORIO_HAVE_LINUX_TLS_H)
if(CORIO_HAVE_LINUX_TLS_H)
  list(APPEND CORIO_OS_SOURCES os/kernel_tls_linux.cpp)
else()
  list(APPEND CORIO_OS_SOURCES os/kernel_tls_none.cpp)
endif()

# macOS, FreeBSD and the other BSDs. Tried before poll by `auto` (reactor/select.cpp).
# liburing is never looked for here (the block above is Linux only).
if(APPLE OR CMAKE_SYSTEM_NAME MATCHES "BSD|DragonFly")
  check_include_file_cxx(sys/event.h CORIO_HAVE_SYS_EVENT_H)
  if(CORIO_HAVE_SYS_EVENT_H)
    corio_add_backend(kqueue backends/kqueue.cpp)
  endif()
endif()

if(UNIX)
  corio_add_backend(poll backends/poll.cpp)
endif()

if(WIN32)
  # Windows (cross-compiled with mingw-w64 and tested under Wine: the windows-wine
  # preset). The OS layer's Winsock counterparts of net_posix.cpp and signals_posix.cpp,
  # the errno table they share with the backend, and IOCP, the only backend there.
  list(APPEND CORIO_OS_SOURCES os/winsock.cpp os/net_win.cpp os/signals_win.cpp os/pipe_win.cpp)
  list(APPEND CORIO_BACKEND_DEFINITIONS CORIO_SOCKADDR_HEADER="os/sockaddr_win.hpp")
  corio_add_backend(iocp backends/iocp.cpp)
  # Windows 10 APIs (and their declarations in mingw's headers); windows.h without its
  # min/max macros and rarely used parts.
  list(APPEND CORIO_BACKEND_DEFINITIONS _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
  # ntdll: NtDeviceIoControlFile (AFD poll) and NtSetInformationFile.
  list(APPEND CORIO_BACKEND_LIBRARIES ws2_32 ntdll)
endif()

message(STATUS "corio backends: ${CORIO_BACKENDS}")
