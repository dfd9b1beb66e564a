#!/bin/sh
# Stops the PostgreSQL server the unit tests share in one ctest run (tests/unit/pg_test_util.hpp
# starts it on first use) and removes its folder. Run by ctest after the last test that used it.
set -eu
dir=$1
[ -d "$dir" ] || exit 0
pidfile=$dir/data/postmaster.pid
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  # SIGINT: PostgreSQL's fast shutdown (the tests' connections are cut, nothing waits).
  if kill -INT "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null; do
      i=$((i + 1))
      if [ "$i" -gt 300 ]; then
        echo "the test server (pid $pid) did not stop in 30 s" >&2
        cat "$dir/server.log" >&2 || true
        exit 1
      fi
      sleep 0.1
    done
  fi
fi
rm -rf "$dir"
