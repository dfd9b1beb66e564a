#!/usr/bin/env bash
# End to end through a REAL Sendmail: the real retention-milter on a unix socket,
# a private Sendmail test instance (tests/e2e/lib/sendmail.sh) wired to it with the
# INPUT_MAIL_FILTER block of conf/sendmail.mc (F=T), and mail sent with swaks:
#   (a) inbound with forged headers, (b) outbound after SMTP AUTH, (c) outbound from an
#   internal host, (d) internal to two lines, (e) a spoofed helpline sender, (f) mail of no
#   line, (g) a missing Message-ID, (h) the index rows carry Sendmail's queue ids,
#   (i) the confidentiality check, the milter down (F=T: 451, nothing delivered), and
#   (j) a second Sendmail whose .mc has INPUT_MAIL_FILTER alone (Sendmail's default macro
#   lists): the milter's own smfi_setsymlist lists must be enough.
# Delivery behind Sendmail passes no milter of ours, so what the files and the index show
# is Sendmail's own wiring.
#
# Usage: test_milter_sendmail.sh PATH/TO/retention-milter   (as root; exit 77 otherwise)
# Last line: "N passed, N failed". KEEP=1 keeps the test folder (kept anyway on failure).
set -uo pipefail

MILTER=${1:?usage: test_milter_sendmail.sh PATH/TO/retention-milter}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/sendmail.sh
source "$HERE/lib/sendmail.sh"
# shellcheck source=SCRIPTDIR/lib/milter.sh
source "$HERE/lib/milter.sh"

e2e_begin
require_root "a real Sendmail"
case $MILTER in /*) ;; *) MILTER="$PWD/$MILTER" ;; esac
[ -x "$MILTER" ] || { fail "the milter binary $MILTER exists"; e2e_finish; }
require_tools swaks sqlite3 m4 unshare nsenter setsid runuser

# Debian's Sendmail packages, unpacked (not installed: they conflict with postfix). sm_start
# does this too; doing it first gives a fresh machine's download its own clear failure.
"$REPO/scripts/fetch-sendmail.sh" >/dev/null ||
  { fail "scripts/fetch-sendmail.sh fetches and unpacks Debian's Sendmail packages"; e2e_finish; }

e2e_workdir WORK rm-e2e-sendmail
START=$SECONDS
at_exit sm_stop "$WORK/sm"
at_exit sm_stop "$WORK/sm2"
at_exit rm_milter_stop

# The milter runs as nobody (rm_milter_start). Sendmail's daemons here are named MTA and
# MSA: neither is trusted by name, so the authenticated cases below are trusted by
# {auth_authen} alone.
rm_milter_start "$WORK" "$MILTER" 'on_index_error = "tempfail"' 'stamp_outbound = false' ||
  e2e_finish

# The index, read as the milter's user: a root-owned -wal or -shm made by this test would
# lock the milter out of its own index.
q() { runuser -u nobody -- sqlite3 "$RM_INDEX" "$1"; }

# The first day on which a message passing today may be destroyed (six months): the test
# may run across midnight, so both days' answers are right.
RETAIN_START=$(rm_retain_date 6)
retain_ok() { [ "$1" = "$RETAIN_START" ] || [ "$1" = "$(rm_retain_date 6)" ]; }

hdr() { mail_header "$1" "$2"; }
hdr_count() { mail_header "$1" "$2" | wc -l; }

# msg FILE HEADER-LINES...: a message for swaks --data, with a body line naming FILE.
msg() {
  local file=$1 name
  shift
  name=$(basename "$file")
  {
    printf '%s\r\n' "$@"
    printf '\r\nThis is the body of %s.\r\n' "$name"
  } >"$file"
}

# send IP [swaks options...]: one SMTP transaction; the transcript is in $OUT and the queue
# id from Sendmail's "250 2.0.0 <id> Message accepted" in $QID. Returns swaks's status.
OUT=""
QID=""
send() {
  local ip=$1 rc=0
  shift
  OUT=$(swaks --server 127.0.0.1 --port "${PORT:-$SM_PORT}" --local-interface "$ip" \
    --helo "client-$ip.test" --timeout 30 "$@" 2>&1) || rc=$?
  QID=$(sed -nE 's/^<- +250 2\.0\.0 ([0-9A-Za-z]+) Message accepted.*/\1/p' <<<"$OUT")
  [ "$rc" -eq 0 ] && [ -n "$QID" ]
}
# send_helpline IP [swaks options...]: send, and count the message when Sendmail accepted it.
send_helpline() {
  send "$@" || return 1
  ACCEPTED_IDS+=("$QID")
}

