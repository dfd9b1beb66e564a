#!/usr/bin/env bash
# End to end: mail stamped by the real milter through a real Postfix into real Maildirs,
# a personal Sent copy saved over IMAP as a mail client saves it (same Message-ID, none of
# our headers), then the real retention-sweep run as the mail store's user with the
# process clock set by faketime: the day before the retention date (the copy moves into
# the helpline's Sent folder, nothing is destroyed) and the day itself (both go). Checks
# exactly which files exist where, what the index says, what staff see over IMAP
# (Dovecot started by the harness over the same Maildirs), and the residue Dovecot's
# index cache keeps of a destroyed message until the configured after_mailbox clears it.
# Usage: test_sweep_postfix.sh PATH/TO/retention-milter PATH/TO/retention-sweep
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# alice@respect.test logs in over IMAP to save her reply's copy in her Sent folder.
export PF_DOVECOT_USERS="info@respectphoneline.test info@mensadviceline.test alice@respect.test"
. "$HERE/lib/sweep.sh"

sweep_e2e_begin rm-sweep "$@" -- faketime doveadm

IN_ID="sweep-in-$$@outside.example"
REPLY_ID="sweep-reply-$$@respectphoneline.test"
SUBJECT="Distinctive subject $$ for the cache residue"

# --- mail through Postfix and the milter ------------------------------------------------

swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
  --from someone@outside.example --to info@respectphoneline.test \
  --header "Message-Id: <$IN_ID>" --header "Subject: $SUBJECT" --body "Please help."
wait_for 30 sh -c "ls '$SHARED/new/'* >/dev/null 2>&1" || fail "the inbound message was delivered"
IN_FILE=$(ls "$SHARED/new/"*)
# A message for the other line, delivered to its mailbox: it is kept (its date is far).
swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
  --from other@outside.example --to info@mensadviceline.test --header "Message-Id: <sweep-other-$$@outside.example>"
wait_for 30 sh -c "ls '$PF_MAIL_DIR/mensadviceline.test/info/new/'* >/dev/null 2>&1" ||
  fail "the other line's message was delivered"
assert_header "$IN_FILE" X-Retain-Until "$RETAIN" "the delivered message carries its retention date"

# The reply leaves through the submission port, from the helpline's address.
swaks --silent 2 --server "127.0.0.1:$PF_SUBMISSION_PORT" --auth PLAIN \
  --auth-user "$PF_AUTH_USER" --auth-password "$PF_AUTH_PASS" --helo staff.respect.test \
  --from info@respectphoneline.test --to someone@outside.example \
  --header "Message-Id: <$REPLY_ID>" --header "Subject: Re: help" --body "Here is our advice."
wait_for 30 sh -c "grep -l '$REPLY_ID' $SINK_DIR/* >/dev/null 2>&1" || fail "the reply left for the outside"
assert_eq "respect-phoneline|outbound|$RETAIN" \
  "$(rm_sql "SELECT lines, direction, retain_until FROM messages WHERE hex(digest) = '$(rm_digest "<$REPLY_ID>")'")" \
  "the reply is indexed as outbound"


# Alice's mail client saves its copy of the reply: same Message-ID, none of our headers.
pf_imap alice@respect.test "
M.create('Sent')
msg = b'From: Respect Phoneline <info@respectphoneline.test>\r\nTo: someone@outside.example\r\nSubject: Re: help\r\nMessage-ID: <$REPLY_ID>\r\n\r\nHere is our advice.\r\n'
print(M.append('Sent', r'(\Seen)', None, msg)[0])" >/dev/null
SENT_COPY=$(ls "$ALICE/.Sent/cur/"* 2>/dev/null | head -1)
assert_exists "$SENT_COPY" "the mail client's copy is in alice's Sent folder"
assert_no_header "$SENT_COPY" X-Retain-Until "the client's copy carries none of our headers"
SENT_NAME=$(basename "$SENT_COPY")

