#!/usr/bin/env bash
# Installs a corio build tree into a scratch prefix, then builds and runs a consumer
# (consumer_cmake/main.cpp) against it twice: through find_package(corio CONFIG) and
# through pkg-config. Registered as a ctest by tests/CMakeLists.txt, which passes the
# build's own compiler, build type and flags (sanitizer flags included), so the consumer
# is built the way the libraries were.
#
# usage: check_install.sh BUILD_DIR WORK_DIR CMAKE GENERATOR MAKE_PROGRAM CXX BUILD_TYPE
#                         LIBDIR CXX_FLAGS CXX_FLAGS_FOR_BUILD_TYPE EXE_LINKER_FLAGS
set -euo pipefail

if [ $# -ne 11 ]; then
  echo "usage: see the comment at the top of $0" >&2
  exit 2
fi
build_dir=$1 work=$2 cmake=$3 generator=$4 make_program=$5 cxx=$6 build_type=$7
libdir=$8 cxx_flags=$9 cxx_flags_config=${10} linker_flags=${11}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix

# A fixed directory in the build tree rather than mktemp: left behind for inspection
# when the test fails, emptied when it runs again.
rm -rf "$work"
mkdir -p "$work"

echo "== cmake --install $build_dir --prefix $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" >"$work/install.log" \
  || { cat "$work/install.log"; exit 1; }
for f in include/corio/corio.hpp include/corio/reactor/reactor.hpp \
         "$libdir/libcorio.a" "$libdir/libcorio_reactor.a" \
         "$libdir/cmake/corio/corioConfig.cmake" "$libdir/cmake/corio/corioConfigVersion.cmake" \
         "$libdir/pkgconfig/corio.pc"; do
  [ -f "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done

echo "== find_package(corio CONFIG)"
"$cmake" -S "$here/consumer_cmake" -B "$work/cmake-build" -G "$generator" \
  -DCMAKE_MAKE_PROGRAM="$make_program" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$linker_flags" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
found=$(sed -n 's/^corio_DIR:PATH=//p' "$work/cmake-build/CMakeCache.txt")
if [ "$found" != "$prefix/$libdir/cmake/corio" ]; then
  echo "find_package found corio in '$found', not in $prefix"
  exit 1
fi
"$cmake" --build "$work/cmake-build" -j1
"$work/cmake-build/consumer"

echo "== pkg-config corio"
if ! command -v pkg-config >/dev/null; then
  echo "pkg-config not installed: that half skipped"
  exit 0
fi
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc_prefix=$(pkg-config --variable=prefix corio)
if [ "$pc_prefix" != "$prefix" ]; then
  echo "pkg-config found corio with prefix '$pc_prefix', not $prefix"
  exit 1
fi
cflags=$(pkg-config --cflags corio)
libs=$(pkg-config --libs corio)
echo "cflags: $cflags"
echo "libs:   $libs"
# Word splitting of the flag strings is wanted here. C++20 is the consumer's to ask for.
# shellcheck disable=SC2086
(set -x; "$cxx" $cxx_flags $cxx_flags_config -std=c++20 $cflags \
  "$here/consumer_cmake/main.cpp" -o "$work/consumer-pc" $linker_flags $libs)
"$work/consumer-pc"
