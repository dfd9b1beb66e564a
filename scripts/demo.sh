#!/usr/bin/env bash
# The main job, end to end, on this machine: build, then show helpline mail passing a
# real Postfix with retention-milter (stamped and indexed), and later swept.
# Everything runs on loopback under a temporary folder; the machine's own Postfix, its
# queue and its mailboxes are not touched. Run as root on Debian 12.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it starts a private Postfix on loopback)" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing the Debian packages it needs, and building"
"$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
MILTER=$BUILD/milter/retention-milter
SWEEP=$BUILD/sweeper/retention-sweep
CTL=$BUILD/ctl/retentionctl

. "$ROOT/tests/e2e/lib/common.sh"
. "$ROOT/tests/e2e/lib/postfix.sh"
. "$ROOT/tests/e2e/lib/milter.sh"
e2e_begin
KEEP=${KEEP:-0}
e2e_workdir W rm-demo
at_exit pf_stop
at_exit rm_milter_stop

say "Starting retention-milter and a private Postfix on loopback (folder $W)"
rm_milter_start "$W" "$MILTER"
pf_start "$W" "$RM_SOCKET" recipient_delimiter=+ >/dev/null
echo "Postfix: smtpd on 127.0.0.1:$PF_PORT, submission (AUTH) on 127.0.0.1:$PF_SUBMISSION_PORT"
echo "milter:  $RM_SOCKET, index $RM_INDEX"

send() { swaks --silent 2 --server "127.0.0.1:$1" --helo client.example "${@:2}"; }
INBOX=$PF_MAIL_DIR/mensadviceline.test/info/new

say "1. A caller writes to the Men's Advice Line from outside (client 127.0.0.2)"
send "$PF_PORT" --local-interface 127.0.0.2 --from caller@example.net --to info@mensadviceline.test \
  --header "Subject: I need some advice" --header "Message-Id: <demo-1@example.net>"
say "2. The same, with a forged retention header that tries to keep the mail forever"
send "$PF_PORT" --local-interface 127.0.0.2 --from caller@example.net --to info@mensadviceline.test \
  --header "Subject: again" --header "Message-Id: <demo-2@example.net>" --add-header "X-Retain-Until: 2099-12-31"
say "3. An advisor replies as the helpline, through the submission service with SMTP AUTH"
send "$PF_SUBMISSION_PORT" --local-interface 127.0.0.2 --auth PLAIN --auth-user "$PF_AUTH_USER" \
  --auth-password "$PF_AUTH_PASS" --from advisor@respect.test --to caller@example.net \
  --header "From: Men's Advice Line <info@mensadviceline.test>" --header "Subject: Re: I need some advice" \
  --header "Message-Id: <demo-3@respect.test>"
pf_wait_delivered "$INBOX/*" 2 30 >/dev/null
pf_wait_queue_empty 30 >/dev/null || true

say "What staff see in the helpline's mailbox (the headers of each delivered message)"
for f in "$INBOX"/*; do
  echo "--- $(basename "$f")"
  sed -n '/^\r\{0,1\}$/q;p' "$f" | grep -E '^(Subject|Message-I[Dd]|X-Helpline|X-Retain|X-Retention)' || true
done
say "What left for the outside recipient (no retention headers: stamp_outbound = false)"
for f in $(pf_sink_files); do
  sed -n '/^\r\{0,1\}$/q;p' "$f" | grep -E '^(Subject|X-Helpline|X-Retain|X-Retention)' || true
done

say "The index: no address, subject, IP or Message-ID, only a keyed digest"
sqlite3 -header -column "$RM_INDEX" \
  "SELECT id, substr(hex(digest),1,16)||'...' AS digest, queue_id, lines, direction, policy, passed_on, retain_until, state FROM messages"
say "The milter's log"
cat "$RM_LOG"

if [ -x "$CTL" ]; then
  say "retentionctl show <demo-1@example.net>"
  "$CTL" -c "$RM_CONF" show "<demo-1@example.net>" || true
fi

if [ -x "$SWEEP" ]; then
  cat >>"$RM_CONF" <<TOML

[sweep]
secure_delete = "overwrite"

[[sweep.mailbox]]
path = "$PF_MAIL_DIR/mensadviceline.test/info"
kind = "shared"
line = "mens-advice-line"
TOML
  RETAIN=$(rm_retain_date 6)
  say "Later: the nightly sweep, today (nothing has expired yet)"
  "$SWEEP" -c "$RM_CONF" || true
  say "Later: the nightly sweep on $RETAIN, the first day the messages may be destroyed (clock set with faketime)"
  faketime "$RETAIN 03:00:00" "$SWEEP" -c "$RM_CONF" --force || true
  echo
  echo "Left in the helpline's mailbox: $(find "$PF_MAIL_DIR/mensadviceline.test/info" -path '*/new/*' -o -path '*/cur/*' -type f | wc -l) message(s)"
  sqlite3 -header -column "$RM_INDEX" "SELECT id, queue_id, lines, retain_until, state, copies FROM messages"
fi
pass "demo finished"
e2e_finish
