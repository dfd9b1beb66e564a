#!/usr/bin/env bash
# The milter under faults, through a real Postfix: its index read-only, on a full
# filesystem, locked by another process past the busy timeout, removed or renamed while the
# milter runs; the key file missing or readable by others at start; the MTA dropping a
# message mid-DATA (the client hanging up, Postfix's smtpd or cleanup killed); SIGKILL and
# SIGTERM under load. The index folder is a small
# tmpfs of its own, so that it can be filled and remounted read-only.
#
# The rule checked after each fault: every message sent is either delivered with its index
# row, or was refused with a 4xx (the sender's MTA keeps it and retries). Here the sender is
# swaks, so a 4xx is counted as "queued at the sender" and the message is sent again once
# the fault has cleared; in the end delivered == messages with a row == sent.
# With on_index_error = "accept", mail is delivered during the fault and its row comes back
# from the pending journal (retentionctl import-pending, or the milter's next start).
# Usage: test_milter_faults.sh PATH/TO/retention-milter PATH/TO/retentionctl
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/postfix.sh"
. "$HERE/lib/milter.sh"
BIN=${1:?usage: $0 PATH/TO/retention-milter PATH/TO/retentionctl}
CTL=${2:?usage: $0 PATH/TO/retention-milter PATH/TO/retentionctl}

e2e_begin
require_root
require_tools swaks sqlite3 python3 mount
e2e_workdir W rm-faults
STATE=$W/milter/state
mkdir -p "$STATE"
# 16 MB: room for the index and its WAL, small enough to fill in a moment.
mount -t tmpfs -o size=16m,mode=0755 rm-faults "$STATE" || e2e_skip "cannot mount a tmpfs here"
at_exit umount -l "$STATE"
at_exit pf_stop
at_exit rm_milter_stop
rm_milter_start "$W" "$BIN"
# A killed cleanup or smtpd (the MTA-drops case) would pause that service for the default
# 60 s (service_throttle_time); 1 s keeps the test quick and changes nothing it checks.
pf_start "$W" "$RM_SOCKET" service_throttle_time=1s
MAILDIR=$PF_MAIL_DIR/mensadviceline.test/info/new
OUTSIDER=127.0.0.2
SENT=()     # every Message-ID sent so far (each must end delivered, with its row)
RETRY=()    # those answered 4xx: still "queued at the sender"

# send_one ID: one message from an outsider to a helpline; prints 2xx, 4xx or 5xx.
send_one() {
  local out
  out=$(swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface "$OUTSIDER" --helo client.example \
    --from caller@example.net --to info@mensadviceline.test --header "Message-Id: <$1@example.net>" \
    --timeout 60 2>&1) || true
  if grep -qE '^<\*\* +4[0-9][0-9]' <<<"$out"; then echo 4xx
  elif grep -qE '^<\*\* +5[0-9][0-9]' <<<"$out"; then echo 5xx
  elif grep -qE '^<\*\*' <<<"$out"; then echo "error: $(grep -m1 '^<\*\*' <<<"$out")"
  else echo 2xx; fi
}

# send_batch PREFIX N [PARALLEL]: N messages PREFIX-1..N, PARALLEL at a time (default 1).
# Adds them to SENT, the 4xx ones to RETRY; anything else is a failure.
send_batch() {
  local prefix=$1 n=$2 par=${3:-1} i id res dir
  dir=$W/results/$prefix
  mkdir -p "$dir"
  # In rounds of PARALLEL, waiting for these pids only (the milter is a job of this shell too).
  local pids=()
  for i in $(seq "$n"); do
    id=$prefix-$i
    SENT+=("$id")
    (send_one "$id" >"$dir/$id") &
    pids+=($!)
    if [ "${#pids[@]}" -ge "$par" ]; then
      wait "${pids[@]}" || true
      pids=()
    fi
  done
  [ "${#pids[@]}" -eq 0 ] || wait "${pids[@]}" || true
  BATCH_2XX=0
  BATCH_4XX=0
  for i in $(seq "$n"); do
    id=$prefix-$i
    res=$(cat "$dir/$id")
    case "$res" in
      2xx) BATCH_2XX=$((BATCH_2XX + 1)) ;;
      4xx) BATCH_4XX=$((BATCH_4XX + 1)); RETRY+=("$id") ;;
      *) fail "$id: answered 2xx or 4xx" "$res" ;;
    esac
  done
}

