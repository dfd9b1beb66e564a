#!/usr/bin/env bash
# Self-test of tests/e2e/lib/sendmail.sh: a real Sendmail, without any milter, started as a
# private test instance, must deliver local mail into Maildirs, relay outside mail to the sink
# only for trusted or authenticated clients, log through its syslog listener, and leave no
# process behind. Run as root (the harness needs it). Last line: "N passed, N failed".
# Set KEEP=1 to keep the test folder.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/sendmail.sh
source "$HERE/lib/sendmail.sh"

e2e_begin
require_root "the Sendmail harness"
require_tools swaks m4 unshare nsenter setsid
e2e_workdir WORK sm-harness
at_exit sm_stop "$WORK"

# swaks FROM_IP [swaks options...]: one SMTP transaction to the test Sendmail; its
# transcript is in $OUT, its exit status is returned.
OUT=""
send() {
  local ip=$1 rc=0
  shift
  OUT=$(swaks --server 127.0.0.1 --port "${PORT:-$SM_PORT}" --local-interface "$ip" \
    --timeout 20 "$@" 2>&1) || rc=$?
  return "$rc"
}
# The queue id Sendmail gave in its "250 2.0.0 <id> Message accepted" answer, from $OUT.
accepted_id() { sed -nE 's/^<- +250 2\.0\.0 ([0-9A-Za-z]+) Message accepted.*/\1/p' <<<"$OUT"; }
# Files under DIR containing the fixed string S.
files_with() { grep -rlF -- "$2" "$1" 2>/dev/null || true; }
# sink_file N TAG RCPT: once N messages reached the sink, the one with TAG, sent to RCPT.
sink_file() {
  local f
  sm_wait_delivered "$SM_SINK_DIR/new/*" "$1" 10 || return 1
  f=$(files_with "$SM_SINK_DIR/new" "$2" | head -n 1)
  [ -n "$f" ] && grep -qx "X-Sink-Rcpt-To: <$3>" "$f" && echo "$f"
}

START=$SECONDS
sm_start "$WORK" || { fail "sm_start brings up Sendmail"; e2e_finish; }
pass "sm_start brings up Sendmail on 127.0.0.1:$SM_PORT (pid $SM_PID) in $((SECONDS - START)) s"

# (1) An outsider (127.0.0.2) writes to a helpline: delivered into its Maildir.
tag1="harness-inbound-$$-$RANDOM"
if send 127.0.0.2 --from caller@outside.example --to info@mensadviceline.test \
  --header "Subject: $tag1"; then
  id1=$(accepted_id)
  if sm_wait_delivered "$SM_MAIL_DIR/mensadviceline.test/info/new/*" 1 10 &&
    [ -n "$(files_with "$SM_MAIL_DIR/mensadviceline.test/info/new" "$tag1")" ]; then
    pass "127.0.0.2 -> info@mensadviceline.test lands in mail/mensadviceline.test/info/new"
  else
    fail "inbound message delivered into the Maildir" "$(sm_log 15)"
  fi
  f1=$(files_with "$SM_MAIL_DIR/mensadviceline.test/info/new" "$tag1" | head -n 1)
  if [ -n "$f1" ] && grep -q '^Received: from .*\[127\.0\.0\.2\]' "$f1" &&
    grep -q '^Return-Path: <caller@outside.example>' "$f1"; then
    pass "the delivered copy shows the outside client and the envelope sender"
  else
    fail "Received/Return-Path of the delivered copy" "$(cat "$f1" 2>/dev/null)"
  fi
  if [ -z "$(ls -A "$SM_MAIL_DIR/mensadviceline.test/info/tmp")" ]; then
    pass "nothing is left in the Maildir's tmp/"
  else
    fail "Maildir tmp/ is empty after delivery"
  fi
else
  fail "Sendmail accepts 127.0.0.2 -> info@mensadviceline.test" "$OUT"
  id1=""
fi

# (2) A trusted client (127.0.0.1) writes outside: relayed to the sink.
tag2="harness-outbound-$$-$RANDOM"
if send 127.0.0.1 --from staff@respect.test --to person@example.net --header "Subject: $tag2"; then
  id2=$(accepted_id)
  if f2=$(sink_file 1 "$tag2" person@example.net) && grep -qx 'X-Sink-Mail-From: <staff@respect.test>' "$f2"; then
    pass "127.0.0.1 -> person@example.net reaches the sink with its envelope"
  else
    fail "relayed message in the sink" "$(ls -l "$SM_SINK_DIR/new"; sm_log 15)"
  fi
else
  fail "Sendmail accepts 127.0.0.1 -> person@example.net" "$OUT"
  id2=""
fi

# (3) An outsider may not relay.
if send 127.0.0.2 --from caller@outside.example --to victim@example.net; then
  fail "relay from 127.0.0.2 to outside is refused" "$OUT"
