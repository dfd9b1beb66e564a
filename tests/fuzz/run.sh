#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, RM_SANITIZE=fuzzer) in BUILD_DIR and runs each for
# SECONDS, JOBS at a time, starting from its committed corpus (tests/fuzz/corpus/NAME).
# New interesting inputs go to BUILD_DIR/fuzz-corpus/NAME, never into the repository.
# A crash, leak, timeout or sanitizer report fails the run; the input that caused it is
# kept as BUILD_DIR/fuzz-artifacts/NAME/crash-* (fix the bug, then commit that input to
# tests/fuzz/corpus/NAME/ so it is replayed by every later run and by ctest -L fuzz).
# Usage: run.sh BUILD_DIR [SECONDS] [JOBS] [NAME...]     (scripts/fuzz.sh wraps it)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:?usage: run.sh BUILD_DIR [SECONDS] [JOBS] [NAME...]}
SECONDS_EACH=${2:-60}
JOBS=${3:-2}
shift $(($# < 3 ? $# : 3))
NAMES=("$@")
[ "${#NAMES[@]}" -gt 0 ] || NAMES=(headers maildir config address)

command -v clang++ >/dev/null || { echo "fuzz: clang++ is not installed (scripts/install-deps.sh)" >&2; exit 1; }
CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRM_SANITIZE=fuzzer \
    -DRM_BUILD_BENCH=OFF >/dev/null || exit 1
cmake --build "$BUILD" -j"$(nproc)" --target fuzzers || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

fuzz_one() {
    local name=$1 work=$BUILD/fuzz-corpus/$1 art=$BUILD/fuzz-artifacts/$1 log=$BUILD/fuzz-logs/$1.log
    mkdir -p "$work" "$art" "$(dirname "$log")"
    # The first corpus folder receives new inputs; the committed one is only read.
    if "$BUILD/tests/fuzz/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "$ROOT/tests/fuzz/corpus/$name" >"$log" 2>&1; then
        echo "fuzz $name: ok, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${SECONDS_EACH}s, corpus $(find "$work" -type f | wc -l) new inputs"
    else
        echo "fuzz $name: FAILED; input(s) kept in $art:" >&2
        ls "$art" >&2
        grep -E -A25 'ERROR|runtime error|property violated|deadly signal' "$log" | head -60 >&2
        return 1
    fi
}

pids=()
names_of=()
failed=0
for name in "${NAMES[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=$((failed + 1)); done
    fuzz_one "$name" &
    pids+=($!)
    names_of+=("$name")
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=$((failed + 1)); done
if [ "$failed" -gt 0 ]; then
    echo "fuzz: $failed harness(es) failed" >&2
    exit 1
fi
echo "fuzz: ${#NAMES[@]} harnesses ran ${SECONDS_EACH}s each without a finding"