# Sends every message still "queued at the sender" again; they must all pass now.
resend_retries() {
  local id res left=()
  for id in "${RETRY[@]}"; do
    res=$(send_one "$id")
    [ "$res" = 2xx ] || left+=("$id:$res")
  done
  RETRY=()
  assert_eq "" "${left[*]}" "$1: every message refused for now is accepted on its retry"
}

delivered_count() { { find "$MAILDIR" -type f 2>/dev/null || true; } | wc -l; }

delivered_ids() {
  local f
  for f in "$MAILDIR"/*; do
    [ -f "$f" ] || continue
    sed -n '/^\r\{0,1\}$/q; s/^Message-I[dD]: *<\(.*\)@example.net>.*/\1/p' "$f"
  done | sort
}

# Message-IDs sent so far that have at least one index row (through their digests).
ids_with_rows() {
  local digests
  digests=$(sqlite3 -readonly "$RM_INDEX" "SELECT DISTINCT hex(digest) FROM messages WHERE digest IS NOT NULL")
  [ "${#SENT[@]}" -gt 0 ] || return 0
  paste -d' ' <(rm_digest "${SENT[@]/%/@example.net}") <(printf '%s\n' "${SENT[@]}") |
    awk 'NR == FNR { have[$1] = 1; next } ($1 in have) { print $2 }' <(printf '%s\n' "$digests") - | sort
}

# The rule: once the queue is drained, delivered == with a row == sent, nothing twice.
check_accounting() {
  local what=$1 sent delivered rows dup
  pf_wait_queue_empty 60 || true
  wait_until 30 '[ "$(delivered_ids | wc -l)" -ge "${#SENT[@]}" ]' || true
  sent=$(printf '%s\n' "${SENT[@]}" | sort)
  delivered=$(delivered_ids)
  dup=$(uniq -d <<<"$delivered")
  assert_eq "" "$dup" "$what: no message delivered twice"
  delivered=$(uniq <<<"$delivered")
  rows=$(ids_with_rows)
  assert_eq "$sent" "$delivered" "$what: every message sent is delivered (${#SENT[@]})"
  assert_eq "$sent" "$rows" "$what: every delivered message has its index row"
}

milter_config() {  # KEY VALUE: set a [milter] key in the config (added when missing)
  if grep -q "^$1 *=" "$RM_CONF"; then sed -i "s|^$1 *=.*|$1 = $2|" "$RM_CONF"
  else sed -i "s|^\[milter\]$|[milter]\n$1 = $2|" "$RM_CONF"; fi
}

