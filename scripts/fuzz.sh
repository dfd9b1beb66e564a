#!/usr/bin/env bash
# Runs every fuzz harness longer than the test command does (it gives each 60 s).
# Usage: scripts/fuzz.sh [SECONDS_EACH] [JOBS] [NAME...]   e.g. scripts/fuzz.sh 3600
# Default: 600 s each, two at a time. Build folder: $FUZZ_BUILD_DIR or build-fuzz.
# Harnesses: headers, maildir, config, address (tests/fuzz/fuzz_NAME.cpp). Findings are
# kept under the build folder's fuzz-artifacts/NAME/ (see tests/fuzz/run.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
exec "$ROOT/tests/fuzz/run.sh" "${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}" "${1:-600}" "${2:-2}" "${@:3}"