# Staff see the date in their client; fetching headers also fills Dovecot's index cache.
# retain_until_seen FOLDER ITEMS: the X-Retain-Until line of the helpline's first message in
# FOLDER, as a mail client fetching ITEMS (which also go into Dovecot's cache) sees it.
retain_until_seen() {
  pf_imap info@respectphoneline.test "
M.select('$1')
t, d = M.fetch('1', '($2)')
print(d[0][1].decode())" | tr -d '\r' | grep -i '^X-Retain-Until'
}
assert_eq "X-Retain-Until: $RETAIN" \
  "$(retain_until_seen INBOX 'ENVELOPE BODY.PEEK[HEADER.FIELDS (X-RETAIN-UNTIL SUBJECT)]')" \
  "staff see X-Retain-Until over IMAP"
# Reading it moved the message from new/ to cur/ (and Dovecot wrote its index cache).
IN_FILE=$(grep -l -F "<$IN_ID>" "$SHARED"/cur/* "$SHARED"/new/* 2>/dev/null | head -1 || true)
assert_exists "$IN_FILE" "the inbound message, now seen"

# --- the sweeper's config, and the sweeper as the mail store's user ---------------------

# after_mailbox: a copy of each changed mailbox's cache is kept first, to show the residue
# the command then clears.
cat >"$W/after.sh" <<EOF
#!/bin/sh
user=\$1
dir=$PF_MAIL_DIR/\${user#*@}/\${user%@*}
[ -f "\$dir/dovecot.index.cache" ] && cp "\$dir/dovecot.index.cache" "$W/sweep/cache-before.\$user"
exec doveadm -c "$PF_DOVECOT_CONF" force-resync -u "\$user" '*'
EOF
chmod 0755 "$W/after.sh"
sweep_config '[sweep]' "metrics_file = \"$W/sweep/retention.prom\"" "after_mailbox = [\"$W/after.sh\", \"%u\"]" \
  "$(sweep_mailbox "$SHARED" shared respect-phoneline)" 'user = "info@respectphoneline.test"' \
  "$(sweep_mailbox "$PF_MAIL_DIR/mensadviceline.test/info" shared mens-advice-line)" 'user = "info@mensadviceline.test"' \
  "$(sweep_mailbox "$PF_MAIL_DIR/respect.test/*" personal)" 'user = "{name}@respect.test"'

row_state() { rm_sql "SELECT state || '|' || copies FROM messages WHERE hex(digest) = '$(rm_digest "<$1>")'"; }

# --- the day before the retention date ----------------------------------------------------

sweep_at "$DAY_BEFORE 03:00:00"
assert_eq 0 "$SWEEP_RC" "the sweep the day before ends 0"
sweep_show_failure
assert_eq "$DAY_BEFORE" "$(sweep_json 'd["today"]')" "the sweep's today is faketime's date"
assert_exists "$IN_FILE" "the day before: the inbound message is still there"
# The base of the name and the flags stay; Dovecot's ,S= and ,W= follow the new size.
MOVED=$(ls "$SHARED/.Sent/cur/${SENT_NAME%%,*},"* 2>/dev/null | head -1)
assert_exists "$MOVED" "the personal Sent copy moved into the helpline's Sent folder"
assert_eq ":${SENT_NAME#*:}" ":${MOVED##*:}" "the moved copy keeps its flags"
assert_eq "$(stat -c %s "$MOVED")" "$(basename "$MOVED" | sed 's/.*,S=\([0-9]*\).*/\1/')" \
  "the moved copy's name states its size, as Dovecot checks"
assert_not_cmd "alice's Sent copy is gone" test -e "$SENT_COPY"
assert_eq "X-Helpline-Line: respect-phoneline" "$(head -1 "$MOVED" | tr -d '\r')" "the moved copy starts with our headers"
assert_header "$MOVED" X-Helpline-Direction outbound "the moved copy: direction"
assert_header "$MOVED" X-Retain-Until "$RETAIN" "the moved copy: retention date"
assert_header "$MOVED" X-Retention-Policy email "the moved copy: policy"
assert_file_contains "$MOVED" "Here is our advice." "the moved copy keeps its body"
assert_eq "$PF_MAIL_UID" "$(stat -c %u "$MOVED")" "the moved copy belongs to the mail store's user"
for part in cur new tmp maildirfolder; do assert_exists "$SHARED/.Sent/$part"; done
assert_eq "1" "$(sweep_json 'd["lines"]["respect-phoneline"]["moved"]')" "the summary counts the move"
assert_eq "1" "$(sweep_json 'd["lines"]["respect-phoneline"]["kept"]')" "the day before: the inbound message is kept"
assert_eq "1" "$(sweep_json 'd["lines"]["mens-advice-line"]["kept"]')" "the day before: the other line's message is kept"
assert_eq "2" "$(sweep_json 'd["after_mailbox_ran"]')" "after_mailbox ran for the two mailboxes the move changed"
assert_eq "present|0" "$(row_state "$IN_ID")" "the day before: the inbound row is present"

assert_eq "X-Retain-Until: $RETAIN" "$(retain_until_seen Sent 'BODY.PEEK[HEADER.FIELDS (X-RETAIN-UNTIL)]')" \
  "staff see the moved copy's date in the helpline's Sent folder"

# --- the retention date itself -----------------------------------------------------------

sweep_at "$RETAIN 03:00:00"
assert_eq 0 "$SWEEP_RC" "the sweep on the retention date ends 0"
sweep_show_failure
assert_not_cmd "on the date: the inbound message is destroyed" test -e "$IN_FILE"
assert_not_cmd "on the date: the moved reply is destroyed" test -e "$MOVED"
assert_eq "" "$(ls "$SHARED/cur" "$SHARED/new" "$SHARED/.Sent/cur" "$SHARED/.Sent/new" | grep -v '^/' | grep -v '^$' || true)" \
  "no message file is left in the helpline's mailbox"
assert_eq "destroyed|1" "$(row_state "$IN_ID")" "the inbound row: destroyed, one copy"
assert_eq "destroyed|1" "$(row_state "$REPLY_ID")" "the reply's row: destroyed, one copy"
assert_eq "2" "$(rm_sql 'SELECT count(*) FROM receipts')" "each real run appended a receipt"
assert_eq "2" "$(sweep_json 'd["lines"]["respect-phoneline"]["destroyed"]')" "the summary counts both"
assert_eq "2" "$(sweep_json 'd["residues"]["index_cache_folders"]')" \
  "the summary reports the index cache residue (INBOX and Sent were read over IMAP)"
assert_eq "1" "$(sweep_json 'd["lines"]["mens-advice-line"]["destroyed"]')" "the other line's message went on the same date"
assert_eq "2" "$(sweep_json 'd["after_mailbox_ran"]')" "after_mailbox ran for both helplines' mailboxes"
assert_file_contains "$W/sweep/retention.prom" 'retention_sweep_last_exit_code 0' "the metrics file says exit 0"
assert_file_not_contains "$W/sweep/out.json" "$PF_MAIL_DIR" "the summary names no path"
assert_file_not_contains "$W/sweep/sweep.log" "$PF_MAIL_DIR" "the log names no path"
assert_file_not_contains "$W/sweep/sweep.log" "$IN_ID" "the log names no Message-ID"

# The residue: Dovecot's cache held the destroyed message's headers until after_mailbox ran.
assert_file_contains "$W/sweep/cache-before.info@respectphoneline.test" "$SUBJECT" \
  "Dovecot's index cache still held the destroyed message's subject"
assert_file_not_contains "$SHARED/dovecot.index.cache" "$SUBJECT" "after_mailbox cleared it from the cache"

count=$(pf_imap info@respectphoneline.test "print(M.select('INBOX')[1][0].decode())")
assert_eq "0" "$count" "over IMAP the helpline's INBOX is empty"
count=$(pf_imap info@respectphoneline.test "print(M.select('Sent')[1][0].decode())")
assert_eq "0" "$count" "over IMAP the helpline's Sent folder is empty"

e2e_finish