# delivered DIR TOKEN: waits up to 15 s for the one file under DIR containing TOKEN; prints it.
# Not tmp/: a file there is still being written by the delivery agent, and is renamed into
# new/ when complete (CI once read one between the two).
delivered_file() { grep -rlF --exclude-dir=tmp -- "$2" "$1" 2>/dev/null | head -n 1; }
delivered_exists() { [ -n "$(delivered_file "$1" "$2")" ]; }
delivered() {
  wait_for 15 delivered_exists "$1" "$2" || return 1
  delivered_file "$1" "$2"
}

OURS=(X-Helpline-Line X-Helpline-Direction X-Retain-Until X-Retention-Policy)
# stamped FILE LINES DIRECTION: exactly one of each of our headers, with these values.
stamped() {
  local f=$1 lines=$2 dir=$3 got want
  got=$(for h in "${OURS[@]}"; do echo "$h=$(hdr "$f" "$h" | paste -sd'|')"; done)
  local r
  r=$(hdr "$f" X-Retain-Until)
  want=$(printf '%s\n' "X-Helpline-Line=$lines" "X-Helpline-Direction=$dir" \
    "X-Retain-Until=$r" "X-Retention-Policy=email")
  if [ "$got" = "$want" ] && retain_ok "$r"; then
    return 0
  fi
  echo "expected $lines/$dir/$RETAIN_START/email once each; got:" >&2
  echo "$got" >&2
  return 1
}
# unstamped FILE: none of our four headers.
unstamped() {
  local f=$1 h n=0
  for h in "${OURS[@]}"; do n=$((n + $(hdr_count "$f" "$h"))); done
  [ "$n" -eq 0 ]
}
# row QID: "lines|direction|policy|retain_until" of the index row(s) with this queue id.
row() { q "SELECT lines, direction, policy, retain_until FROM messages WHERE queue_id = '$1' ORDER BY id"; }
row_ok() { # row_ok QID LINES DIRECTION
  local got
  got=$(row "$1")
  [ "${got%|*}" = "$2|$3|email" ] && retain_ok "${got##*|}"
}

ACCEPTED_IDS=() # queue ids of the helpline messages Sendmail accepted: one index row each

pass "retention-milter listens on $RM_SOCKET (pid $RM_MILTER_PID)"
assert_eq 660 "$(stat -c %a "$RM_SOCKET_PATH")" "its socket has mode 0660"
sm_start "$WORK/sm" "$RM_SOCKET" ||
  { fail "sm_start brings up Sendmail with the milter block of conf/sendmail.mc"; e2e_finish; }
pass "Sendmail runs on 127.0.0.1:$SM_PORT with INPUT_MAIL_FILTER S=$RM_SOCKET, F=T"
if grep -q "^Xretention, S=$RM_SOCKET, F=T, T=" "$SM_CF"; then
  pass "the generated sendmail.cf carries conf/sendmail.mc's filter line"
else
  fail "the generated sendmail.cf carries the filter line" "$(grep -n '^X' "$SM_CF")"
fi
TAG="$$-$RANDOM"
MAD="$SM_MAIL_DIR/mensadviceline.test"
RPD="$SM_MAIL_DIR/respectphoneline.test"

