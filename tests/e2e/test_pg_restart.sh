#!/usr/bin/env bash
# The milter on a PostgreSQL index whose server restarts, and is down for a few seconds,
# while mail flows through a real Postfix: senders retry what the milter refused for now
# (as a sending MTA does after a 4xx), and in the end every message is delivered once and
# has exactly one index row. Root only (77 skips).
# Usage: test_pg_restart.sh PATH/TO/retention-milter PATH/TO/retentionctl
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/postfix.sh"
. "$HERE/lib/milter.sh"
. "$HERE/lib/pg.sh"
BIN=${1:?usage: $0 PATH/TO/retention-milter PATH/TO/retentionctl}
CTL=${2:?usage: $0 PATH/TO/retention-milter PATH/TO/retentionctl}
N=${RM_PG_RESTART_MESSAGES:-60}
AT_ONCE=5

e2e_begin
require_root
require_tools swaks python3
e2e_workdir W rm-pgr
pg_start "$W"
pg_createdb retention
at_exit pf_stop
at_exit rm_milter_stop
RM_INDEX_TOML=$(printf '%s\n' 'backend = "postgresql"' "conninfo = \"$(pg_conninfo retention)\"" 'answer_timeout = 4')
export RM_INDEX_TOML
rm_milter_config "$W" "$BIN"
"$CTL" -c "$RM_CONF" upgrade-index >"$W/upgrade.log" 2>&1 || fail "upgrade-index made the index" "$(cat "$W/upgrade.log")"
chown nobody "$RM_KEY"
rm_milter_restart
pf_start "$W" "$RM_SOCKET"
INBOX=$PF_MAIL_DIR/mensadviceline.test/info/new

msgid() { echo "pg-restart-$1@example.net"; }

# One message, sent again after each temporary refusal, as a sending MTA would.
send_until_accepted() {
  local i=$1 attempt
  for attempt in $(seq 1 60); do
    if swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
      --from "caller$i@example.net" --to info@mensadviceline.test \
      --header "Message-Id: <$(msgid "$i")>" --header "Subject: call back $i" >>"$W/swaks.$i.log" 2>&1; then
      echo "$attempt" >"$W/accepted.$i"
      return 0
    fi
    sleep 0.5
  done
}

# The server restarts at once (pg_ctl restart -m fast), and later stops for a few seconds,
# longer than the milter waits for it: messages in flight meet both.
disturb_server() {
  wait_until 60 "[ \$(ls $W/accepted.* 2>/dev/null | wc -l) -ge $((N / 4)) ]" || true
  pg_restart
  wait_until 60 "[ \$(ls $W/accepted.* 2>/dev/null | wc -l) -ge $((N / 2)) ]" || true
  pg_stop
  # Longer than the milter's answer_timeout (4 s, the default: a commit stalled behind a
  # busy disk for longer than it would be given up on and sent again).
  sleep 7
  pg_restart # starts a stopped server with the options it last ran with
}

disturb_server &
disturber=$!
wave=()
for i in $(seq 1 "$N"); do
  send_until_accepted "$i" &
  wave+=($!)
  sleep 0.1
  [ "${#wave[@]}" -lt "$AT_ONCE" ] && [ "$i" -lt "$N" ] && continue
  wait "${wave[@]}" || true
  wave=()
done
wait "$disturber" || fail "the server restarted" "$(tail -n 20 "$PG_DIR/pg_ctl.log")"
assert_eq "$N" "$(ls "$W"/accepted.* | wc -l)" "every message was accepted in the end"

for _ in 1 2 3; do
  pf_flush
  pf_wait_queue_empty 30 && break
done
assert_cmd "nothing is left in Postfix's queue" pf_queue_empty

refused=$(grep -c "cannot write the index" "$RM_LOG" || true)
if [ "$refused" -gt 0 ]; then
  pass "the milter refused $refused messages for now while the server was away"
else
  fail "the restarts met mail in flight" "no message was refused for now"
fi
assert_cmd "the milter is still running" kill -0 "$RM_MILTER_PID"

wait_until 60 "[ \$(ls $INBOX | wc -l) -ge $N ]" || true
twice=0 missing=0
for i in $(seq 1 "$N"); do
  copies=$(grep -lF "<$(msgid "$i")>" "$INBOX"/* 2>/dev/null | wc -l)
  [ "$copies" -eq 1 ] && continue
  [ "$copies" -eq 0 ] && missing=$((missing + 1)) || twice=$((twice + 1))
done
assert_eq "0 0" "$missing $twice" "every message delivered exactly once (missing, more than once)"

assert_eq "$N" "$(pg_psql retention "SELECT count(*) FROM messages")" "the index holds one row per message"
mapfile -t digests < <(for i in $(seq 1 "$N"); do rm_digest "<$(msgid "$i")>"; done)
list=$(printf "'\\\\x%s'," "${digests[@]}")
assert_eq "$N" "$(pg_psql retention "SELECT count(DISTINCT digest) FROM messages WHERE digest IN (${list%,})")" \
  "each message's Message-ID has its row"

e2e_finish
