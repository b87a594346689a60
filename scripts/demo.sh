#!/usr/bin/env bash
# Quick start, part one: set up, build (release preset) and run the tutorial.
# Extra arguments go to the tutorial, e.g. --backend poll or --scale 0.2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tutorial
exec build/release/examples/tutorial "$@"
