#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, and runs every test with ctest.
# Exits non-zero on any failure. Run as root on a fresh Debian 12 machine (CI does).
#
# Stages, each in its own build folder beside $BUILD (default: build/ in the checkout; see
# below). They run one after the other, and every stage runs even when an earlier one
# failed; the exit status counts them all:
#   1. $BUILD: the normal build, every test (arguments to this script go to this ctest).
#   2. $BUILD-asan: AddressSanitizer + UndefinedBehaviorSanitizer on the unit tests, the
#      miltertest tests and the fuzz corpora (ctest -L 'unit|concurrency|milter|fuzz'); only their
#      targets are built.
#   3. $BUILD-tsan: ThreadSanitizer on the concurrency tests (ctest -L concurrency): the
#      group-commit writer, the journal, and many clients at once against the milter.
#   4. $BUILD-fuzz (clang, libFuzzer): each fuzz target for RM_FUZZ_SECONDS (default 60)
#      seconds, two at a time (tests/fuzz/run.sh; scripts/fuzz.sh runs them longer).
#   5. deb: the Debian package built (scripts/build-deb.sh), installed, used with a private
#      Postfix, upgraded, removed and purged on this machine (tests/deb/run.sh). It refuses
#      to run where retention-milter is already installed.
# RM_TEST_STAGES (default "main asan tsan fuzz deb") picks stages, e.g. RM_TEST_STAGES=main.
# The sweeper's SIGKILL test kills RM_SWEEP_KILL_RUNS (default here 100) runs at random
# moments; a soak runs more: RM_SWEEP_KILL_RUNS=5000 ctest --test-dir build -R RunsKilled
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
# The end-to-end tests run the built programs as other users, as in production (the milter
# as nobody, the sweeper as the mail store's user), so those users must reach the build
# folder. A checkout inside a private folder (under /root, or made by mktemp -d) cannot be
# reached: then the build goes to /var/tmp, named after the checkout, and this says so.
if [ -z "${BUILD_DIR:-}" ] && [ "$(id -u)" = 0 ] &&
  ! setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$ROOT"; then
  BUILD=/var/tmp/retention-milter-build.$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
  mkdir -p "$BUILD"
  chmod 0755 "$BUILD"
  echo "test.sh: other users cannot reach $ROOT; building in $BUILD (BUILD_DIR sets it)"
fi
STAGES=" ${RM_TEST_STAGES:-main asan tsan fuzz deb} "
JOBS=$(nproc)
PARALLEL_LABELS='^(unit|fuzz|concurrency)$'
FAILED=()
export RM_SWEEP_KILL_RUNS=${RM_SWEEP_KILL_RUNS:-100}

"$ROOT/scripts/install-deps.sh"

stage() { case "$STAGES" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
banner() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

if stage main; then
  banner "build and every test"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build "$BUILD" -j"$JOBS"
  # The unit tests each work in a folder (or a database) of their own: they run side by
  # side. The end-to-end tests start daemons and time what they see: one at a time.
  (cd "$BUILD" && ctest --output-on-failure --timeout 600 -j"$JOBS" -L "$PARALLEL_LABELS" "$@") || FAILED+=(main)
  (cd "$BUILD" && ctest --output-on-failure --timeout 600 -LE "$PARALLEL_LABELS" "$@") || FAILED+=(main-e2e)
fi

# Sanitizer builds: no benchmarks, and only the targets their tests use.
sanitized() {
  local kind=$1 dir=$2
  shift 2
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRM_SANITIZE="$kind" -DRM_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" -j"$JOBS" --target unit_tests retention-milter "$@"
}

if stage asan; then
  banner "AddressSanitizer + UndefinedBehaviorSanitizer: unit and miltertest tests"
  if sanitized address "$BUILD-asan" fuzzers; then
    (
      export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
      export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
      ctest --test-dir "$BUILD-asan" --output-on-failure --timeout 900 -j"$JOBS" -L "$PARALLEL_LABELS" &&
        ctest --test-dir "$BUILD-asan" --output-on-failure --timeout 900 -L milter -LE "$PARALLEL_LABELS"
    ) || FAILED+=(asan)
  else
    FAILED+=(asan-build)
  fi
fi

if stage tsan; then
  banner "ThreadSanitizer: concurrency tests"
  if sanitized thread "$BUILD-tsan"; then
    TSAN_OPTIONS=halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$ROOT/tests/tsan.supp \
      ctest --test-dir "$BUILD-tsan" --output-on-failure --timeout 900 -L concurrency || FAILED+=(tsan)
  else
    FAILED+=(tsan-build)
  fi
fi

if stage fuzz; then
  banner "libFuzzer: every fuzz target for ${RM_FUZZ_SECONDS:-60} s"
  "$ROOT/tests/fuzz/run.sh" "$BUILD-fuzz" "${RM_FUZZ_SECONDS:-60}" || FAILED+=(fuzz)
fi

if stage deb; then
  banner "the Debian package: build, install, upgrade, remove, purge"
  # nocheck: the package's unit tests are the ones the main stage ran on the same source;
  # building and running them again would add minutes and prove nothing new.
  DEB_BUILD_OPTIONS="parallel=$JOBS nocheck" "$ROOT/tests/deb/run.sh" || FAILED+=(deb)
fi

if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "test.sh: failed stages: ${FAILED[*]}" >&2
  exit 1
fi
echo "test.sh: every stage passed:$STAGES"
