#!/usr/bin/env bash
# Installs every Debian package that corio's build, tests, examples and benchmarks
# need (with --windows, also the mingw-w64 + Wine toolchain of the windows-wine preset).
# Quiet and quick when they are all there already; run as root (or with sudo).
set -euo pipefail

packages=(
  cmake ninja-build g++ clang-14 libclang-rt-14-dev pkg-config python3
  libgtest-dev libgmock-dev libbenchmark-dev liburing-dev
  libssl-dev openssl  # TLS (OpenSSL 3); the openssl command makes the test certificates
  wrk  # the http_hello load test (tests/examples/wrk_check.py)
  curl  # the HTTPS check of http_hello (tests/examples/tls_examples_check.py)
)
# --windows: also what the windows-wine preset needs (the cross compiler with the posix
# threads model that std::thread needs, Wine to run the tests, GoogleTest's sources to
# build with that compiler). Not needed for the quick start.
if [ "${1:-}" = "--windows" ]; then
  packages+=(g++-mingw-w64-x86-64-posix wine64 wine googletest)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "corio setup: missing ${missing[*]}; run this as root (no sudo here)" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "corio setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
