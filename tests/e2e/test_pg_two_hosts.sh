#!/usr/bin/env bash
# End to end: two mail hosts sharing one PostgreSQL index. Two real Postfix instances on
# loopback, each with its own retention-milter (own socket, config, host_id and pending
# journal), write to one database the admin made with `retentionctl upgrade-index` on the
# first host; the second host runs on a copy of the first host's key, and is refused with
# a key of its own. One retention-sweep, whose config lists both hosts' mailboxes, keeps
# everything the day before the retention date and destroys both hosts' mail on the date;
# run while another sweep holds the server's lock, it touches nothing (exit 3); retentionctl
# on either host sees the rows of both.
# The mail carries distinctive strings (canaries) in its addresses, names, subject, body,
# HELO, client address and name, and Message-IDs, and the server logs every statement with
# its parameters: afterwards no canary may appear in the server's log, in a plain pg_dump,
# in any table, or in the server's data files, while the log did record the milters' rows.
# Usage: test_pg_two_hosts.sh PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib/sweep.sh
. "$HERE/lib/sweep.sh"
# shellcheck source=SCRIPTDIR/lib/pg.sh
. "$HERE/lib/pg.sh"

MILTER=${1:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl}
# shellcheck disable=SC2034  # sweep_at (lib/sweep.sh) runs it
SWEEP=${2:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl}
CTL=${3:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl}

e2e_begin
require_root
require_tools swaks python3 setpriv faketime
e2e_workdir W rm-pg-hosts

pg_start "$W"
pg_log_statements
pg_createdb retention
# Over TCP with a password, as hosts reach a database server.
CONNINFO=$(pg_tcp_conninfo retention)

# Every canary holds this token, so one search finds any of them; the client addresses
# are searched for as well.
TOKEN=qz7canary
IP_A=198.51.100.71
IP_B=198.51.100.72
MX1=$W/mx1
MX2=$W/mx2

# index_toml HOST-ID: the [index] lines of a host on the shared database.
index_toml() { printf 'backend = "postgresql"\nconninfo = "%s"\nhost_id = "%s"\n' "$CONNINFO" "$1"; }

# own_key FILE USER: the key file readable by USER alone, as the programs require.
own_key() { chown "$2" "$1" && chmod 0600 "$1"; }

# --- the first host: the admin makes the index, then starts the milter ------------------

RM_INDEX_TOML=$(index_toml "mx1-$TOKEN.respect.test") rm_milter_config "$MX1" "$MILTER"
MX1_CONF=$RM_CONF MX1_KEY=$RM_KEY
"$CTL" -c "$MX1_CONF" upgrade-index >"$W/upgrade.out" 2>&1 || fail "upgrade-index makes the shared index"
assert_file_contains "$W/upgrade.out" "created the index" "upgrade-index says it made the index"
assert_exists "$MX1_KEY" "upgrade-index made the first host's key"
own_key "$MX1_KEY" nobody
# The test logs everything the programs send, whatever upgrade-index set on the database.
pg_log_statements retention
at_exit rm_milter_stop
rm_milter_restart
MX1_PID=$RM_MILTER_PID
RM_MILTER_PID="" # the second host's milter is the one rm_milter_restart acts on from here
at_exit rm_milter_stop "$MX1_PID"
assert_cmd "the first host's milter runs on the shared index" kill -0 "$MX1_PID"
at_exit pf_stop "$MX1"
pf_start "$MX1" "$RM_SOCKET"

# --- the second host: refused with a key of its own, served with the first host's -------

RM_INDEX_TOML=$(index_toml "mx2-$TOKEN.respect.test") rm_milter_config "$MX2" "$MILTER"
MX2_KEY=$RM_KEY
head -c 32 /dev/urandom >"$MX2_KEY"
own_key "$MX2_KEY" nobody
rm_milter_restart
wait_for 30 sh -c "! kill -0 $RM_MILTER_PID" || fail "a second host with a key of its own stops"
assert_file_contains "$RM_LOG" "copy the key file from the first host" \
  "the second host's log says to copy the key from the first host"
