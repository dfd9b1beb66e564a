#!/usr/bin/env bash
# Runs the miltertest scripts against a real retention-milter on a unix socket, then
# checks the index rows they left. Usage: run.sh PATH/TO/retention-milter
set -uo pipefail

MILTER=${1:?usage: run.sh PATH/TO/retention-milter}
HERE=$(cd "$(dirname "$0")" && pwd)
# rm_line_toml (the two test helplines) and rm_retain_date, shared with the e2e tests.
. "$HERE/../e2e/lib/milter.sh"
WORK=$(mktemp -d /tmp/rm-miltertest.XXXXXX)
chmod 755 "$WORK"
PASS=0
FAIL=0
MILTER_PID=

cleanup() {
    [ -n "$MILTER_PID" ] && kill "$MILTER_PID" 2>/dev/null && wait "$MILTER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1"; }

write_config() {
    mkdir -p "$WORK/state"
    local user_line=""
    if [ "$(id -u)" = 0 ]; then
        user_line='user = "nobody"'
        chown nobody "$WORK/state"
    fi
    cat >"$WORK/retention.toml" <<CONF
[milter]
socket = "unix:$WORK/milter.sock"
$user_line
internal_hosts = ["127.0.0.1/32"]
originating_daemons = ["ORIGINATING"]
[index]
path = "$WORK/state/index.sqlite3"
key_file = "$WORK/state/index.key"
[log]
sink = "file:$WORK/milter.log"
level = "debug"
$(rm_line_toml)
CONF
    [ "$(id -u)" = 0 ] && touch "$WORK/milter.log" && chown nobody "$WORK/milter.log"
}

start_milter() {
    "$MILTER" -f -c "$WORK/retention.toml" &
    MILTER_PID=$!
    for _ in $(seq 50); do
        [ -S "$WORK/milter.sock" ] && [ -e "$WORK/state/index.sqlite3" ] && return 0
        sleep 0.1
    done
    echo "the milter did not start; its log:"; cat "$WORK/milter.log"
    return 1
}

run_script() {
    local script=$1
    if miltertest -D sock="unix:$WORK/milter.sock" -D libdir="$HERE" -D retain6="$RETAIN6" -s "$script" \
        >"$WORK/out.txt" 2>&1; then
        ok "$(basename "$script")"
    else
        not_ok "$(basename "$script")"
        sed 's/^/    /' "$WORK/out.txt"
    fi
}

rows() { sqlite3 "$WORK/state/index.sqlite3" "$1"; }

expect_rows() {
    local want
    want=$(printf '%s\n' \
        "QBAD001|mens-advice-line|inbound" "QBAD002|respect-phoneline|inbound" \
        "QBAD003|mens-advice-line|inbound" "QBAD004|mens-advice-line|inbound" \
        "QFLOOD20|mens-advice-line|inbound" "QFORG01|mens-advice-line|inbound" \
        "QIN0001|mens-advice-line|inbound" \
        "QINT001|respect-phoneline,mens-advice-line|internal" "QNOID01|mens-advice-line|inbound" \
        "QOUT001|mens-advice-line|outbound" "QOUT002|mens-advice-line|outbound" \
        "QSES001|mens-advice-line|inbound" "QSES003|mens-advice-line|inbound")
    local got
    got=$(rows "SELECT queue_id, lines, direction FROM messages ORDER BY queue_id")
    if [ "$got" = "$want" ]; then
        ok "index rows: one per helpline message, none for others or aborted ones"
    else
        not_ok "index rows"
        diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
    fi
    local dates
    dates=$(rows "SELECT DISTINCT retain_until FROM messages")
    [ "$dates" = "$RETAIN6" ] && ok "retention dates are $RETAIN6" || not_ok "retention dates: $dates"
}

expect_nothing_identifying() {
    local leaks=""
    for s in caller@example.net advisor@respect.test example.net "in-1@example.net" "Re: hello" 192.0.2.10 127.0.0.2; do
        for f in "$WORK"/state/index.sqlite3* "$WORK/milter.log"; do
            grep -aqF "$s" "$f" && leaks+=" '$s' in $(basename "$f")"
        done
    done
    [ -z "$leaks" ] && ok "no address, subject, IP or Message-ID in the index or the log" || not_ok "leaks:$leaks"
    grep -q "QIN0001: line=mens-advice-line direction=inbound" "$WORK/milter.log" \
        && ok "the log names queue id, line and direction" || not_ok "the log lacks the decision line"
    grep -q "QFORG01" "$WORK/milter.log" && ! grep -q "spoof" "$WORK/milter.log" \
        && ok "no spoof warning for an honest sender" || not_ok "spoof logging"
    grep -q "QFLOOD21: refused: 2000 copies of the retention headers" "$WORK/milter.log" \
        && ok "a refused flood of forged headers is logged with its queue id" || not_ok "the flood's refusal is not logged"
}

test_locked_index() {
    # Hold the write lock past the milter's 5 s busy timeout.
    (echo "BEGIN EXCLUSIVE;"; sleep 9; echo "ROLLBACK;") | sqlite3 "$WORK/state/index.sqlite3" &
    local locker=$!
    sleep 0.5
    local before
    before=$(rows "SELECT count(*) FROM messages" 2>/dev/null || echo "?")
    run_script "$HERE/t-locked.lua"
    wait "$locker"
    local after
    after=$(rows "SELECT count(*) FROM messages WHERE queue_id = 'QLOCK01'")
    [ "$after" = 0 ] && ok "no row for the refused message (before: $before)" || not_ok "a row for a refused message"
}

test_reload() {
    sed -i 's/^level = "debug"/level = "info"/' "$WORK/retention.toml"
    kill -USR1 "$MILTER_PID"
    sleep 0.5
    grep -q "configuration reloaded" "$WORK/milter.log" && ok "SIGUSR1 reloads the config" || not_ok "reload"
    echo "this is [not toml" >>"$WORK/retention.toml"
    kill -USR1 "$MILTER_PID"
    sleep 0.5
    grep -q "reload failed, keeping the previous configuration" "$WORK/milter.log" \
        && ok "a broken config on reload is refused and logged" || not_ok "broken reload"
    run_script "$HERE/t-inbound.lua"
}

test_stop() {
    kill -TERM "$MILTER_PID"
    if wait "$MILTER_PID"; then ok "SIGTERM stops the milter cleanly"; else not_ok "exit status after SIGTERM: $?"; fi
    MILTER_PID=
}

RETAIN6=$(rm_retain_date 6)
write_config
start_milter || { not_ok "milter start"; echo "$PASS passed, $FAIL failed"; exit 1; }
for s in inbound outbound internal noline forged forgedflood nomsgid session badinput; do
    run_script "$HERE/t-$s.lua"
done
expect_rows
expect_nothing_identifying
test_locked_index
test_reload
test_stop
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
