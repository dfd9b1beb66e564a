#!/usr/bin/env bash
# End to end through a real Postfix: helpline mail sent with swaks passes the real
# retention-milter, is delivered into real Maildirs (or relayed to smtp-sink), and the
# test checks what a mail admin would: the delivered headers and the index rows.
# Usage: test_milter_postfix.sh PATH/TO/retention-milter
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/postfix.sh"
. "$HERE/lib/milter.sh"
BIN=${1:?usage: $0 PATH/TO/retention-milter}

e2e_begin
require_root
require_tools swaks sqlite3 python3 smtp-source
e2e_workdir W rm-pf
at_exit pf_stop
at_exit rm_milter_stop
rm_milter_start "$W" "$BIN"
pf_start "$W" "$RM_SOCKET" recipient_delimiter=+
RETAIN=$(rm_retain_date 6)
OUTSIDER=127.0.0.2

inbox() { echo "$PF_MAIL_DIR/$1/$2/new"; }

# The delivered file in Maildir folder $1 whose header block contains $2.
delivered() {
  local f
  for f in "$1"/*; do
    # grep without -q: an early exit would kill sed with SIGPIPE and fail the pipeline.
    [ -f "$f" ] && sed '/^\r\{0,1\}$/q' "$f" | grep -F -- "$2" >/dev/null && { echo "$f"; return 0; }
  done
  return 1
}
wait_delivered() { wait_for 30 delivered "$1" "$2" && delivered "$1" "$2"; }

sink_file() {
  local f
  for f in $(pf_sink_files); do grep -qF "$1" "$f" && { echo "$f"; return 0; }; done
  return 1
}

# The index row (lines|direction|retain_until|queue_id) of a Message-ID.
row_of() { rm_sql "SELECT lines, direction, retain_until, queue_id FROM messages WHERE hex(digest) = '$(rm_digest "$1")'"; }

# swaks writes its own "Message-Id:"; a --header of that exact spelling replaces it.
send() {  # send SERVER_PORT LOCAL_IP SWAKS_ARGS...
  local port=$1 ip=$2
  shift 2
  swaks --silent 2 --server "127.0.0.1:$port" --local-interface "$ip" --helo client.example "$@"
}

assert_stamped() {  # FILE LINES DIRECTION
  assert_header "$1" X-Helpline-Line "$2" "$3 copy: X-Helpline-Line is exactly '$2'"
  assert_header "$1" X-Helpline-Direction "$3" "$3 copy: X-Helpline-Direction is exactly '$3'"
  assert_header "$1" X-Retain-Until "$RETAIN" "$3 copy: X-Retain-Until is exactly $RETAIN"
  assert_header "$1" X-Retention-Policy email "$3 copy: X-Retention-Policy is exactly 'email'"
  # One record token, and it names this copy's own index row.
  local token
  token=$(mail_header "$1" X-Retention-Record)
  if [[ $token =~ ^[0-9a-f]{32}$ ]]; then
    pass "$3 copy: one X-Retention-Record token"
    assert_eq 1 "$(rm_sql "SELECT count(*) FROM messages WHERE hex(record) = '$(rm_record_digest "$token")'")" \
      "$3 copy: its record token names one index row"
  else
    fail "$3 copy: one X-Retention-Record token" "got: $token"
  fi
}

assert_unstamped() {  # FILE WHAT
  local h
  for h in X-Helpline-Line X-Helpline-Direction X-Retain-Until X-Retention-Policy X-Retention-Record; do
    assert_no_header "$1" "$h" "$2: no $h"
  done
}

assert_row() {  # MESSAGE-ID LINES DIRECTION WHAT
  local row qid
  row=$(row_of "$1")
  qid=${row##*|}
  assert_eq "$2|$3|$RETAIN" "${row%|*}" "$4: index row (line, direction, date)"
  if [ -n "$qid" ] && pf_log_ids | grep -qx "$qid"; then
    pass "$4: the row's queue id $qid is Postfix's"
  else
    fail "$4: the row's queue id is Postfix's" "row: $row"
  fi
}

test_inbound_with_forged_headers() {
  local msg=$W/forged.eml f
  printf '%s\r\n' "From: Caller <caller@example.net>" "To: info@mensadviceline.test" \
    "Subject: I need advice" "Message-ID: <e2e-in-1@example.net>" \
    "X-Retain-Until: 2099-01-01" "x-retain-until:2098-01-01" "X-RETENTION-POLICY: forever" \
    "X-Helpline-Line: mens-advice-line," "	fake-line" "x-helpline-direction:   internal" \
    "" "Hello." >"$msg"
  send "$PF_PORT" $OUTSIDER --from caller@example.net --to info@mensadviceline.test --data "@$msg"
  f=$(wait_delivered "$(inbox mensadviceline.test info)" "e2e-in-1@example.net") \
    || { fail "inbound message delivered"; return; }
  pass "inbound message delivered"
  assert_stamped "$f" mens-advice-line inbound
  assert_file_not_contains "$f" 2099-01-01 "forged retention date removed"
  assert_file_not_contains "$f" fake-line "forged folded line header removed"
  assert_row "<e2e-in-1@example.net>" mens-advice-line inbound "inbound"
}

test_outbound_authenticated() {
  local f
  send "$PF_SUBMISSION_PORT" $OUTSIDER --auth PLAIN --auth-user "$PF_AUTH_USER" --auth-password "$PF_AUTH_PASS" \
    --from advisor@respect.test --to caller@example.net \
    --header "From: Men's Advice Line <info@mensadviceline.test>" --header "Subject: Re: advice" \
    --header "Message-Id: <e2e-out-1@respect.test>" --add-header "X-Helpline-Line: mens-advice-line"
  wait_for 30 sink_file "e2e-out-1@respect.test" || { fail "outbound reply reached the outside"; return; }
  f=$(sink_file "e2e-out-1@respect.test")
  pass "outbound reply reached the outside"
  assert_unstamped "$f" "outbound copy (stamp_outbound = false)"
  assert_row "<e2e-out-1@respect.test>" mens-advice-line outbound "authenticated reply"
}

test_outbound_from_internal_host() {
  send "$PF_PORT" 127.0.0.1 --from info@respectphoneline.test --to person@example.org \
    --header "Message-Id: <e2e-out-2@respect.test>"
  wait_for 30 sink_file "e2e-out-2@respect.test" || { fail "internal host's reply left"; return; }
  assert_unstamped "$(sink_file "e2e-out-2@respect.test")" "reply from an internal host"
  assert_row "<e2e-out-2@respect.test>" respect-phoneline outbound "reply from an internal host"
}

test_internal() {
  local a b
  send "$PF_PORT" 127.0.0.1 --from advisor@respect.test --to info@respectphoneline.test,info@mensadviceline.test \
    --header "Message-Id: <e2e-int-1@respect.test>"
  a=$(wait_delivered "$(inbox respectphoneline.test info)" "e2e-int-1@respect.test") || { fail "internal copy 1"; return; }
  b=$(wait_delivered "$(inbox mensadviceline.test info)" "e2e-int-1@respect.test") || { fail "internal copy 2"; return; }
  assert_stamped "$a" "respect-phoneline,mens-advice-line" internal
  assert_stamped "$b" "respect-phoneline,mens-advice-line" internal
  assert_row "<e2e-int-1@respect.test>" "respect-phoneline,mens-advice-line" internal "internal"
}

test_spoof() {
  local f
  send "$PF_PORT" $OUTSIDER --from info@mensadviceline.test --to info@respectphoneline.test \
    --header "From: info@mensadviceline.test" --header "Message-Id: <e2e-spoof-1@example.net>"
  f=$(wait_delivered "$(inbox respectphoneline.test info)" "e2e-spoof-1@example.net") || { fail "spoof delivered"; return; }
  assert_stamped "$f" respect-phoneline inbound
  assert_row "<e2e-spoof-1@example.net>" respect-phoneline inbound "spoofed helpline sender"
  local qid
  qid=$(row_of "<e2e-spoof-1@example.net>")
  qid=${qid##*|}
  assert_file_matches "$RM_LOG" "$qid: spoof attempt" "spoof attempt logged with the queue id"
}

test_no_line() {
  local f
  send "$PF_PORT" $OUTSIDER --from someone@example.net --to staff@respect.test \
    --header "Message-Id: <e2e-none-1@example.net>" --add-header "X-Retain-Until: 2099-01-01"
  f=$(wait_delivered "$(inbox respect.test staff)" "e2e-none-1@example.net") || { fail "mail of no line delivered"; return; }
  assert_unstamped "$f" "mail of no line"
  assert_file_not_contains "$f" 2099-01-01 "forged header removed from mail of no line"
  assert_eq "" "$(row_of "<e2e-none-1@example.net>")" "no index row for mail of no line"
}

# Postfix adds a Message-ID only for local clients (local_header_rewrite_clients); from an
# outside address the milter must add one, and exactly one must arrive either way.
test_missing_message_id() {
  local ip tag f id direction
  for ip in 127.0.0.1 $OUTSIDER; do
    tag="noid-$ip"
    direction=inbound
    [ "$ip" = 127.0.0.1 ] && direction=internal  # a trusted client writing only to a line
    printf '%s\r\n' "From: x@example.net" "To: info@mensadviceline.test" "Subject: $tag" "" "Hi." >"$W/$tag.eml"
    send "$PF_PORT" "$ip" --from x@example.net --to info@mensadviceline.test --data "@$W/$tag.eml"
    f=$(wait_delivered "$(inbox mensadviceline.test info)" "Subject: $tag") || { fail "$tag delivered"; continue; }
    id=$(mail_header "$f" Message-ID)
    assert_eq 1 "$(printf '%s\n' "$id" | grep -c .)" "$tag: exactly one Message-ID delivered"
    assert_stamped "$f" mens-advice-line $direction
    assert_eq "mens-advice-line|$direction|$RETAIN" "$(row_of "$id" | cut -d'|' -f1-3)" "$tag: the row is found by the delivered Message-ID"
  done
}

test_bad_input() {
  local f big rcpts i
  big=$(head -c 92000 /dev/zero | tr '\0' 'a')
  printf '%s\r\n' "From:" "To: info@mensadviceline.test" "X-Huge: $big" "Subject:" \
    "Message-ID: <$(head -c 10240 /dev/zero | tr '\0' 'm')@example.net>" "" "Body." >"$W/big.eml"
  for i in $(seq 1000); do printf 'X-Filler-%d: \r\n' "$i"; done >"$W/many.hdr"
  send "$PF_PORT" $OUTSIDER --from x@example.net --to info@mensadviceline.test --data "@$W/big.eml"
  f=$(wait_delivered "$(inbox mensadviceline.test info)" "X-Huge: aaaa") || { fail "92 KB header and 10 KB Message-ID delivered"; return; }
  pass "a 92 KB header and a 10 KB Message-ID are delivered"
  assert_stamped "$f" mens-advice-line inbound
  assert_eq "mens-advice-line|inbound|$RETAIN" "$(row_of "$(mail_header "$f" Message-ID)" | cut -d'|' -f1-3)" "the 10 KB Message-ID's row"
  { cat "$W/many.hdr"; printf '%s\r\n' "Message-ID: <e2e-many@example.net>" "" "x"; } >"$W/many.eml"
  send "$PF_PORT" $OUTSIDER --from x@example.net --to info@mensadviceline.test --data "@$W/many.eml"
  f=$(wait_delivered "$(inbox mensadviceline.test info)" "e2e-many@example.net") || { fail "1,000 headers delivered"; return; }
  assert_stamped "$f" mens-advice-line inbound
  rcpts=$(for i in $(seq 499); do printf 'user%d@example.org,' "$i"; done)info@respectphoneline.test
  send "$PF_PORT" 127.0.0.1 --from advisor@respect.test --to "$rcpts" --header "Message-Id: <e2e-500@respect.test>"
  f=$(wait_delivered "$(inbox respectphoneline.test info)" "e2e-500@respect.test") || { fail "500 recipients delivered"; return; }
  assert_row "<e2e-500@respect.test>" respect-phoneline outbound "500 recipients, one a line"
}

test_several_per_connection() {
  local before after
  before=$(rm_sql "SELECT count(*) FROM messages")
  smtp-source -c -d -m 5 -l 2048 -f advisor@respect.test -t info@respectphoneline.test "127.0.0.1:$PF_PORT" >/dev/null
  wait_until 30 '[ "$(ls "$(inbox respectphoneline.test info)" | wc -l)" -ge 7 ]' || true
  pf_wait_queue_empty 30 || true
  after=$(rm_sql "SELECT count(*) FROM messages")
  assert_eq 5 $((after - before)) "five messages on one connection: five rows"
}

test_milter_down_means_retry() {
  rm_milter_stop
  local out
  out=$(send "$PF_PORT" $OUTSIDER --from x@example.net --to info@mensadviceline.test \
    --header "Message-Id: <e2e-down@example.net>" 2>&1 || true)
  if grep -qE '^<\*\* +4[0-9][0-9]' <<<"$out"; then pass "milter down: the sender is told to retry (4xx)"
  else fail "milter down: the sender is told to retry (4xx)" "$out"; fi
  assert_not_cmd "milter down: nothing delivered" delivered "$(inbox mensadviceline.test info)" "e2e-down@example.net"
  rm_milter_restart
  send "$PF_PORT" $OUTSIDER --from x@example.net --to info@mensadviceline.test --header "Message-Id: <e2e-down@example.net>"
  local f
  f=$(wait_delivered "$(inbox mensadviceline.test info)" "e2e-down@example.net") || { fail "the retry is delivered"; return; }
  assert_stamped "$f" mens-advice-line inbound
}

# Thousands of forged copies of our headers: refused for good at the end of DATA (a 5xx
# the sender's MTA will not retry), nothing delivered or recorded, the refusal logged by
# queue id. Every one of our headers is forged in turn.
test_flood_of_forged_headers() {
  local msg=$W/flood.eml out qid i names=(X-Helpline-Line X-Helpline-Direction X-Retain-Until X-Retention-Policy X-Retention-Record)
  {
    printf '%s\r\n' "From: Caller <caller@example.net>" "To: info@mensadviceline.test" \
      "Subject: flood" "Message-ID: <e2e-flood@example.net>"
    for ((i = 0; i < 3000; i++)); do printf "%s: forged-%d\r\n" "${names[i % 5]}" "$i"; done
    printf '\r\nHello.\r\n'
  } >"$msg"
  out=$(send "$PF_PORT" $OUTSIDER --from caller@example.net --to info@mensadviceline.test --data "@$msg" 2>&1 || true)
  if grep -qE '^<\*\* +550[ -]5\.7\.1 .*more than 20 copies of headers this server sets itself' <<<"$out"; then
    pass "a flood of forged headers is refused for good (550 5.7.1, says why)"
  else
    fail "a flood of forged headers is refused for good (550 5.7.1, says why)" "$(tail -5 <<<"$out")"
  fi
  assert_not_cmd "the flood is not delivered" delivered "$(inbox mensadviceline.test info)" "e2e-flood@example.net"
  assert_eq "" "$(row_of "<e2e-flood@example.net>")" "the flood has no index row"
  qid=$(pf_log_ids 'milter-reject: END-OF-MESSAGE.*5\.7\.1' | tail -n 1)
  if [ -n "$qid" ] && wait_for 10 grep -q "$qid: refused: 3000 copies of the retention headers" "$RM_LOG"; then
    pass "the milter logs the refusal with the queue id $qid"
  else
    fail "the milter logs the refusal with the queue id" "qid '$qid'; $(tail -3 "$RM_LOG")"
  fi
  assert_file_not_contains "$RM_LOG" "caller@example.net" "the refusal's log names no address"
}

# The confidentiality test: distinctive values are in the delivered mail (so the
# test can fail), and none of them is in the index, its WAL and shm, or the milter's log.
test_confidentiality() {
  local sender=zqsender7731@caller-home.example local=zqlocal5512 subject="ZQ subject 4417 private"
  local msgid="<zq-msgid-9923@caller-home.example>" ip=127.0.0.77 f qid
  send "$PF_PORT" $ip --from "$sender" --to "info+$local@mensadviceline.test" \
    --header "From: Caller <$sender>" --header "Subject: $subject" --header "Message-Id: $msgid"
  f=$(wait_delivered "$(inbox mensadviceline.test info)" "zq-msgid-9923") || { fail "distinctive message delivered"; return; }
  for v in "$sender" "$local" "$subject" "$msgid" "[$ip]"; do
    assert_file_contains "$f" "$v" "the delivered message contains '$v' (so its absence elsewhere means something)"
  done
  qid=$(row_of "$msgid")
  qid=${qid##*|}
  assert_ne "" "$qid" "the distinctive message has its index row"
  assert_file_contains "$RM_LOG" "$qid: line=mens-advice-line" "the milter's log names the queue id $qid"
  local v lc bare leaks=""
  sync
  for v in "$sender" "$local" "$subject" "$msgid" "$ip" "caller-home"; do
    lc=$(tr '[:upper:]' '[:lower:]' <<<"$v")
    bare=${v#<}
    bare=${bare%>}
    for file in "$RM_INDEX" "$RM_INDEX-wal" "$RM_INDEX-shm" "$RM_LOG" "$RM_LOG.stderr"; do
      [ -e "$file" ] || continue
      for needle in "$v" "$lc" "$bare"; do
        grep -aqF -- "$needle" "$file" && leaks+="'$needle' in $(basename "$file"); "
      done
    done
  done
  assert_eq "" "$leaks" "no address, local part, subject, Message-ID or client IP in the index, WAL, shm or log"
}

# The same milter on a TCP socket (inet:PORT@127.0.0.1): where it answers the DATA step
# (to keep the MTA's Nagle from waiting on our delayed ACK), mail still flows, stamped and
# indexed, several messages on one connection included.
test_tcp_socket() {
  local port before after f
  port=$(free_ports 1)
  rm_milter_stop
  sed -i "s|^socket = .*|socket = \"inet:$port@127.0.0.1\"|" "$RM_CONF"
  "$RM_MILTER_BIN" -f -c "$RM_CONF" 2>>"$RM_LOG.stderr" &
  RM_MILTER_PID=$!
  wait_for 10 grep -q "retention-milter\[$RM_MILTER_PID\] info: listening on inet:$port@127.0.0.1" "$RM_LOG" \
    || { fail "the milter listens on inet:$port@127.0.0.1" "$(tail -5 "$RM_LOG")"; return; }
  pf_set_milter "inet:127.0.0.1:$port"
  send "$PF_PORT" $OUTSIDER --from caller@example.net --to info@mensadviceline.test \
    --header "Message-Id: <e2e-tcp-1@example.net>"
  f=$(wait_delivered "$(inbox mensadviceline.test info)" "e2e-tcp-1@example.net") \
    || { fail "TCP: inbound message delivered" "$(pf_log 20)"; return; }
  assert_stamped "$f" mens-advice-line inbound
  assert_row "<e2e-tcp-1@example.net>" mens-advice-line inbound "TCP: inbound"
  before=$(rm_sql "SELECT count(*) FROM messages")
  smtp-source -c -d -m 5 -l 2048 -f caller@example.net -t info@respectphoneline.test "127.0.0.1:$PF_PORT" >/dev/null
  pf_wait_queue_empty 30 || true
  after=$(rm_sql "SELECT count(*) FROM messages")
  assert_eq 5 $((after - before)) "TCP: five messages on one connection: five rows"
  assert_cmd "TCP: Postfix logs no milter error or timeout" \
    bash -c "! grep -E 'milter.*(error|timeout|timed out)' '$PF_LOG'"
}

test_inbound_with_forged_headers
test_outbound_authenticated
test_outbound_from_internal_host
test_internal
test_spoof
test_no_line
test_missing_message_id
test_bad_input
test_several_per_connection
test_flood_of_forged_headers
test_confidentiality
test_milter_down_means_retry
test_tcp_socket
e2e_finish