rm_milter_stop
! "$CTL" -c "$RM_CONF" check >"$W/check.out" 2>&1 || fail "retentionctl check refuses the second host's own key"
assert_file_contains "$W/check.out" "Copy the key file from the first host" \
  "retentionctl check on the second host says to copy the key from the first host"
! "$CTL" -c "$RM_CONF" show "<any@example.org>" >"$W/show.out" 2>&1 || fail "retentionctl show refuses the second host's own key"
assert_file_contains "$W/show.out" "copy the key file from the first host" \
  "retentionctl show on the second host says to copy the key from the first host"
install -m 0600 -o nobody "$MX1_KEY" "$MX2_KEY"
rm_milter_restart
MX2_PID=$RM_MILTER_PID
assert_cmd "the second host's milter runs on a copy of the first host's key" kill -0 "$MX2_PID"
at_exit pf_stop "$MX2"
pf_start "$MX2" "$RM_SOCKET"

# --- mail through both hosts ------------------------------------------------------------

# send HOST-DIR CLIENT-IP TAG TO: one message from outside through that host's Postfix,
# every identifying part of it a canary. Its Message-ID is printed.
send() {
  local mx=$1 ip=$2 tag=$3 to=$4 mid
  mid="$tag.$TOKEN.$$@sender-$TOKEN.example"
  pf_use "$mx"
  swaks --silent 2 --server "127.0.0.1:$PF_PORT" --helo "helo-$tag-$TOKEN.example" \
    --xclient-addr "$ip" --xclient-name "rdns-$tag-$TOKEN.example" \
    --from "sender.$tag.$TOKEN@sender-$TOKEN.example" --to "$to" \
    --header "From: \"Sender $tag $TOKEN\" <sender.$tag.$TOKEN@sender-$TOKEN.example>" \
    --header "Cc: \"Friend $tag $TOKEN\" <friend.$tag.$TOKEN@friend-$TOKEN.example>" \
    --header "Subject: Subject $tag $TOKEN" --header "Message-Id: <$mid>" \
    --body "Body $tag $TOKEN" >&2
  echo "$mid"
}

MID_A1=$(send "$MX1" "$IP_A" a1 info@respectphoneline.test)
MID_A2=$(send "$MX1" "$IP_A" a2 info@mensadviceline.test)
MID_B1=$(send "$MX2" "$IP_B" b1 info@respectphoneline.test)
MID_B2=$(send "$MX2" "$IP_B" b2 info@mensadviceline.test)

RESPECT=respectphoneline.test/info
MENS=mensadviceline.test/info
for box in "$MX1/mail/$RESPECT" "$MX1/mail/$MENS" "$MX2/mail/$RESPECT" "$MX2/mail/$MENS"; do
  pf_use "${box%/mail/*}"
  pf_wait_delivered "$box/new/*" 1 30 || fail "delivered into $box"