# --- (a) inbound, with forged copies of our headers --------------------------------------
MID_A="<case-a.$TAG@caller.outside.example>"
msg "$WORK/a.eml" "From: caller-a@outside.example" "To: info@mensadviceline.test" \
  "Subject: case-a $TAG" "Message-ID: $MID_A" "X-Retain-Until: 2099-01-01" \
  "x-helpline-line: fake"
if send_helpline 127.0.0.2 --from caller-a@outside.example --to info@mensadviceline.test --data "@$WORK/a.eml"; then
  QID_A=$QID
  if FA=$(delivered "$MAD/info/new" "case-a $TAG"); then
    pass "(a) inbound from 127.0.0.2 delivered to info@mensadviceline.test ($QID_A)"
    assert_cmd "(a) stamped once each: mens-advice-line, inbound, $RETAIN_START, email" \
      stamped "$FA" mens-advice-line inbound
    if ! grep -qiF -e 2099-01-01 -e fake "$FA"; then
      pass "(a) the forged X-Retain-Until: 2099-01-01 and x-helpline-line: fake are gone"
    else
      fail "(a) forged values removed" "$(grep -niF -e 2099-01-01 -e fake "$FA")"
    fi
    assert_cmd "(a) index row: mens-advice-line, inbound, email, $RETAIN_START" \
      row_ok "$QID_A" mens-advice-line inbound
    DELIVERED_MID_A=$(hdr "$FA" Message-ID)
    want=$(rm_digest "$MID_A")
    got=$(q "SELECT hex(digest) FROM messages WHERE queue_id = '$QID_A'")
    if [ "$DELIVERED_MID_A" = "$MID_A" ] && [ "$got" = "$want" ]; then
      pass "(a) the row's digest is HMAC-SHA-256(key, Message-ID): findable by Message-ID"
    else
      fail "(a) digest of the Message-ID" "delivered: $DELIVERED_MID_A; row: $got; want: $want"
    fi
  else
    fail "(a) inbound delivered" "$(sm_log 15)"
  fi
else
  fail "(a) Sendmail accepts 127.0.0.2 -> info@mensadviceline.test" "$OUT"
fi

# --- (b) outbound after SMTP AUTH: indexed, not stamped ----------------------------------
# On the MTA port (Name=MTA, not in originating_daemons) and from 127.0.0.2 (not in
# internal_hosts): only {auth_authen} can make it trusted. Then the same on the MSA port.
if [ "$SM_AUTH" != 1 ]; then
  fail "(b) Sendmail offers AUTH" "$SM_AUTH_WHY"
else
  for port in "$SM_PORT" "$SM_SUBMIT_PORT"; do
    name=MTA
    [ "$port" = "$SM_SUBMIT_PORT" ] && name=MSA
    msg "$WORK/b-$name.eml" "From: Men's Advice Line <info@mensadviceline.test>" \
      "To: person@example.net" "Subject: case-b-$name $TAG" \
      "Message-ID: <case-b-$name.$TAG@mx.respect.test>" "X-Retain-Until: 2099-01-01" \
      "X-Helpline-Direction: inbound"
    if PORT=$port send_helpline 127.0.0.2 --from advisor@respect.test --to person@example.net \
      --auth PLAIN --auth-user "$SM_AUTH_USER" --auth-password "$SM_AUTH_PASS" \
      --data "@$WORK/b-$name.eml"; then
      if FB=$(delivered "$SM_SINK_DIR/new" "case-b-$name $TAG"); then
        pass "(b) authenticated 127.0.0.2 on $name -> person@example.net reaches the sink ($QID)"
        if unstamped "$FB" && ! grep -qF 2099-01-01 "$FB"; then
          pass "(b) it leaves with none of our headers, forged ones removed (stamp_outbound = false)"
        else
          fail "(b) no X-Helpline-*/X-Retain*/X-Retention-* on outbound mail" "$(head -n 30 "$FB")"
        fi
        assert_cmd "(b) index row: mens-advice-line, outbound ({auth_authen} on $name)" \
          row_ok "$QID" mens-advice-line outbound
      else
        fail "(b) authenticated outbound on $name reaches the sink" "$(sm_log 15)"
      fi
    else
      fail "(b) Sendmail accepts authenticated 127.0.0.2 -> person@example.net on $name" "$OUT"
    fi
  done
