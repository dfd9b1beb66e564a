#!/usr/bin/env bash
# Self-test of tests/e2e/lib/postfix.sh, without any milter: a private real Postfix (with its
# Dovecot for SMTP AUTH and its smtp-sink) must deliver helpline mail from an outsider into
# a Maildir, relay an authenticated submission to the sink, refuse to relay for an
# unauthenticated outsider, and leave no process behind when stopped. Run as root (the
# harness needs it). Last line: "N passed, N failed". KEEP=1 keeps the test folder.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/postfix.sh
source "$HERE/lib/postfix.sh"

e2e_begin
require_root "the Postfix harness"
require_tools postfix postconf smtp-sink dovecot doveadm swaks

WORK=""
e2e_workdir WORK pf-harness
at_exit pf_stop "$WORK"
TAG="pfh-$$-$RANDOM"

# send [swaks options...]: one SMTP transaction; the transcript is in $OUT, swaks' status
# is returned (0: the message was accepted).
OUT=""
send() {
  local rc=0
  OUT=$(swaks --server 127.0.0.1 --timeout 20 --hide-informational "$@" 2>&1) || rc=$?
  return "$rc"
}
# The queue id in Postfix's "250 2.0.0 Ok: queued as ID" answer, from $OUT.
queued_id() { sed -nE 's/^<- +250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+).*/\1/p' <<<"$OUT"; }

# --- start ----------------------------------------------------------------------------
t0=$SECONDS
if pf_start "$WORK"; then
  pass "pf_start brings up Postfix, Dovecot and smtp-sink ($((SECONDS - t0)) s)"
else
  fail "pf_start brings up Postfix, Dovecot and smtp-sink"
  e2e_finish
fi
for v in PF_PORT PF_SUBMISSION_PORT PF_SINK_PORT PF_IMAP_PORT; do
  assert_cmd "$v (${!v}) is listening" port_listening "${!v}"
done
assert_file_contains "$PF_LOG" "configuration $PF_CONFIG_DIR" "Postfix logs to PF_LOG, and runs on the private config"
assert_eq "" "$(pf_postconf -h smtpd_milters)" "no milter without MILTER_SPEC"
assert_eq "127.0.0.1/32" "$(pf_postconf -h mynetworks)" "mynetworks is 127.0.0.1 only"

# --- 1. an outsider writes to a helpline ----------------------------------------------
if send --port "$PF_PORT" --local-interface 127.0.0.2 --from "caller@outside.example" \
  --to info@respectphoneline.test --header "Subject: $TAG inbound"; then
  pass "inbound from 127.0.0.2 to info@respectphoneline.test is accepted"
else
  fail "inbound from 127.0.0.2 to info@respectphoneline.test is accepted" "$OUT"
fi
IN_ID=$(queued_id)
INBOX="$PF_MAIL_DIR/respectphoneline.test/info"
if pf_wait_delivered "$INBOX/new/*" 1 10; then
  f=$(find "$INBOX/new" -type f | head -n 1)
  pass "it is delivered into the Maildir's new/"
  assert_header "$f" Subject "$TAG inbound"
  assert_header "$f" Delivered-To "info@respectphoneline.test"
  assert_file_contains "$f" "[127.0.0.2]" "the Received line names the outside client"
  assert_eq "$PF_MAIL_USER" "$(stat -c %U "$f")" "the file belongs to the mail user"
  assert_exists "$INBOX/cur" "virtual(8) made a whole Maildir (cur/)"
else
  fail "it is delivered into the Maildir's new/"
fi
assert_ne "" "$IN_ID" "Postfix answered with a queue id"
assert_eq "$IN_ID" "$(pf_log_ids 'to=<info@respectphoneline\.test>.*status=sent' | tail -n 1)" \
  "pf_log_ids finds that queue id by its delivery line"

