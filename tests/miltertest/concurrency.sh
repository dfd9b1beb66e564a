#!/usr/bin/env bash
# The milter under concurrent load: WORKERS miltertest clients at once against one real
# retention-milter, each sending MESSAGES messages (a few per connection), then checks that
# every message was stamped and has exactly one index row, and that the milter stops
# cleanly on SIGTERM with nothing on its stderr (a sanitizer's report would be there).
# Run by ctest in every build, and under ThreadSanitizer by scripts/test.sh.
# Usage: concurrency.sh PATH/TO/retention-milter [WORKERS] [MESSAGES]
set -uo pipefail

MILTER=${1:?usage: concurrency.sh PATH/TO/retention-milter [WORKERS] [MESSAGES]}
WORKERS=${2:-12}
MESSAGES=${3:-25}
PER_CONN=5
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib/common.sh"
. "$HERE/../e2e/lib/milter.sh"

e2e_begin
require_tools miltertest sqlite3
e2e_workdir WORK rm-concurrency
at_exit rm_milter_stop

RETAIN6=$(rm_retain_date 6)
# Info, not debug: a debug line per message would make the log the bottleneck.
RM_LOG_LEVEL=info rm_milter_start "$WORK" "$MILTER" || e2e_finish

start=$(date +%s%N)
pids=()
for w in $(seq "$WORKERS"); do
    miltertest -D sock="$RM_SOCKET" -D libdir="$HERE" -D retain6="$RETAIN6" \
        -D worker="$w" -D count="$MESSAGES" -D per_conn="$PER_CONN" -s "$HERE/t-load.lua" \
        >"$WORK/worker-$w.out" 2>&1 &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { failed=$((failed + 1)); echo "worker $((i + 1)):"; sed 's/^/    /' "$WORK/worker-$((i + 1)).out"; }
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
total=$((WORKERS * MESSAGES))
assert_eq 0 "$failed" "$WORKERS concurrent clients: all $total messages accepted and stamped (${elapsed_ms} ms)"

assert_eq "$total|$total" \
    "$(sqlite3 "$RM_INDEX" "SELECT count(*), count(DISTINCT queue_id) FROM messages WHERE queue_id LIKE 'QL%'")" \
    "one index row per message ($total)"
echo "# rows by direction: $(sqlite3 "$RM_INDEX" "SELECT direction || ':' || count(*) FROM messages GROUP BY direction ORDER BY direction" | tr '\n' ' ')"

rc=0
kill -TERM "$RM_MILTER_PID"
wait "$RM_MILTER_PID" || rc=$?
RM_MILTER_PID=
assert_eq 0 "$rc" "SIGTERM stops the milter cleanly"
last_assert_ok || tail -40 "$RM_LOG.stderr" >&2
if grep -qE "Sanitizer|runtime error" "$RM_LOG.stderr"; then
    fail "a sanitizer reported something" "$(head -80 "$RM_LOG.stderr")"
else
    pass "nothing on the milter's stderr from a sanitizer"
fi
e2e_finish