fi

# --- (c) outbound from an internal host, no AUTH -----------------------------------------
msg "$WORK/c.eml" "From: info@respectphoneline.test" "To: someone@example.org" \
  "Subject: case-c $TAG" "Message-ID: <case-c.$TAG@mx.respect.test>"
if send_helpline 127.0.0.1 --from advisor2@respect.test --to someone@example.org --data "@$WORK/c.eml"; then
  if FC=$(delivered "$SM_SINK_DIR/new" "case-c $TAG"); then
    pass "(c) 127.0.0.1 -> someone@example.org reaches the sink ($QID)"
    assert_cmd "(c) it carries none of our headers" unstamped "$FC"
    assert_cmd "(c) index row: respect-phoneline, outbound (internal_hosts)" \
      row_ok "$QID" respect-phoneline outbound
  else
    fail "(c) outbound from 127.0.0.1 reaches the sink" "$(sm_log 15)"
  fi
else
  fail "(c) Sendmail accepts 127.0.0.1 -> someone@example.org" "$OUT"
fi

# --- (d) internal: a trusted client writing to two lines ---------------------------------
msg "$WORK/d.eml" "From: advisor3@respect.test" \
  "To: info@respectphoneline.test, info@mensadviceline.test" \
  "Subject: case-d $TAG" "Message-ID: <case-d.$TAG@mx.respect.test>"
if send_helpline 127.0.0.1 --from advisor3@respect.test \
  --to info@respectphoneline.test,info@mensadviceline.test --data "@$WORK/d.eml"; then
  QID_D=$QID
  if FD1=$(delivered "$RPD/info/new" "case-d $TAG") && FD2=$(delivered "$MAD/info/new" "case-d $TAG"); then
    pass "(d) 127.0.0.1 -> both helplines: two delivered copies ($QID_D)"
    assert_cmd "(d) the respect-phoneline copy: respect-phoneline,mens-advice-line / internal" \
      stamped "$FD1" respect-phoneline,mens-advice-line internal
    assert_cmd "(d) the mens-advice-line copy: respect-phoneline,mens-advice-line / internal" \
      stamped "$FD2" respect-phoneline,mens-advice-line internal
    assert_cmd "(d) one index row: respect-phoneline,mens-advice-line, internal" \
      row_ok "$QID_D" respect-phoneline,mens-advice-line internal
  else
    fail "(d) both copies delivered" "$(sm_log 15)"
  fi
else
  fail "(d) Sendmail accepts 127.0.0.1 -> two helplines" "$OUT"
fi

# --- (e) spoof: an untrusted client claims a helpline sender -----------------------------
msg "$WORK/e.eml" "From: info@mensadviceline.test" "To: info@respectphoneline.test" \
  "Subject: case-e $TAG" "Message-ID: <case-e.$TAG@spoofer.outside.example>"
if send_helpline 127.0.0.2 --from info@mensadviceline.test --to info@respectphoneline.test --data "@$WORK/e.eml"; then
  QID_E=$QID
  if FE=$(delivered "$RPD/info/new" "case-e $TAG"); then
    pass "(e) spoofed sender from 127.0.0.2 delivered to info@respectphoneline.test ($QID_E)"
    assert_cmd "(e) stamped respect-phoneline / inbound" stamped "$FE" respect-phoneline inbound
  else
    fail "(e) spoofed message delivered" "$(sm_log 15)"
  fi
  assert_cmd "(e) index row: respect-phoneline, inbound (not outbound, not mens-advice-line)" \
    row_ok "$QID_E" respect-phoneline inbound
  spoof=$(grep -F "$QID_E" "$RM_LOG" | grep -i 'spoof attempt')
  if [ -n "$spoof" ] && ! grep -qiE '@|127\.0\.0\.2|outside\.example|mensadviceline\.test|case-e' <<<"$spoof"; then
    pass "(e) the milter logs \"$QID_E: spoof attempt\" and nothing identifying"
  else
    fail "(e) a spoof attempt logged with the queue id only" "$(grep -F "$QID_E" "$RM_LOG")"
  fi