# --- 2. an authenticated submission to the outside ------------------------------------
if send --port "$PF_SUBMISSION_PORT" --from "$PF_AUTH_USER" --to person@example.net \
  --auth-user "$PF_AUTH_USER" --auth-password "$PF_AUTH_PASS" --header "Subject: $TAG outbound"; then
  pass "an authenticated submission to person@example.net is accepted"
else
  fail "an authenticated submission to person@example.net is accepted" "$OUT"
fi
OUT_ID=$(queued_id)
if pf_wait_delivered "$SINK_DIR/*" 1 10; then
  f=$(pf_sink_files | tail -n 1)
  pass "it is relayed to smtp-sink"
  assert_header "$f" Subject "$TAG outbound"
  assert_file_contains "$f" "X-Rcpt-Args: <person@example.net>" "the sink saw the outside recipient"
  assert_file_contains "$f" "X-Mail-Args: <$PF_AUTH_USER>" "the sink saw the envelope sender"
else
  fail "it is relayed to smtp-sink"
fi
assert_file_matches "$PF_LOG" "$OUT_ID: client=.*sasl_username=$PF_AUTH_USER" \
  "Postfix logged the SASL login (Dovecot auth) for that message"
assert_file_matches "$PF_LOG" "postfix/submission/smtpd.*$OUT_ID" "it came through the submission service"

# --- 3. an unauthenticated outsider may not relay -------------------------------------
before=$(pf_sink_files | wc -l)
if send --port "$PF_PORT" --local-interface 127.0.0.2 --from "caller@outside.example" \
  --to person@example.net --header "Subject: $TAG relay"; then
  fail "a relay attempt from 127.0.0.2 is rejected" "$OUT"
elif grep -q '^<\*\* *554 5\.7\.1 .*Relay access denied' <<<"$OUT"; then
  pass "a relay attempt from 127.0.0.2 is rejected (554 Relay access denied)"
else
  fail "a relay attempt from 127.0.0.2 is rejected (554 Relay access denied)" "$OUT"
fi

# --- more of what the tests of the milter lean on --------------------------------------
if send --port "$PF_SUBMISSION_PORT" --from "$PF_AUTH_USER" --to person@example.net \
  --auth-user "$PF_AUTH_USER" --auth-password wrong --header "Subject: $TAG badpass"; then
  fail "a wrong password is refused" "$OUT"
else
  assert_cmd "a wrong password is refused (535)" grep -q '^<\*\* *535' <<<"$OUT"
fi
if send --port "$PF_SUBMISSION_PORT" --from "$PF_AUTH_USER" --to person@example.net \
  --header "Subject: $TAG noauth"; then
  fail "the submission port refuses clients that did not log in" "$OUT"
else
  pass "the submission port refuses clients that did not log in"
fi
if send --port "$PF_PORT" --local-interface 127.0.0.2 --from "caller@outside.example" \
  --to nobody-here@respectphoneline.test; then
  fail "an unknown helpline mailbox is refused" "$OUT"
else
  assert_cmd "an unknown helpline mailbox is refused (550 User unknown)" \
    grep -q 'User unknown in virtual mailbox table' <<<"$OUT"
fi
# A trusted host (127.0.0.1, mynetworks) writes to staff, and a local submission
# (sendmail -> pickup, the non_smtpd_milters path) reaches the other helpline.
send --port "$PF_PORT" --from "$PF_AUTH_USER" --to alice@respect.test --header "Subject: $TAG internal" ||
  fail "a trusted client writes to alice@respect.test" "$OUT"
printf 'From: %s\nTo: info@mensadviceline.test\nSubject: %s local\n\nbody\n' "$PF_AUTH_USER" "$TAG" |
  pf_sendmail -f "$PF_AUTH_USER" -t
assert_cmd "a trusted client's mail reaches a staff Maildir" \
  pf_wait_delivered "$PF_MAIL_DIR/respect.test/alice/new/*" 1 10
assert_cmd "a local submission (pf_sendmail) reaches the other helpline" \
  pf_wait_delivered "$PF_MAIL_DIR/mensadviceline.test/info/new/*" 1 10
