#!/usr/bin/env bash
# Runs a Windows program under Wine for the windows-wine preset (CMake's
# CMAKE_CROSSCOMPILING_EMULATOR): headless, quiet, and in a prefix of its own under the
# build tree (build/windows-wine/wineprefix, or $CORIO_WINEPREFIX), never ~/.wine.
#   scripts/wine-run.sh PROGRAM.exe ARGS...   run a program
#   scripts/wine-run.sh --boot                create the prefix, start a persistent wineserver
#   scripts/wine-run.sh --stop                stop that wineserver (wineserver -k)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export WINEPREFIX="${CORIO_WINEPREFIX:-$here/../build/windows-wine/wineprefix}"
export WINEDEBUG=-all
export WINEARCH=win64
# No Mono/Gecko installers, no display: the tests are console programs.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

wine=""
for candidate in wine64 /usr/lib/wine/wine64 wine; do
  if command -v "$candidate" >/dev/null 2>&1; then wine="$candidate"; break; fi
done
[ -n "$wine" ] || { echo "wine-run.sh: wine64 not found (scripts/setup.sh --windows)" >&2; exit 127; }
wineserver="wineserver"
command -v wineserver >/dev/null 2>&1 || wineserver=/usr/lib/wine/wineserver64

boot() {
  mkdir -p "$(dirname "$WINEPREFIX")"
  # Serialised: parallel tests must not create the same prefix twice.
  exec 9>"$WINEPREFIX.lock"
  flock 9
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    "$wine" wineboot --init >/dev/null 2>&1 || true
    "$wineserver" -w
    [ -f "$WINEPREFIX/system.reg" ] || { echo "wine-run.sh: wineboot failed in $WINEPREFIX" >&2; exit 1; }
  fi
  flock -u 9
  exec 9>&-  # not inherited by wine and the wineserver that outlives this script
}

case "${1:-}" in
  --boot)
    boot
    # Persistent until --stop: saves starting a wineserver for every test process.
    # Then one wineboot starts the session's services (services.exe, ...), which
    # otherwise the first test processes would race to start. Output to /dev/null: those
    # daemons would hold ctest's pipes open.
    "$wineserver" -p </dev/null >/dev/null 2>&1
    "$wine" wineboot </dev/null >/dev/null 2>&1 || true
    exit 0 ;;
  --stop)
    "$wineserver" -k 2>/dev/null || true
    exit 0 ;;
  "")
    echo "usage: wine-run.sh PROGRAM [ARGS...] | --boot | --stop" >&2
    exit 2 ;;
esac
[ -f "$WINEPREFIX/system.reg" ] || boot
exec "$wine" "$@"
