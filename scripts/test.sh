#!/usr/bin/env bash
# Quick start, part two: set up, build (dev preset: debug, -Werror) and run the whole
# test suite on every backend that opens on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/workflow.sh dev
