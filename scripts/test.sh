#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, and runs every test with ctest.
# Exits non-zero on any failure. Run as root on a fresh Debian 12 machine (CI does).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}

"$ROOT/scripts/install-deps.sh"

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure --timeout 600 "$@"