done
MAIL_FILES=("$MX1/mail/$RESPECT"/new/* "$MX1/mail/$MENS"/new/* "$MX2/mail/$RESPECT"/new/* "$MX2/mail/$MENS"/new/*)
assert_eq 4 "${#MAIL_FILES[@]}" "each host delivered its two messages"
RETAIN=$(rm_retain_date 6)
assert_header "${MAIL_FILES[2]}" X-Retain-Until "$RETAIN" "the second host's mail carries its retention date"

# --- the shared index -------------------------------------------------------------------

# row MESSAGE-ID: the lines and state of its row in the shared database.
row() {
  pg_psql retention "SELECT lines || '|' || state FROM messages
                     WHERE digest = decode('$(rm_digest "<$1>")', 'hex')"
}
assert_eq "respect-phoneline|present" "$(row "$MID_A1")" "the first host's row is in the shared index"
assert_eq "mens-advice-line|present" "$(row "$MID_B2")" "the second host's row is in the shared index"
assert_eq 4 "$(pg_psql retention 'SELECT count(*) FROM messages')" "the shared index holds the four rows"

# retentionctl on either host sees the other host's messages.
assert_cmd "retentionctl on the first host shows the second host's message" \
  "$CTL" -c "$MX1_CONF" show "<$MID_B1>"
assert_cmd "retentionctl on the second host shows the first host's message" \
  "$CTL" -c "$RM_CONF" show "<$MID_A2>"
REPORT=$("$CTL" -c "$MX1_CONF" report --json 2>&1) || fail "retentionctl report runs" "$REPORT"
assert_eq 4 "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(c["count"] for c in d["counts"] if c["state"] == "present"))' <<<"$REPORT" 2>&1)" \
  "the report counts both hosts' messages"

# --- one sweeper for both hosts' mailboxes ----------------------------------------------

# The sweeper's host has its own copy of the key, readable by the mail store's user, and its
# own pending journal path (under the SQLite path, unused with PostgreSQL).
# shellcheck disable=SC2034  # read by sweep_config
RM_INDEX=$W/sweep/index.sqlite3
RM_KEY=$W/sweep-key/index.key
mkdir -p "$W/sweep-key"
install -m 0600 -o "$PF_MAIL_UID" "$MX1_KEY" "$RM_KEY"
RM_INDEX_TOML=$(index_toml "sweeper-$TOKEN.respect.test") sweep_config '[sweep]' \
  "$(sweep_mailbox "$MX1/mail/$RESPECT" shared respect-phoneline)" \
  "$(sweep_mailbox "$MX2/mail/$RESPECT" shared respect-phoneline)" \
  "$(sweep_mailbox "$MX1/mail/$MENS" shared mens-advice-line)" \
  "$(sweep_mailbox "$MX2/mail/$MENS" shared mens-advice-line)"

# With a key of its own, the sweeper stops before it reads anything.
head -c 32 /dev/urandom >"$RM_KEY.own"
install -m 0600 -o "$PF_MAIL_UID" "$RM_KEY.own" "$RM_KEY"
sweep_at "$(date -d "$RETAIN -1 day" +%F) 02:00:00"
assert_eq 3 "$SWEEP_RC" "a sweeper with a key of its own stops (exit 3)"
assert_file_contains "$W/sweep/err" "copy the key file from the first host" \
  "the sweeper says to copy the key from the first host"
assert_file_contains "$W/sweep/sweep.log" "is not the key the index" "the sweeper's log says why it stopped"
install -m 0600 -o "$PF_MAIL_UID" "$MX1_KEY" "$RM_KEY"

# A standby sweeper on another host, run while a sweep holds the lock on the server (a
# session holding the sweepers' advisory lock plays that sweep): it touches nothing, even on
# the retention date, and ends with exit 3 saying why.
SWEEP_LOCK=$((0x726d5f7377656570)) # "rm_sweep", as db/pg_schema.hpp names it
coproc LOCKER { "$PG_BIN/psql" -X -q -At -d "$(pg_conninfo retention)"; }
echo "SELECT pg_advisory_lock($SWEEP_LOCK); SELECT 'locked';" >&"${LOCKER[1]}"
got=""
while read -r -t 20 line <&"${LOCKER[0]}"; do [ "$line" != locked ] || { got=locked; break; }; done
assert_eq locked "$got" "a session holds the sweep lock"
sweep_at "$RETAIN 03:00:00"
assert_eq 3 "$SWEEP_RC" "a sweep while another holds the lock stops (exit 3)"
assert_file_contains "$W/sweep/err" "another retention-sweep is running" "it says another sweep is running"
left=0
for f in "${MAIL_FILES[@]}"; do [ -e "$f" ] && left=$((left + 1)); done
assert_eq 4 "$left" "a sweep that found the lock taken destroyed nothing"
locker_in=${LOCKER[1]}
exec {locker_in}>&- # the session ends, and its lock with it
wait "$LOCKER_PID" 2>/dev/null || true
# The server lets the lock go when the session's process has ended, a moment after psql.
no_advisory_lock() { [ "$(pg_psql retention "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ]; }
wait_for 20 no_advisory_lock || fail "the lock was let go when its session ended"

sweep_at "$(date -d "$RETAIN -1 day" +%F) 03:00:00"
assert_eq 0 "$SWEEP_RC" "the sweep the day before ends 0"
sweep_show_failure
left=0
for f in "${MAIL_FILES[@]}"; do [ -e "$f" ] && left=$((left + 1)); done
assert_eq 4 "$left" "the day before: both hosts' mail is kept"
assert_eq "2 2" "$(sweep_json 'd["lines"]["respect-phoneline"]["kept"], d["lines"]["mens-advice-line"]["kept"]' | tr -d '(),')" \
  "the day before: the summary keeps two messages of each line"

sweep_at "$RETAIN 03:00:00"
assert_eq 0 "$SWEEP_RC" "the sweep on the date ends 0"
sweep_show_failure
left=0
for f in "${MAIL_FILES[@]}"; do [ -e "$f" ] && left=$((left + 1)); done
assert_eq 0 "$left" "on the date: both hosts' mail is destroyed"
assert_eq "respect-phoneline|destroyed" "$(row "$MID_B1")" "the second host's row is destroyed"
assert_eq "mens-advice-line|destroyed" "$(row "$MID_A2")" "the first host's row is destroyed"
assert_eq 4 "$(pg_psql retention "SELECT count(*) FROM messages WHERE state = 'destroyed'")" \
  "every row of the shared index is destroyed"

# --- nothing identifying on the database server -----------------------------------------

rm_milter_stop "$MX1_PID"
rm_milter_stop "$MX2_PID"
pg_dump_db retention "$W/dump.sql"
: >"$W/tables.txt"
for t in $(pg_psql retention "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"); do
  pg_psql retention "COPY $t TO STDOUT" >>"$W/tables.txt"
done
pg_stop # flushes the server's log and its data files
TOKEN_HEX=$(printf '%s' "$TOKEN" | od -An -tx1 | tr -d ' \n')
# shellcheck disable=SC2016  # $1 and $2 are the inner shell's
for f in "$PG_LOG" "$W/dump.sql" "$W/tables.txt"; do
  for canary in "$TOKEN" "$TOKEN_HEX" "$IP_A" "$IP_B"; do
    assert_cmd "no '$canary' in $(basename "$f")" sh -c '! grep -aiF -e "$1" "$2"' _ "$canary" "$f"
  done
done
# shellcheck disable=SC2016  # $1 and $2 are the inner shell's
for canary in "$TOKEN" "$IP_A" "$IP_B"; do
  assert_cmd "no '$canary' in the server's data files" sh -c '! grep -raiF -l -e "$1" "$2"' _ "$canary" "$PG_DATA"
done
# Nor in the logs of the programs on the mail hosts.
for f in "$MX1/milter/milter.log" "$MX2/milter/milter.log" "$W/sweep/sweep.log"; do
  for canary in "$TOKEN" "$IP_A" "$IP_B"; do
    assert_file_not_contains "$f" "$canary" "no '$canary' in ${f#"$W"/}"
  done
done
# The control: the log holds the milters' INSERTs with their parameters, so a canary sent
# as a parameter or in a statement would have been seen.
assert_file_matches "$PG_LOG" 'INSERT INTO messages' "the server's log recorded the milters' INSERTs"
assert_file_contains "$PG_LOG" "$(rm_digest "<$MID_B2>" | tr '[:upper:]' '[:lower:]')" \
  "the server's log recorded a row's digest as a parameter, in full"

e2e_finish
