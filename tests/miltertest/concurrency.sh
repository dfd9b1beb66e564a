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
# rm_line_toml (the two test helplines) and rm_retain_date, shared with the e2e tests.
. "$HERE/../e2e/lib/milter.sh"
WORK=$(mktemp -d /tmp/rm-concurrency.XXXXXX)
chmod 755 "$WORK"
PASS=0
FAIL=0
MILTER_PID=

cleanup() {
    [ -n "$MILTER_PID" ] && kill "$MILTER_PID" 2>/dev/null && wait "$MILTER_PID" 2>/dev/null
    if [ "$FAIL" = 0 ]; then rm -rf "$WORK"; else echo "test folder kept: $WORK"; fi
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    /'; }

RETAIN6=$(rm_retain_date 6)

mkdir -p "$WORK/state"
user_line=""
if [ "$(id -u)" = 0 ]; then
    user_line='user = "nobody"'
    chown nobody "$WORK/state"
    touch "$WORK/milter.log"
    chown nobody "$WORK/milter.log"
fi
cat >"$WORK/retention.toml" <<CONF
[milter]
socket = "unix:$WORK/milter.sock"
$user_line
internal_hosts = ["127.0.0.1/32"]
[index]
path = "$WORK/state/index.sqlite3"
key_file = "$WORK/state/index.key"
[log]
sink = "file:$WORK/milter.log"
level = "info"
$(rm_line_toml)
CONF

"$MILTER" -f -c "$WORK/retention.toml" 2>"$WORK/stderr" &
MILTER_PID=$!
for _ in $(seq 300); do
    [ -S "$WORK/milter.sock" ] && [ -e "$WORK/state/index.sqlite3" ] && break
    sleep 0.1
done
if ! [ -S "$WORK/milter.sock" ]; then
    not_ok "the milter started" "$(cat "$WORK/stderr" "$WORK/milter.log" 2>/dev/null | tail -30)"
    exit 1
fi

start=$(date +%s%N)
pids=()
for w in $(seq "$WORKERS"); do
    miltertest -D sock="unix:$WORK/milter.sock" -D libdir="$HERE" -D retain6="$RETAIN6" \
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
[ "$failed" = 0 ] && ok "$WORKERS concurrent clients: all $total messages accepted and stamped (${elapsed_ms} ms)" \
    || not_ok "$failed of $WORKERS clients failed"

rows=$(sqlite3 "$WORK/state/index.sqlite3" "SELECT count(*), count(DISTINCT queue_id) FROM messages WHERE queue_id LIKE 'QL%'")
[ "$rows" = "$total|$total" ] && ok "one index row per message ($total)" || not_ok "index rows: $rows, want $total|$total"
dirs=$(sqlite3 "$WORK/state/index.sqlite3" "SELECT direction || ':' || count(*) FROM messages GROUP BY direction ORDER BY direction" | tr '\n' ' ')
ok "rows by direction: $dirs"

kill -TERM "$MILTER_PID"
if wait "$MILTER_PID"; then ok "SIGTERM stops the milter cleanly"; else not_ok "exit status after SIGTERM: $?" "$(tail -40 "$WORK/stderr")"; fi
MILTER_PID=
if grep -qE "Sanitizer|runtime error" "$WORK/stderr"; then
    not_ok "a sanitizer reported something" "$(head -80 "$WORK/stderr")"
else
    ok "nothing on the milter's stderr from a sanitizer"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