else
  fail "(e) Sendmail accepts the spoofed message" "$OUT"
fi

# --- (f) mail of no line: untouched, unindexed, unlogged (forged headers still removed) ---
msg "$WORK/f.eml" "From: caller-f@outside.example" "To: staff@respect.test" \
  "Subject: case-f $TAG" "Message-ID: <case-f.$TAG@outside.example>" "X-Retain-Until: 2099-01-01"
if send 127.0.0.2 --from caller-f@outside.example --to staff@respect.test --data "@$WORK/f.eml"; then
  QID_F=$QID
  if FF=$(delivered "$SM_MAIL_DIR/respect.test/staff/new" "case-f $TAG"); then
    pass "(f) 127.0.0.2 -> staff@respect.test delivered ($QID_F)"
    assert_cmd "(f) it carries none of our headers (the forged X-Retain-Until removed)" unstamped "$FF"
  else
    fail "(f) mail of no line delivered" "$(sm_log 15)"
  fi
  assert_cmd "(f) no index row for it" test -z "$(row "$QID_F")"
  assert_cmd "(f) no milter log line about it" test -z "$(grep -F "$QID_F" "$RM_LOG")"
else
  fail "(f) Sendmail accepts 127.0.0.2 -> staff@respect.test" "$OUT"
fi

# --- (g) no Message-ID: Sendmail adds one only at delivery, so the milter must -----------
msg "$WORK/g.eml" "From: caller-g@outside.example" "To: info@mensadviceline.test" \
  "Subject: case-g $TAG"
if send_helpline 127.0.0.2 --from caller-g@outside.example --to info@mensadviceline.test --data "@$WORK/g.eml"; then
  QID_G=$QID
  if FG=$(delivered "$MAD/info/new" "case-g $TAG"); then
    pass "(g) a message without Message-ID delivered ($QID_G)"
    assert_cmd "(g) stamped mens-advice-line / inbound" stamped "$FG" mens-advice-line inbound
    n=$(hdr_count "$FG" Message-ID)
    mid=$(hdr "$FG" Message-ID)
    if [ "$n" -eq 1 ]; then
      pass "(g) the delivered copy has exactly one Message-ID: $mid"
    else
      fail "(g) exactly one Message-ID in the delivered copy" "$n: $mid"
    fi
    want=$(rm_digest "$(head -n 1 <<<"$mid")")
    got=$(q "SELECT hex(digest) FROM messages WHERE queue_id = '$QID_G'")
    if [ -n "$mid" ] && [ "$got" = "$want" ]; then
      pass "(g) the row's digest is HMAC-SHA-256(key, the delivered Message-ID)"
    else
      fail "(g) digest of the delivered Message-ID" "row: $got; want: $want"
    fi
    if grep -F "$QID_G" "$RM_LOG" | grep -q 'message-id=added'; then
      pass "(g) the milter logs that it added the Message-ID"
    else
      fail "(g) the milter logs message-id=added" "$(grep -F "$QID_G" "$RM_LOG")"
    fi
  else
    fail "(g) message without Message-ID delivered" "$(sm_log 15)"
  fi
else
  fail "(g) Sendmail accepts a message without Message-ID" "$OUT"
fi