pf_add_mailbox Carol@Respect.test
send --port "$PF_PORT" --from "$PF_AUTH_USER" --to carol@respect.test || true
assert_cmd "pf_add_mailbox makes a new mailbox" \
  pf_wait_delivered "$PF_MAIL_DIR/respect.test/carol/new/*" 1 10

assert_cmd "the queue drains (pf_wait_queue_empty)" pf_wait_queue_empty 10
assert_eq "0" "$(pf_queue_count)" "pf_queue_count is 0"
assert_eq "" "$(pf_queue_ids)" "pf_queue_ids lists nothing"
assert_eq "$before" "$(pf_sink_files | wc -l)" "nothing more reached the sink"

# Dovecot serves the delivered mail over IMAP, as staff's clients would see it.
if command -v python3 >/dev/null; then
  assert_cmd "IMAP login to Dovecot shows the delivered message" pf_imap info@respectphoneline.test "
M.select('INBOX')
typ, data = M.search(None, 'SUBJECT', '\"$TAG inbound\"')
assert typ == 'OK' and data[0].split(), data"
fi
assert_cmd "doveadm works on this Dovecot (force-resync)" \
  pf_doveadm force-resync -u info@respectphoneline.test INBOX

# --- stop ---------------------------------------------------------------------------------
sink_pid=$(cat "$PF_DIR/sink.pid")
dovecot_pid=$(cat "$PF_DOVECOT_DIR/run/master.pid")
master_pid=$(tr -dc '0-9' <"$PF_QUEUE_DIR/pid/master.pid")
t0=$SECONDS
pf_stop "$WORK"
pass "pf_stop returns ($((SECONDS - t0)) s)"
for p in "$master_pid" "$dovecot_pid" "$sink_pid"; do
  assert_cmd "process $p ($(cat "/proc/$p/comm" 2>/dev/null || echo gone)) has ended" _pf_gone "$p"
done
assert_eq "" "$(_pf_instance_pids "$PF_CONFIG_DIR" | tr '\n' ' ')" "no Postfix process of this instance is left"
for v in PF_PORT PF_SUBMISSION_PORT PF_SINK_PORT PF_IMAP_PORT; do
  assert_not_cmd "$v is closed" port_listening "${!v}"
done
assert_cmd "pf_stop again is harmless" pf_stop "$WORK"

# --- MILTER_SPEC is wired in: with nothing listening there, mail is tempfailed ------------
dead_port=$(free_ports 1)
if pf_start "$WORK" "inet:127.0.0.1:$dead_port" milter_connect_timeout=2s; then
  pass "pf_start again in the same folder, with a MILTER_SPEC and a main.cf setting"
  assert_eq "inet:127.0.0.1:$dead_port" "$(pf_postconf -h smtpd_milters)" "smtpd_milters is MILTER_SPEC"
  assert_eq "inet:127.0.0.1:$dead_port" "$(pf_postconf -h non_smtpd_milters)" "non_smtpd_milters is MILTER_SPEC"
  assert_eq "i {auth_authen} {daemon_name}" "$(pf_postconf -h milter_end_of_data_macros)" \
    "milter_end_of_data_macros asks for the queue id, auth and daemon name"
  assert_eq "2s" "$(pf_postconf -h milter_connect_timeout)" "NAME=VALUE settings are applied"
  if send --port "$PF_PORT" --local-interface 127.0.0.2 --from "caller@outside.example" \
    --to info@respectphoneline.test --header "Subject: $TAG dead milter"; then
    fail "a milter that does not answer means tempfail (milter_default_action)" "$OUT"
  else
    assert_cmd "a milter that does not answer means tempfail (milter_default_action)" \
      grep -qE '^<\*\* *4[0-9][0-9] ' <<<"$OUT"
  fi
  pf_stop "$WORK"
else
  fail "pf_start again in the same folder, with a MILTER_SPEC and a main.cf setting"
fi

e2e_finish
