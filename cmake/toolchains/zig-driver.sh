#!/bin/sh
# Runs zig's C or C++ driver for CMake, which wants one program per compiler:
# `zig-driver.sh ZIG cc|c++ ARGS...` = `ZIG cc|c++ ARGS...`, minus the `-Wl,-v` CMake adds
# when it probes the compiler's ABI. zig's linker rejects that flag, and without the
# probe CMake would not know the target's pointer size.
zig=$1
driver=$2
shift 2
for arg in "$@"; do
  shift
  [ "$arg" = "-Wl,-v" ] || set -- "$@" "$arg"
done
exec "$zig" "$driver" "$@"
