#!/usr/bin/env bash
# What an admin sees when the nightly sweep cannot read everything, or meets files it did
# not expect. Mail goes through a real Postfix and the real milter into a helpline's shared
# mailbox: one message with a header block of several hundred KB (each field under Postfix's
# header_size_limit), one a staff member also keeps a copy of in her Deleted Items folder.
# That folder is restored as another user (the sweep's user cannot open it); the letters
# folder gets a reply copied in with `cp -p` (its old mtime kept) and a staff member's own
# file named like the sweeper's leftovers. The real retention-sweep, as the mail store's
# user under faketime:
#   today:        keeps the copied letter (it arrived today) and the notes file;
#   on the date:  destroys the copies it can read, marks no row destroyed (the copy in the
#                 unreadable folder would lose its digest), names the [[sweep.mailbox]]
#                 entry and never the staff member, exit 4;
#   the day after, the folder readable again: destroys the last copy, marks every row.
# Usage: test_sweep_scope.sh PATH/TO/retention-milter PATH/TO/retention-sweep
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/sweep.sh"

sweep_e2e_begin rm-sweepscope "$@" -- faketime

TODAY=$(date -u +%F)
LETTERS=$W/letters

# --- mail through Postfix and the milter ------------------------------------------------
BIG_ID="long-relay-chain@caller.example"
KEPT_ID="kept-by-alice@caller.example"
big_headers=()
for i in $(seq 1 12); do big_headers+=(--add-header "X-Relay-Trace-$i: $(head -c 90000 /dev/zero | tr '\0' 'r')"); done
swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
  --from caller@example.net --to info@respectphoneline.test --header "Message-Id: <$BIG_ID>" \
  "${big_headers[@]}" --body "a message with a long header" >/dev/null || fail "the long-header message was accepted"
swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
  --from caller@example.net --to info@respectphoneline.test --header "Message-Id: <$KEPT_ID>" \
  --body "a message alice keeps a copy of" >/dev/null || fail "the second message was accepted"
pf_wait_delivered "$SHARED/new/*" 2 30 || fail "both messages were delivered"
BIG_FILE=$(grep -l "$BIG_ID" "$SHARED"/new/*)
KEPT_FILE=$(grep -l "$KEPT_ID" "$SHARED"/new/*)
assert_cmd "the delivered header block is several times 256 KB" \
  test "$(sed '/^\r\?$/q' "$BIG_FILE" | wc -c)" -gt 600000
row_state() { rm_sql "SELECT group_concat(state) FROM messages WHERE hex(digest) = '$(rm_digest "<$1>")'"; }
assert_eq present "$(row_state "$BIG_ID")" "the long-header message is indexed"

# alice's copy, in a folder restored from backup as root with mode 0700.
mkdir -p "$ALICE/cur" "$ALICE/new" "$ALICE/tmp" "$ALICE/.Deleted Items/cur" "$ALICE/.Deleted Items/new" \
  "$ALICE/.Deleted Items/tmp"
cp "$KEPT_FILE" "$ALICE/.Deleted Items/cur/$(basename "$KEPT_FILE"):2,S"
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$ALICE"
chown root:root "$ALICE/.Deleted Items"
chmod 0700 "$ALICE/.Deleted Items"

# The letters folder: a reply copied in with its modification time of three months ago,
# and a staff member's own notes under a name like the sweeper's leftovers.
mkdir -p "$W/drafts" "$LETTERS"
echo "dear caller, ..." >"$W/drafts/reply.odt"
touch -d "$(date -d '3 months ago' +%F)" "$W/drafts/reply.odt"
cp -p "$W/drafts/reply.odt" "$LETTERS/reply.odt"
echo "my notes" >"$LETTERS/.retention-sweep.notes"
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$LETTERS"
chmod -R o-rwx "$LETTERS"

SWEEP_LOG_LEVEL=debug sweep_config '[policy.letter-response]' 'retain = "2 months"' \
  '[sweep]' 'max_clock_jump = "12 months"' \
  "$(sweep_mailbox "$SHARED" shared respect-phoneline)" "$(sweep_mailbox "$PF_MAIL_DIR/respect.test/*" personal)" \
  '[[sweep.files]]' "path = \"$LETTERS\"" 'policy = "letter-response"'

# File times as they are: the letters folder is judged by them.
SWEEP_NO_FAKE_STAT=1

# --- today -----------------------------------------------------------------------------
sweep_at "$TODAY $(date -u +%T)"
assert_eq 4 "$SWEEP_RC" "today: exit 4 (a folder not read, a file not ours)"
sweep_show_failure
assert_exists "$LETTERS/reply.odt" "today: the letter copied in with an old mtime is kept"
assert_eq "my notes" "$(cat "$LETTERS/.retention-sweep.notes")" "today: the notes file is left alone"
assert_eq 1 "$(sweep_json 'd["skips"]["not_our_leftover"]')" "the notes file is reported"
assert_eq 0 "$(sweep_json 'd["files"]["letter-response"]["destroyed"]')" "today: no letter destroyed"

# --- on the date, alice's folder still unreadable -------------------------------------
sweep_at "$RETAIN 03:00:00"
assert_eq 4 "$SWEEP_RC" "on the date: exit 4"
sweep_show_failure
assert_not_cmd "the long-header message is destroyed" test -e "$BIG_FILE"
assert_not_cmd "the shared copy of alice's message is destroyed" test -e "$KEPT_FILE"
assert_eq 0 "$(sweep_json 'd["skips"].get("header_too_large", 0)')" "no header is too large"
assert_eq 1 "$(sweep_json 'd["skips"]["folder_unreadable"]')" "alice's unreadable folder is reported"
assert_eq "[{'entry': 2, 'path': '$PF_MAIL_DIR/respect.test/*'}]" "$(sweep_json 'd["mailboxes_not_read"]')" \
  "the summary names the [[sweep.mailbox]] entry not read"
assert_eq 2 "$(sweep_json 'd["rows_mark_deferred"]')" "both messages' rows are left for a complete run"
assert_eq present "$(row_state "$KEPT_ID")" "alice's message is not marked destroyed"
assert_eq present "$(row_state "$BIG_ID")" "nor is any other in this run"
assert_cmd "alice's copy is still there" test -n "$(ls -A "$ALICE/.Deleted Items/cur")"
assert_not_cmd "the letter, two months after it arrived, is destroyed" test -e "$LETTERS/reply.odt"
assert_exists "$LETTERS/.retention-sweep.notes" "the notes file is still left alone"
for f in "$W/sweep/out.json" "$W/sweep/sweep.log"; do
  assert_file_not_contains "$f" alice "$(basename "$f") names no staff member"
done
assert_file_contains "$W/sweep/sweep.log" "[[sweep.mailbox]] number 2" "the log names the entry not read"

# --- the day after, the folder readable again -------------------------------------------
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$ALICE/.Deleted Items"
sweep_at "$DAY_AFTER 03:00:00"
assert_eq 4 "$SWEEP_RC" "the day after: exit 4 (only the notes file)"
sweep_show_failure
assert_eq "[]" "$(sweep_json 'd["mailboxes_not_read"]')" "every location was read"
assert_eq "" "$(ls -A "$ALICE/.Deleted Items/cur")" "alice's copy is destroyed"
assert_eq destroyed "$(row_state "$KEPT_ID")" "alice's message is marked destroyed"
assert_eq destroyed "$(row_state "$BIG_ID")" "the long-header message is marked destroyed"
assert_exists "$LETTERS/.retention-sweep.notes" "the notes file is never destroyed"
e2e_finish