# --- (g2) an empty Message-ID before a real one: the empty one goes, the real one is first --
# Mail clients show the first Message-ID; it must be the one the index knows. The copy also
# carries one record token, naming this message's own row.
G2_MID="<case-g2.$TAG@outside.example>"
msg "$WORK/g2.eml" "From: caller-g2@outside.example" "To: info@mensadviceline.test" \
  "Subject: case-g2 $TAG" "Message-ID:" "Message-ID: $G2_MID"
if send_helpline 127.0.0.2 --from caller-g2@outside.example --to info@mensadviceline.test --data "@$WORK/g2.eml"; then
  QID_G2=$QID
  if FG2=$(delivered "$MAD/info/new" "case-g2 $TAG"); then
    mids=$(hdr "$FG2" Message-ID | paste -sd'|')
    assert_cmd "(g2) the delivered copy has one Message-ID, the real one" test "$mids" = "$G2_MID"
    got=$(q "SELECT hex(digest) FROM messages WHERE queue_id = '$QID_G2'")
    assert_cmd "(g2) the row is keyed by that Message-ID" test "$got" = "$(rm_digest "$G2_MID")"
    token=$(hdr "$FG2" X-Retention-Record)
    rec=$(q "SELECT count(*) FROM messages WHERE queue_id = '$QID_G2' AND hex(record) = '$(rm_record_digest "$token")'")
    assert_cmd "(g2) one X-Retention-Record, naming the message's own row" test "$(hdr_count "$FG2" X-Retention-Record)/$rec" = "1/1"
  else
    fail "(g2) message with an empty Message-ID first delivered" "$(sm_log 15)"
  fi
else
  fail "(g2) Sendmail accepts a message with an empty Message-ID first" "$OUT"
fi

# --- (i) confidentiality: distinctive values through Sendmail -----------------------------
# Mixed case, so that a lower-cased copy is a different string to look for.
ZQ_IP=127.0.0.77
ZQ_SENDER="Zq.Sender7731@Caller-ZQ.example"
ZQ_RCPT="info+zqlocal4412@mensadviceline.test"
ZQ_SUBJECT="Zq Private Subject 5521"
ZQ_MID="<ZqMsgId.9931.$TAG@Caller-ZQ.example>"
msg "$WORK/i.eml" "From: Zq Caller <$ZQ_SENDER>" "To: $ZQ_RCPT" "Subject: $ZQ_SUBJECT" \
  "Message-ID: $ZQ_MID"
if send_helpline "$ZQ_IP" --from "$ZQ_SENDER" --to "$ZQ_RCPT" --data "@$WORK/i.eml"; then
  QID_I=$QID
  if FI=$(delivered "$SM_MAIL_DIR/mensadviceline.test" "$ZQ_SUBJECT"); then
    pass "(i) the distinctive message from $ZQ_IP delivered ($QID_I)"
    assert_cmd "(i) stamped mens-advice-line / inbound (plus-address of the line)" \
      stamped "$FI" mens-advice-line inbound
    # First: the values really passed, so that their absence below means something.
    absent=""
    for v in "$ZQ_SENDER" "$ZQ_RCPT" "$ZQ_SUBJECT" "$ZQ_MID"; do
      grep -qF -- "$v" "$FI" || absent+=" '$v'"
    done
    grep -qF "[$ZQ_IP]" "$SM_LOG" || absent+=" '$ZQ_IP' (in SM_LOG)"
    grep -qF "$QID_I" "$RM_LOG" || absent+=" '$QID_I' (in the milter log)"
    if [ -z "$absent" ]; then
      pass "(i) sender, recipient, subject and Message-ID are in the delivered file, the IP in Sendmail's log, the queue id in the milter's"
    else
      fail "(i) the distinctive values passed" "absent:$absent"
    fi
  else
    fail "(i) the distinctive message delivered" "$(sm_log 15)"
  fi
else
  fail "(i) Sendmail accepts the distinctive message from $ZQ_IP" "$OUT"
fi

