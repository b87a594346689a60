#!/usr/bin/env bash
# Runs one CMake workflow preset (configure, build, test). When tests fail, prints each
# failed test's output once more at the end: ctest shows it where the test ran, which a
# log kept only by its tail (as CI keeps it) has lost.
set -uo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/workflow.sh PRESET}
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
cmake --workflow --preset "$preset"
status=$?
[[ $status -eq 0 ]] && exit 0
logs=build/$preset/Testing/Temporary
if [[ $logs/LastTestsFailed.log -nt $marker && -f $logs/LastTest.log ]]; then
  while IFS=: read -r number name; do
    echo
    echo "=== failed in the $preset workflow: $name (last 150 lines of its output)"
    # A test's section in LastTest.log runs from "N/M Testing: name" to its
    # "time elapsed" line.
    awk -v n="$number/" 'index($0, n) == 1 && / Testing: / { on = 1 }
                         on { print }
                         on && / time elapsed: / { exit }' "$logs/LastTest.log" | tail -n 150
  done <"$logs/LastTestsFailed.log"
fi
exit "$status"