elif grep -q '^<\*\* 550 5\.7\.1 <victim@example.net>\.\.\. Relaying denied' <<<"$OUT"; then
  pass "relay from 127.0.0.2 to victim@example.net is refused (550 5.7.1)"
else
  fail "relay refusal is a 550 5.7.1 at RCPT" "$OUT"
fi

# (4) AUTH: an authenticated outsider may relay; a wrong password may not; the MSA port
# (Name=MSA, M=a) takes nothing without AUTH.
if [ "$SM_AUTH" = 1 ]; then
  pass "AUTH PLAIN LOGIN is offered"
  tag4="harness-auth-$$-$RANDOM"
  if send 127.0.0.2 --from staff@respect.test --to partner@example.org --header "Subject: $tag4" \
    --auth PLAIN --auth-user "$SM_AUTH_USER" --auth-password "$SM_AUTH_PASS"; then
    if f4=$(sink_file 2 "$tag4" partner@example.org) && grep -q 'with ESMTPA id' "$f4"; then
      pass "authenticated 127.0.0.2 -> partner@example.org reaches the sink"
    else
      fail "authenticated relay reaches the sink" "$(sm_log 15)"
    fi
  else
    fail "authenticated relay from 127.0.0.2 is accepted" "$OUT"
  fi
  if ! send 127.0.0.2 --from staff@respect.test --to partner@example.org \
    --auth LOGIN --auth-user "$SM_AUTH_USER" --auth-password wrong-password &&
    grep -q '^<\*\* 535 ' <<<"$OUT"; then
    pass "a wrong password is refused (535)"
  else
    fail "a wrong password is refused" "$OUT"
  fi
  if PORT=$SM_SUBMIT_PORT send 127.0.0.2 --from staff@respect.test --to partner@example.org; then
    fail "the MSA port refuses mail without AUTH" "$OUT"
  elif grep -q '^<\*\* 530 ' <<<"$OUT"; then
    pass "the MSA port refuses mail without AUTH (530)"
  else
    fail "the MSA port answers 530 without AUTH" "$OUT"
  fi
else
  fail "AUTH PLAIN LOGIN is offered" "$SM_AUTH_WHY"
fi

# (5) The staff domain is local too, and its addresses are folded to lower case.
if send 127.0.0.2 --from caller@outside.example --to Some.One@Respect.TEST &&
  sm_wait_delivered "$SM_MAIL_DIR/respect.test/some.one/new/*" 1 10; then
  pass "127.0.0.2 -> Some.One@Respect.TEST lands in mail/respect.test/some.one/new"
else
  fail "staff domain delivery" "$OUT"
fi

# (6) The log: syslog lines reach SM_LOG, and sm_queue_ids finds the accepted messages.
if grep -q 'starting daemon (8\.' "$SM_LOG"; then
  pass "Sendmail's syslog reaches SM_LOG"
else
  fail "Sendmail's syslog reaches SM_LOG" "$(cat "$SM_LOG")"
fi
ids=$(sm_queue_ids)
# Sessions that carried no accepted message (the readiness probe, the refused relay) are
# not messages: they must not be listed.
refused=$(sed -nE 's/.*\]: ([0-9A-Za-z]+): .*(did not issue MAIL|reject=550 5\.7\.1 <victim@).*/\1/p' "$SM_LOG")
if [ -n "$id1" ] && [ -n "$id2" ] && grep -qx "$id1" <<<"$ids" && grep -qx "$id2" <<<"$ids" &&
  [ "$(sm_queue_ids 'to=<info@mensadviceline.test>')" = "$id1" ] &&
  [ "$(sm_queue_ids 'to=<person@example.net>')" = "$id2" ] &&
  [ -n "$refused" ] && ! grep -qxF -f <(printf '%s\n' "$refused") <<<"$ids"; then
  pass "sm_queue_ids lists the accepted messages' queue ids ($id1, $id2), not refused sessions"
else
  fail "sm_queue_ids" "from swaks: '$id1' '$id2'; sm_queue_ids: $ids; refused: $refused"
fi
if sm_exec -bp 2>&1 | grep -q 'is empty'; then
  pass "sm_exec -bp: the queue is empty (everything was delivered)"
else
  fail "the queue is empty" "$(sm_exec -bp 2>&1)"
fi

# (7) sm_stop ends every process it started and is idempotent.
started="$SM_PID $(cat "$WORK/run/syslog.pid" "$WORK/run/sink.pid")"
port=$SM_PORT
sm_stop
sm_stop
left=""
for p in $started; do
  # A zombie is already dead; only its parent (or init) can reap it.
  if [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
    left+=" $p"
  fi
done
if [ -z "$left" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  pass "sm_stop (twice) leaves no process and closes the port"
else
  fail "sm_stop leaves no process" "still alive:$left"
fi

echo "# took $((SECONDS - START)) s"
e2e_finish