# --- the milter down: F=T makes Sendmail answer 4xx, nothing is delivered ------------------
rm_milter_stop
msg "$WORK/down.eml" "From: caller-down@outside.example" "To: info@mensadviceline.test" \
  "Subject: case-down $TAG" "Message-ID: <case-down.$TAG@outside.example>"
if send_helpline 127.0.0.2 --from caller-down@outside.example --to info@mensadviceline.test --data "@$WORK/down.eml"; then
  fail "with the milter down, Sendmail refuses the message" "$OUT"
elif grep -qE '^<\*\* +451 4\.3\.2' <<<"$OUT"; then
  pass "with the milter down, Sendmail answers 451 4.3.2 (F=T)"
else
  fail "with the milter down, Sendmail answers 451" "$OUT"
fi
sm_queue_empty() { sm_exec -bp 2>&1 | grep -q 'is empty'; }
wait_for 10 sm_queue_empty || true
if ! grep -rqF "case-down $TAG" "$SM_MAIL_DIR" && sm_queue_empty; then
  pass "nothing was delivered or queued while the milter was down"
else
  fail "nothing delivered while the milter was down" "$(sm_exec -bp 2>&1)"
fi
if _rm_milter_launch; then
  if send_helpline 127.0.0.2 --from caller-down@outside.example --to info@mensadviceline.test \
    --data "@$WORK/down.eml"; then
    QID_R=$QID
    if FR=$(delivered "$MAD/info/new" "case-down $TAG") && stamped "$FR" mens-advice-line inbound &&
      row_ok "$QID_R" mens-advice-line inbound; then
      pass "the milter restarted, the same message is accepted, stamped and indexed ($QID_R)"
    else
      fail "the message sent again is delivered, stamped and indexed" "$(sm_log 10)"
    fi
  else
    fail "the milter restarted, Sendmail accepts the message again" "$OUT"
  fi
else
  fail "the milter restarts on the same socket and index"
fi

# --- (h) the rows carry Sendmail's queue ids: one row per helpline message ----------------
rows=$(q "SELECT count(*) FROM messages")
if [ "$rows" = "${#ACCEPTED_IDS[@]}" ]; then
  pass "(h) $rows index rows for the ${#ACCEPTED_IDS[@]} helpline messages Sendmail accepted"
else
  fail "(h) one row per helpline message" "rows: $rows; helpline messages: ${#ACCEPTED_IDS[@]}"
fi
logged=$(sm_queue_ids "")
bad=""
while read -r id; do
  [ -n "$id" ] || continue
  grep -qxF -- "$id" <<<"$logged" || bad+=" $id"
done < <(q "SELECT queue_id FROM messages")
expected_missing=""
for id in "${ACCEPTED_IDS[@]}"; do
  [ -n "$(row "$id")" ] || expected_missing+=" $id"
done
if [ -z "$bad" ] && [ -z "$expected_missing" ] && [ "$rows" -gt 0 ]; then
  pass "(h) every row's queue id is one Sendmail logged (sm_queue_ids), and every accepted helpline message has its row"
else
  fail "(h) rows carry Sendmail's queue ids" "not in SM_LOG:$bad; without a row:$expected_missing"
fi

