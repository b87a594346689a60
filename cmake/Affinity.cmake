# Pinning Runtime threads to CPUs (RunOptions::pin_cpus) needs the platform's affinity
# calls; which file implements them is chosen here, so the code holds no platform #if.
# Sets CORIO_AFFINITY_SOURCES and CORIO_HAVE_AFFINITY (tests check pinning only when ON).
include(CheckCXXSymbolExists)

set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE)
set(CMAKE_REQUIRED_LIBRARIES Threads::Threads)
check_cxx_symbol_exists(pthread_setaffinity_np pthread.h CORIO_HAVE_PTHREAD_SETAFFINITY_NP)
check_cxx_symbol_exists(sched_getaffinity sched.h CORIO_HAVE_SCHED_GETAFFINITY)
unset(CMAKE_REQUIRED_DEFINITIONS)
unset(CMAKE_REQUIRED_LIBRARIES)

if(CORIO_HAVE_PTHREAD_SETAFFINITY_NP AND CORIO_HAVE_SCHED_GETAFFINITY)
  set(CORIO_AFFINITY_SOURCES coro/affinity_linux.cpp)
  set(CORIO_HAVE_AFFINITY ON)
else()
  set(CORIO_AFFINITY_SOURCES coro/affinity_none.cpp)
  set(CORIO_HAVE_AFFINITY OFF)
endif()
message(STATUS "corio CPU pinning: ${CORIO_HAVE_AFFINITY}")
