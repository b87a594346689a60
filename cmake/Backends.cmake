# Platform choice, part one (of two): which backend sources this build compiles.
# The other part is reactor/select.cpp, which picks among the compiled ones at run time.
# Sets CORIO_BACKEND_SOURCES, CORIO_BACKEND_DEFINITIONS, CORIO_BACKEND_LIBRARIES.
include(CheckIncludeFileCXX)

set(CORIO_BACKEND_SOURCES "")
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
  # The platform's synchronous socket calls and signal delivery (not a backend: every
  # backend on the platform shares them).
  list(APPEND CORIO_BACKEND_SOURCES reactor/net_posix.cpp reactor/signals_posix.cpp)
endif()

if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  # io_uring needs Debian's liburing-dev; without it the build simply lacks the backend.
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(LIBURING QUIET IMPORTED_TARGET liburing)
  endif()
  if(LIBURING_FOUND)
    corio_add_backend(io_uring backends/io_uring.cpp)
    list(APPEND CORIO_BACKEND_LIBRARIES PkgConfig::LIBURING)
  endif()
  check_include_file_cxx(sys/epoll.h CORIO_HAVE_SYS_EPOLL_H)
  if(CORIO_HAVE_SYS_EPOLL_H)
    corio_add_backend(epoll backends/epoll.cpp)
  endif()
endif()

if(UNIX)
  corio_add_backend(poll backends/poll.cpp)
endif()

if(WIN32)
  # Windows (cross-compiled with mingw-w64 and tested under Wine: the windows-wine
  # preset). The Winsock counterparts of net_posix.cpp and signals_posix.cpp, the errno
  # table they share with the backend, and IOCP, the only backend there.
  list(APPEND CORIO_BACKEND_SOURCES backends/winsock.cpp reactor/net_win.cpp
       reactor/signals_win.cpp)
  corio_add_backend(iocp backends/iocp.cpp)
  # Windows 10 APIs (and their declarations in mingw's headers); windows.h without its
  # min/max macros and rarely used parts.
  list(APPEND CORIO_BACKEND_DEFINITIONS _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
  # ntdll: NtDeviceIoControlFile (AFD poll) and NtSetInformationFile.
  list(APPEND CORIO_BACKEND_LIBRARIES ws2_32 ntdll)
endif()

message(STATUS "corio backends: ${CORIO_BACKENDS}")
