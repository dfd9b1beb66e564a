#!/usr/bin/env bash
# Runs the miltertest scripts against a real retention-milter on a unix socket, then
# checks the index rows they left. Usage: run.sh PATH/TO/retention-milter
set -uo pipefail

MILTER=${1:?usage: run.sh PATH/TO/retention-milter}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../e2e/lib/common.sh"
. "$HERE/../e2e/lib/milter.sh"

e2e_begin
require_tools miltertest sqlite3
e2e_workdir WORK rm-miltertest
at_exit rm_milter_stop

run_script() {
    local script=$1
    if miltertest -D sock="$RM_SOCKET" -D libdir="$HERE" -D retain6="$RETAIN6" -s "$script" \
        >"$WORK/out.txt" 2>&1; then
        pass "$(basename "$script")"
    else
        fail "$(basename "$script")" "$(cat "$WORK/out.txt")"
    fi
}

rows() { sqlite3 "$RM_INDEX" "$1"; }

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
    assert_eq "$want" "$(rows "SELECT queue_id, lines, direction FROM messages ORDER BY queue_id")" \
        "index rows: one per helpline message, none for others or aborted ones"
    assert_eq "$RETAIN6" "$(rows "SELECT DISTINCT retain_until FROM messages")" "retention dates are $RETAIN6"
}

expect_nothing_identifying() {
    local leaks="" s f
    for s in caller@example.net advisor@respect.test example.net "in-1@example.net" "Re: hello" 192.0.2.10 127.0.0.2; do
        for f in "$RM_INDEX"* "$RM_LOG"; do
            grep -aqF "$s" "$f" && leaks+=" '$s' in $(basename "$f")"
        done
    done
    assert_eq "" "$leaks" "no address, subject, IP or Message-ID in the index or the log"
    assert_file_contains "$RM_LOG" "QIN0001: line=mens-advice-line direction=inbound" \
        "the log names queue id, line and direction"
    assert_cmd "no spoof warning for an honest sender" \
        bash -c 'grep -q QFORG01 "$1" && ! grep -q spoof "$1"' _ "$RM_LOG"
    assert_file_contains "$RM_LOG" "QFLOOD21: refused: 2000 copies of the retention headers" \
        "a refused flood of forged headers is logged with its queue id"
}

# Status 0 once a SQLite session holds the index's write lock.
index_locked() { ! sqlite3 "$RM_INDEX" 'PRAGMA busy_timeout = 0; BEGIN IMMEDIATE; ROLLBACK;' 2>/dev/null; }

test_locked_index() {
    # Hold the write lock past the milter's 5 s busy timeout.
    (echo "BEGIN EXCLUSIVE;"; echo "SELECT 'locked';"; sleep 9; echo "ROLLBACK;") | sqlite3 "$RM_INDEX" >/dev/null &
    local locker=$!
    wait_for 10 index_locked || fail "a second session holds the index's write lock"
    run_script "$HERE/t-locked.lua"
    wait "$locker"
    assert_eq 0 "$(rows "SELECT count(*) FROM messages WHERE queue_id = 'QLOCK01'")" "no row for the refused message"
}

# Status 0 once the log has N or more lines containing TEXT.
log_count_at_least() { [ "$(grep -cF -- "$2" "$RM_LOG")" -ge "$1" ]; }

test_reload() {
    sed -i 's/^level = "debug"/level = "info"/' "$RM_CONF"
    kill -USR1 "$RM_MILTER_PID"
    wait_for 10 log_count_at_least 1 "configuration reloaded"
    assert_file_contains "$RM_LOG" "configuration reloaded" "SIGUSR1 reloads the config"
    echo "this is [not toml" >>"$RM_CONF"
    kill -USR1 "$RM_MILTER_PID"
    wait_for 10 log_count_at_least 1 "reload failed, keeping the previous configuration"
    assert_file_contains "$RM_LOG" "reload failed, keeping the previous configuration" \
        "a broken config on reload is refused and logged"
    run_script "$HERE/t-inbound.lua"
}

test_stop() {
    local rc=0
    kill -TERM "$RM_MILTER_PID"
    wait "$RM_MILTER_PID" || rc=$?
    RM_MILTER_PID=
    assert_eq 0 "$rc" "SIGTERM stops the milter cleanly"
}

RETAIN6=$(rm_retain_date 6)
rm_milter_start "$WORK" "$MILTER" || e2e_finish
for s in inbound outbound internal noline forged forgedflood nomsgid session badinput; do
    run_script "$HERE/t-$s.lua"
done
expect_rows
expect_nothing_identifying
test_locked_index
test_reload
test_stop
e2e_finish