# --- (i) continued: none of the values in the index, its WAL and shm, or the milter log ---
if [ -n "${QID_I:-}" ]; then
  strip() { local s=${1#<}; echo "${s%>}"; }
  leaks=""
  files=("$RM_INDEX" "$RM_INDEX-wal" "$RM_INDEX-shm" "$RM_LOG")
  present=""
  for f in "${files[@]}"; do [ -e "$f" ] && present+=" $(basename "$f")"; done
  for v in "$ZQ_SENDER" "$ZQ_RCPT" "zqlocal4412" "$ZQ_SUBJECT" "$ZQ_MID" "$ZQ_IP" "Caller-ZQ.example"; do
    for s in "$v" "${v,,}" "$(strip "$v")" "$(strip "${v,,}")"; do
      for f in "${files[@]}"; do
        [ -e "$f" ] || continue
        if grep -aqF -- "$s" "$f"; then leaks+=" '$s' in $(basename "$f");"; fi
      done
    done
  done
  if [ -z "$leaks" ]; then
    pass "(i) no sender, recipient, subject, Message-ID or client IP in$present (raw bytes)"
  else
    fail "(i) nothing identifying in the index or the milter log" "$leaks"
  fi
fi

# --- (j) a sendmail.mc with INPUT_MAIL_FILTER alone: Sendmail's default macro lists -------
# The milter asks for its own macros (smfi_setsymlist), so the confMILTER_MACROS_* lines of
# conf/sendmail.mc must not be what makes it work. Sendmail ignores a filter's own
# end-of-message list (it checks the EOH flag for it), so this catches a queue id asked for
# at end-of-message only: rows would say NOQUEUE. A second Sendmail, built from a copy of
# conf/sendmail.mc without those lines (the harness reads the .mc under SM_REPO_ROOT).
sm_stop "$WORK/sm"
mkdir -p "$WORK/repo2/conf"
ln -sfn "$REPO/scripts" "$WORK/repo2/scripts"
grep -v 'confMILTER_MACROS_' "$REPO/conf/sendmail.mc" >"$WORK/repo2/conf/sendmail.mc"
if [ -z "$RM_MILTER_PID" ]; then
  fail "(j) the milter runs for the second Sendmail"
elif ! SM_REPO_ROOT="$WORK/repo2" sm_start "$WORK/sm2" "$RM_SOCKET"; then
  fail "(j) a Sendmail without the confMILTER_MACROS_* lines starts"
elif grep -q '^O Milter\.macros\.eom=[{]msg_id[}]$' "$SM_CF"; then
  pass "(j) a second Sendmail runs with its default milter macro lists (eom: {msg_id} only)"
  msg "$WORK/j1.eml" "From: caller-j@outside.example" "To: info@respectphoneline.test" \
    "Subject: case-j1 $TAG" "Message-ID: <case-j1.$TAG@outside.example>"
  if send 127.0.0.2 --from caller-j@outside.example --to info@respectphoneline.test \
    --data "@$WORK/j1.eml" && delivered "$SM_MAIL_DIR/respectphoneline.test/info/new" "case-j1 $TAG" >/dev/null; then
    assert_cmd "(j) inbound: row respect-phoneline, inbound, with Sendmail's queue id $QID" \
      row_ok "$QID" respect-phoneline inbound
  else
    fail "(j) inbound through the second Sendmail" "$OUT"
  fi
  if [ "$SM_AUTH" = 1 ]; then
    msg "$WORK/j2.eml" "From: info@respectphoneline.test" "To: person@example.net" \
      "Subject: case-j2 $TAG" "Message-ID: <case-j2.$TAG@mx.respect.test>"
    if send 127.0.0.2 --from advisor@respect.test --to person@example.net --auth PLAIN \
      --auth-user "$SM_AUTH_USER" --auth-password "$SM_AUTH_PASS" --data "@$WORK/j2.eml" &&
      delivered "$SM_SINK_DIR/new" "case-j2 $TAG" >/dev/null; then
      assert_cmd "(j) after AUTH: row respect-phoneline, outbound, with Sendmail's queue id $QID" \
        row_ok "$QID" respect-phoneline outbound
    else
      fail "(j) authenticated outbound through the second Sendmail" "$OUT"
    fi
  else
    fail "(j) the second Sendmail offers AUTH" "$SM_AUTH_WHY"
  fi
  assert_cmd "(j) no row says NOQUEUE" test "$(q "SELECT count(*) FROM messages WHERE queue_id = 'NOQUEUE'")" = 0
else
  fail "(j) the second Sendmail has Sendmail's default EOM macro list" "$(grep '^O Milter' "$SM_CF")"
fi

echo "# took $((SECONDS - START)) s"
e2e_finish
