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
  list(APPEND CORIO_BACKEND_SOURCES reactor/net_posix.cpp reactor/signals_posix.cpp
       reactor/faults_posix.cpp)
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

message(STATUS "corio backends: ${CORIO_BACKENDS}")