# ---------------------------------------------------------------------------------------
test_read_only_index() {
  # The index files made read-only for the milter's user (restored from a backup as root,
  # say): the milter cannot write a row, whether it notices at its start or at each message.
  rm_milter_stop
  local f saved=()
  for f in "$RM_INDEX" "$RM_INDEX"-wal "$RM_INDEX"-shm; do
    [ -e "$f" ] || continue
    saved+=("$f" "$(stat -c '%u:%g' "$f")" "$(stat -c '%a' "$f")")
    chown root:root "$f"
    chmod 0644 "$f"
  done
  "$RM_MILTER_BIN" -f -c "$RM_CONF" 2>>"$RM_LOG.stderr" &
  RM_MILTER_PID=$!
  wait_for 10 rm_milter_settled || true
  send_batch ro 4
  assert_eq 4 "$BATCH_4XX" "index read-only (tempfail): every message answered 4xx"
  assert_eq 0 "$(find "$MAILDIR" -type f 2>/dev/null | wc -l)" "index read-only: nothing delivered meanwhile"
  rm_milter_stop
  local i
  for ((i = 0; i < ${#saved[@]}; i += 3)); do
    chown "${saved[i + 1]}" "${saved[i]}"
    chmod "${saved[i + 2]}" "${saved[i]}"
  done
  _rm_milter_launch
  resend_retries "index read-only"
  check_accounting "index read-only"
}

test_full_filesystem() {
  # Fill the tmpfs to the last byte; the index and its WAL cannot grow.
  dd if=/dev/zero of="$STATE/filler" bs=64k status=none 2>/dev/null || true
  send_batch full 20
  rm -f "$STATE/filler"
  # Some may still fit in pages the WAL already has; at least one must meet the full disk.
  if [ "$BATCH_4XX" -gt 0 ]; then pass "full filesystem (tempfail): $BATCH_4XX of 20 messages answered 4xx, the rest delivered with their rows"
  else fail "full filesystem: the fault refused at least one message" "all 20 accepted: the index never needed a new page?"; fi
  resend_retries "full filesystem"
  check_accounting "full filesystem"
}

# Runs a command as the user the milter runs as (the admin tools share its files so).
as_milter_user() { runuser -u nobody -- "$@"; }

# Holds SQLite's write lock for SECONDS from another process (as a careless admin's
# sqlite3 session would); returns once the lock is taken.
hold_lock() {
  # As the milter's user: a root sqlite3 would leave root's -wal/-shm files behind.
  (echo "BEGIN EXCLUSIVE;"; echo "SELECT 'locked';"; sleep "$1"; echo "ROLLBACK;") |
    as_milter_user sqlite3 "$RM_INDEX" >"$W/locker.out" 2>&1 &
  LOCKER=$!
  wait_for 5 grep -q locked "$W/locker.out"
}

test_locked_index() {
  # Two messages at once: each waits out the 5 s busy timeout, one after the other.
  hold_lock 16
  send_batch locked 2 2
  wait "$LOCKER" || true
  assert_eq 2 "$BATCH_4XX" "index locked past the busy timeout (tempfail): both messages answered 4xx"
  resend_retries "index locked"
  check_accounting "index locked"
}

test_accept_recovers_from_the_journal() {
  milter_config on_index_error '"accept"'
  rm_milter_restart
  hold_lock 9
  send_batch accept 3 3
  wait "$LOCKER" || true
  assert_eq 3 "$BATCH_2XX" "index locked, on_index_error = accept: the messages are accepted"
  assert_file_contains "$RM_LOG" "row written to the pending journal" "accept: the log says where the row went"
  # A message that found the lock gone commits, and the milter then takes the journal in.
  if [ -e "$RM_INDEX.pending" ]; then
    pass "accept: the rows wait in the pending journal"
  else
    assert_file_contains "$RM_LOG" "now that the index answers" "accept: the milter took the journal in once a row committed"
  fi
  local out
  out=$(as_milter_user "$CTL" -c "$RM_CONF" import-pending 2>&1) || fail "retentionctl import-pending" "$out"
  check_accounting "on_index_error = accept, retentionctl import-pending"
  # Locked index and a full filesystem: the journal beside it cannot grow either. A message
  # is then refused for now (4xx), never accepted without its row somewhere.
  dd if=/dev/zero of="$STATE/filler" bs=64k status=none 2>/dev/null || true
  hold_lock 9
  send_batch acceptfull 2 2
  wait "$LOCKER" || true
  rm -f "$STATE/filler"
  assert_eq 2 "$BATCH_4XX" "accept, but neither index nor journal writable: 4xx, never accepted without a row"
  resend_retries "accept, index and journal unwritable"
  check_accounting "accept, index and journal unwritable"
  milter_config on_index_error '"tempfail"'
  rm_milter_restart
}

test_accept_journal_imported_at_start() {
  milter_config on_index_error '"accept"'
  rm_milter_restart
  hold_lock 9
  send_batch journal 2 2
  wait "$LOCKER" || true
  assert_eq 2 "$BATCH_2XX" "accept: messages accepted while the index is locked"
  rm_milter_restart
  # The first waits out the busy timeout and goes to the journal; the second may find the
  # lock released after its own wait and go straight to the index.
  assert_file_matches "$RM_LOG" "imported [12] rows from the pending journal" "the milter imports the journal at its start"
  check_accounting "on_index_error = accept, imported at start"
  milter_config on_index_error '"tempfail"'
  rm_milter_restart
}

# Copies the live index (as the milter's user, through SQLite: consistent with its WAL) to
# $W/backup/index.sqlite3, for the "removed" cases to restore as an admin would.
backup_index() {
  rm -rf "$W/backup"
  mkdir -m 0700 "$W/backup"
  chown nobody "$W/backup"
  as_milter_user sqlite3 "$RM_INDEX" ".backup '$W/backup/index.sqlite3'"
}

# Puts the backup back at the index's path with the milter stopped, as the README says.
restore_index() {
  rm -f "$RM_INDEX" "$RM_INDEX"-wal "$RM_INDEX"-shm
  install -o nobody -m 0660 "$W/backup/index.sqlite3" "$RM_INDEX"
}

test_index_removed() {
  # The index files removed while the milter runs (a clean-up script, an admin's rm). It
  # must not write rows into the unlinked file, where they would be lost with it: it
  # refuses mail (4xx) until the index is back, and says why.
  backup_index
  local before
  before=$(delivered_count)
  rm -f "$RM_INDEX" "$RM_INDEX"-wal "$RM_INDEX"-shm
  send_batch removed 3
  assert_eq 3 "$BATCH_4XX" "index removed (tempfail): every message answered 4xx"
  assert_eq "$before" "$(delivered_count)" "index removed: nothing delivered meanwhile"
  assert_file_contains "$RM_LOG" "was removed or replaced" "index removed: the log says the index is gone"
  assert_not_cmd "index removed: the milter made no index of its own at the path" test -e "$RM_INDEX"
  # The admin restores it (milter stopped) and starts the milter: the retries go through.
  rm_milter_stop
  restore_index
  _rm_milter_launch
  resend_retries "index removed"
  check_accounting "index removed, then restored"

  # Renamed away (the state folder reorganised) and renamed back: refused meanwhile, and
  # served again once the file is back at its path, without a restart.
  mv "$RM_INDEX" "$RM_INDEX.away"
  send_batch renamed 2
  assert_eq 2 "$BATCH_4XX" "index renamed away (tempfail): every message answered 4xx"
  mv "$RM_INDEX.away" "$RM_INDEX"
  resend_retries "index renamed away and back"
  check_accounting "index renamed away and back"

  # on_index_error = accept: delivered, the rows in the pending journal beside the index,
  # imported at the next start (here, into the restored index).
  milter_config on_index_error '"accept"'
  rm_milter_restart
  backup_index
  rm -f "$RM_INDEX" "$RM_INDEX"-wal "$RM_INDEX"-shm
  send_batch removedaccept 3
  assert_eq 3 "$BATCH_2XX" "index removed, on_index_error = accept: the messages are accepted"
  assert_exists "$RM_INDEX.pending" "index removed, accept: the rows wait in the pending journal"
  rm_milter_stop
  restore_index
  _rm_milter_launch
  assert_file_matches "$RM_LOG" "imported 3 rows from the pending journal" "index removed, accept: the restarted milter imports the journal"
  check_accounting "index removed, on_index_error = accept, restored and imported"
  milter_config on_index_error '"tempfail"'
  rm_milter_restart
}

# A client that stops in the middle of DATA (from an outsider's address, as send_one):
#   partial_start ID MODE   MODE headers: in the header block; body: after half the body.
# Writes $W/partial/ID.pid (the pid of the smtpd serving it, found through its socket) and
# then waits: partial_finish ID (send the rest and the dot; prints 2xx, 4xx, or eof when
# the server hung up) or partial_drop ID (close at once, with a TCP reset).
partial_start() {
  mkdir -p "$W/partial"
  rm -f "$W/partial/$1".*
  "$(e2e_python)" "$E2E_LIB_DIR/smtp_partial_client.py" "$PF_PORT" "$OUTSIDER" "$1" "$2" "$W/partial/$1" &
  wait_for 20 test -s "$W/partial/$1.pid" || test -s "$W/partial/$1.result" || true
}
partial_go() {  # (in $(...) too: waits for the result file, not for the client's pid)
  # Written whole, then renamed: the client polls for the file and must never read it empty.
  echo "$2" >"$W/partial/$1.go.tmp" && mv "$W/partial/$1.go.tmp" "$W/partial/$1.go"
  wait_for 60 test -s "$W/partial/$1.result" || true
  cat "$W/partial/$1.result" 2>/dev/null || echo "no result"
}
partial_finish() { partial_go "$1" finish; }
partial_drop() { partial_go "$1" drop; }

milter_alive() { [ -n "$RM_MILTER_PID" ] && kill -0 "$RM_MILTER_PID" 2>/dev/null; }

# Index rows of one Message-ID sent here (0 or more).
rows_of() { rm_sql "SELECT count(*) FROM messages WHERE hex(digest) = '$(rm_digest "<$1@example.net>")'"; }

test_mta_drops() {
  # The MTA's side of a message ends in the middle of it: the client hangs up in DATA
  # (with a reset, or in the header block), the smtpd serving it or Postfix's cleanup
  # (which talks to the milter for the headers and body) is killed. No message is
  # delivered, no row is written for it, the milter lives on and serves the next message;
  # the sender still has each one and sends it again later.
  local id res pid before log_from
  before=$(delivered_count)
  log_from=$(($(wc -l <"$RM_LOG") + 1))
  for id in dropbody dropheaders; do
    partial_start "$id" "${id#drop}"
    assert_cmd "$id: the client is in DATA" test -s "$W/partial/$id.pid"
    res=$(partial_drop "$id")
    assert_eq dropped "$res" "$id: the client hung up in the middle of DATA"
  done
  partial_start smtpdkilled body
  pid=$(cat "$W/partial/smtpdkilled.pid" 2>/dev/null || true)
  assert_eq smtpd "$(cat "/proc/$pid/comm" 2>/dev/null)" "smtpdkilled: found the smtpd serving the client"
  [ -n "$pid" ] && kill -KILL "$pid"
  res=$(partial_finish smtpdkilled)
  assert_eq eof "$res" "smtpdkilled: the client sees the connection close, with no answer"
  partial_start cleanupkilled body
  local master cleanup
  master=$(_pf_master_pid)
  cleanup=$(pgrep -P "$master" -x cleanup || true)
  assert_ne "" "$cleanup" "cleanupkilled: Postfix's cleanup is at work on the message"
  # Only this instance's cleanup processes; one is writing the message now.
  [ -n "$cleanup" ] && kill -KILL $cleanup
  res=$(partial_finish cleanupkilled)
  assert_eq 4xx "$res" "cleanupkilled: the message is refused for now (4xx)"
  # The killed cleanup's unfinished queue file stays in incoming/ until Postfix's own late
  # clean-up; nothing else is in flight now, so remove it rather than wait the queue out.
  postsuper -c "$PF_CONFIG_DIR" -d ALL incoming 2>/dev/null || true
  wait_for 10 pf_queue_empty || true
  assert_cmd "MTA drops: the milter is still running" milter_alive
  assert_eq "$before" "$(delivered_count)" "MTA drops: none of the four messages was delivered"
  for id in dropbody dropheaders smtpdkilled cleanupkilled; do
    assert_eq 0 "$(rows_of "$id")" "$id: no index row for a message that was not accepted"
    SENT+=("$id")
    RETRY+=("$id")
  done
  # The next message is served as usual, then each of the four as the sender retries it.
  send_batch afterdrops 2
  assert_eq 2 "$BATCH_2XX" "after the drops: the next messages are accepted"
  resend_retries "MTA drops"
  check_accounting "MTA drops"
  assert_cmd "MTA drops: still the same milter process" milter_alive
  tail -n "+$log_from" "$RM_LOG" >"$W/mta-drops.log"
  assert_file_not_contains "$W/mta-drops.log" "critical" "MTA drops: nothing critical in the milter's log meanwhile"
}

# Status 0 once batch PREFIX has N messages accepted.
accepted_in() { [ "$(grep -lx 2xx "$W/results/$1"/* 2>/dev/null | wc -l)" -ge "$2" ]; }

test_signal_under_load() {
  local sig=$1 n=80 par=8 prefix
  prefix=$(tr '[:upper:]' '[:lower:]' <<<"$sig")
  # The signal goes once the first messages are through, not after a fixed time: on a
  # loaded machine the first acceptance can take longer than any fixed guess.
  (wait_for 60 accepted_in "$prefix" 3; kill "-$sig" "$RM_MILTER_PID") &
  send_batch "$prefix" "$n" "$par"
  wait "$RM_MILTER_PID" 2>/dev/null || true
  RM_MILTER_PID=""
  if [ "$BATCH_2XX" -gt 0 ] && [ "$BATCH_4XX" -gt 0 ]; then
    pass "SIG$sig under load: $BATCH_2XX accepted before it, $BATCH_4XX refused for now (4xx) after it"
  else
    fail "SIG$sig under load: the signal came in the middle of the load" "$BATCH_2XX accepted, $BATCH_4XX refused"
  fi
  _rm_milter_launch
  resend_retries "SIG$sig under load"
  check_accounting "SIG$sig under load"
}

test_key_problems_at_start() {
  rm_milter_stop
  local rc=0
  mv "$RM_KEY" "$RM_KEY.away"
  "$BIN" -f -c "$RM_CONF" >"$W/start.out" 2>&1 || rc=$?
  assert_ne 0 "$rc" "key file missing with an existing index: the milter does not start"
  assert_cmd "key file missing: the error names the key file" grep -qF "$RM_KEY" "$W/start.out" "$RM_LOG"
  assert_not_cmd "key file missing: no new key made" test -e "$RM_KEY"
  mv "$RM_KEY.away" "$RM_KEY"
  chmod 0644 "$RM_KEY"
  rc=0
  "$BIN" -f -c "$RM_CONF" >"$W/start.out" 2>&1 || rc=$?
  assert_ne 0 "$rc" "key file readable by others: the milter does not start"
  assert_cmd "key file readable by others: the error says so" grep -qF "can be read or written by others" "$W/start.out" "$RM_LOG"
  chmod 0640 "$RM_KEY"
  _rm_milter_launch
  send_batch afterkey 1
  check_accounting "after the key problems"
}

# FAULTS_ONLY="index_removed mta_drops" runs only those cases (their function names without
# "test_"), for working on one; the test command runs them all.
ALL_CASES="read_only_index full_filesystem locked_index accept_recovers_from_the_journal
  accept_journal_imported_at_start index_removed mta_drops signal_under_load:TERM signal_under_load:KILL
  key_problems_at_start"
for case in ${FAULTS_ONLY:-$ALL_CASES}; do
  if [[ $case == *:* ]]; then "test_${case%%:*}" "${case#*:}"; else "test_$case"; fi
done
e2e_finish
