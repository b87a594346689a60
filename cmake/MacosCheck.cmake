# The `macos-check` preset: one configure that builds corio for every macOS target, so one
# `cmake --workflow --preset macos-check` covers both (a workflow preset has exactly one
# configure step, and the build of one configure has one compiler target). Each target is
# an ExternalProject: this same source tree configured with cmake/toolchains/zig-macos.cmake
# into build/macos-check/<target>, building the library, the tests and the examples. Bench
# is off: it measures Linux syscalls (epoll, /proc) and Google Benchmark has no macOS build
# here. Nothing is run: there is no macOS on this machine.
include(ExternalProject)

set(CORIO_MACOS_CHECK_TARGETS x86_64-macos aarch64-macos
    CACHE STRING "zig targets the macos-check build compiles and links for")

set(previous "")
foreach(target IN LISTS CORIO_MACOS_CHECK_TARGETS)
  ExternalProject_Add(corio-${target}
    SOURCE_DIR ${PROJECT_SOURCE_DIR}
    BINARY_DIR ${PROJECT_BINARY_DIR}/${target}
    CMAKE_GENERATOR ${CMAKE_GENERATOR}
    CMAKE_ARGS
      -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/cmake/toolchains/zig-macos.cmake
      -DCORIO_ZIG_TARGET=${target}
      -DCMAKE_BUILD_TYPE=Debug
      -DCORIO_WERROR=${CORIO_WERROR}
      -DCORIO_BUILD_TESTS=ON
      -DCORIO_BUILD_EXAMPLES=ON
      -DCORIO_BUILD_BENCH=OFF
      # No macOS OpenSSL here: the host's must not be picked up for a macOS link.
      -DCORIO_TLS=OFF
    INSTALL_COMMAND ""
    # Always hand over to the inner build, which knows what changed.
    BUILD_ALWAYS ON
    USES_TERMINAL_CONFIGURE ON
    USES_TERMINAL_BUILD ON
    # One after the other: each inner build already uses every core.
    DEPENDS ${previous})
  set(previous corio-${target})
endforeach()
