#!/usr/bin/env bash
# No path from mail content escapes the configured roots. Mail whose Message-ID,
# forged X-Helpline-Line / X-Retain-Until and Subject hold "../" paths and "/etc/passwd"
# goes through a real Postfix and the real milter into a helpline's mailbox; a staff
# member's mail client saves a reply with such a Message-ID in her Sent folder; the
# mailbox also holds a symlink to a message outside and a symlinked folder. The real
# retention-sweep (as the mail store's user, from a working directory inside the canary
# tree, clock set by faketime) moves the reply, then destroys everything on its date.
# Outside the roots, a canary tree owned by the sweeper's user, where those paths point
# (including a message with the same Message-ID as a destroyed one), must be left exactly
# as it was: same files, bytes, modes, owners, link counts, mtimes and ctimes.
# Usage: test_sweep_paths.sh PATH/TO/retention-milter PATH/TO/retention-sweep
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/sweep.sh"

sweep_e2e_begin rm-sweeppaths "$@" -- faketime


# --- the canary: outside every root, beside the mail folder, writable by the sweeper ----
# $W/mail is the mail base, so from a mailbox's cur/ "../../../../outside" is here.
C=$W/outside
mkdir -p "$C/cur" "$C/new" "$C/tmp" "$C/.Sent/cur" "$C/etc"
echo "canary: nothing may change me" >"$C/canary"
echo "root:x:0:0:canary:/root:/bin/sh" >"$C/etc/passwd"
# A message outside the roots with the Message-ID of one that will be destroyed.
printf 'Message-ID: <../../../../outside/canary>\nSubject: outside\n\nkeep me\n' \
  >"$C/cur/1500000000.M1P1.outside,S=60:2,S"
printf 'Message-ID: <../../../../outside/reply@respectphoneline.test>\n\nkeep me too\n' \
  >"$C/.Sent/cur/1500000000.M2P1.outside,S=60:2,S"
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$C"
touch -d '2000-01-01' "$C/canary" "$C/etc/passwd" "$C"/cur/* "$C"/.Sent/cur/*
canary_state() {
  (cd "$C" && find . -printf '%p %y %s %m %U %G %n %T@ %C@ %l\n' | sort &&
    find . -type f -exec sha256sum {} + | sort)
}
canary_state >"$W/outside-state.before"

# --- hostile mail through Postfix and the milter ---------------------------------------
HOSTILE_IDS=(
  "../../../../outside/canary"
  "/etc/passwd"
  "../../../../outside/cur/1500000000.M1P1.outside,S=60:2,S@x"
  "..%2f..%2f..%2f..%2foutside%2fcanary@x"
  "..\\..\\..\\..\\outside\\canary@x"
  "$(printf '../%.0s' $(seq 150))outside/canary@x"
)
i=0
for id in "${HOSTILE_IDS[@]}"; do
  i=$((i + 1))
  swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
    --from caller@example.net --to info@respectphoneline.test \
    --header "Message-Id: <$id>" --header "Subject: ../../../../outside/canary /etc/passwd $i" \
    --header "X-Helpline-Line: ../../../../outside" --header "X-Retain-Until: 1970-01-01" \
    --header "X-Retention-Policy: ../../../../outside/canary" --body "hostile $i" >/dev/null ||
    fail "hostile message $i was accepted"
done
pf_wait_delivered "$SHARED/new/*" "${#HOSTILE_IDS[@]}" 30 || fail "the hostile messages were delivered"
for f in "$SHARED"/new/*; do
  assert_header "$f" X-Helpline-Line respect-phoneline "$(basename "$f"): the forged line header was replaced"
  assert_header "$f" X-Retain-Until "$RETAIN" "$(basename "$f"): the forged date was replaced"
done
for id in "${HOSTILE_IDS[@]}"; do
  assert_eq 1 "$(rm_sql "SELECT count(*) FROM messages WHERE hex(digest) = '$(rm_digest "<$id>")'")" \
    "indexed by its digest: <${id:0:40}>"
done

# A reply from the helpline with a hostile Message-ID, and the copy alice's client saved.
REPLY_ID="../../../../outside/reply@respectphoneline.test"
swaks --silent 2 --server "127.0.0.1:$PF_SUBMISSION_PORT" --auth PLAIN \
  --auth-user "$PF_AUTH_USER" --auth-password "$PF_AUTH_PASS" --helo staff.respect.test \
  --from info@respectphoneline.test --to someone@outside.example \
  --header "Message-Id: <$REPLY_ID>" --header "Subject: ../../../../outside/.Sent" --body "advice" >/dev/null ||
  fail "the reply was accepted"
REPLY_DIGEST=$(rm_digest "<$REPLY_ID>")
reply_indexed() { [ "$(rm_sql "SELECT count(*) FROM messages WHERE hex(digest) = '$REPLY_DIGEST'")" = 1 ]; }
wait_for 30 reply_indexed || fail "the reply is indexed"
mkdir -p "$ALICE/.Sent/cur" "$ALICE/.Sent/new" "$ALICE/.Sent/tmp" "$ALICE/cur" "$ALICE/new" "$ALICE/tmp"
printf 'Message-ID: <%s>\r\nSubject: ../../../../outside/.Sent\r\n\r\nadvice\r\n' "$REPLY_ID" \
  >"$ALICE/.Sent/cur/1760000000.M9P9.client,S=90:2,S"
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$ALICE"

# What the sweep must not follow: a symlink in cur/ to the outside message, a folder
# that is a symlink to the canary tree.
ln -s "$C/cur/1500000000.M1P1.outside,S=60:2,S" "$SHARED/cur/1500000001.M1P1.link,S=60:2,S"
ln -s "$C" "$SHARED/.Evil"
chown -h "$PF_MAIL_UID:$PF_MAIL_GID" "$SHARED/cur/1500000001.M1P1.link,S=60:2,S" "$SHARED/.Evil"

SWEEP_LOG_LEVEL=debug sweep_config '[sweep]' 'orphans = "expire"' \
  "$(sweep_mailbox "$SHARED" shared respect-phoneline)" "$(sweep_mailbox "$PF_MAIL_DIR/respect.test/*" personal)"

SWEEP_CWD=$C/cur # run from inside the canary tree: a relative path would land in it

sweep_at "$DAY_BEFORE 03:00:00"
assert_eq 4 "$SWEEP_RC" "the day before: exit 4 (the symlinks are skipped, never followed)"
sweep_show_failure
assert_eq "1" "$(sweep_json 'd["skips"]["symlink"]')" "the symlinked message is reported"
assert_eq "1" "$(sweep_json 'd["skips"]["folder_is_link"]')" "the symlinked folder is reported"
assert_eq "1" "$(sweep_json 'd["lines"]["respect-phoneline"]["moved"]')" "the reply's Sent copy moved into the helpline's Sent"
assert_eq "1" "$(ls "$SHARED/.Sent/cur" | wc -l)" "the moved copy is in the helpline's own Sent folder"
assert_eq "" "$(ls "$ALICE/.Sent/cur")" "alice's copy left her Sent folder"

sweep_at "$RETAIN 03:00:00"
assert_eq 4 "$SWEEP_RC" "on the date: exit 4 (the symlinks again)"
sweep_show_failure
assert_eq "$((${#HOSTILE_IDS[@]} + 1))" "$(sweep_json 'd["lines"]["respect-phoneline"]["destroyed"]')" \
  "on the date: every hostile message and the moved reply are destroyed"
assert_eq "" "$(find "$SHARED/cur" "$SHARED/new" "$SHARED/.Sent/cur" "$SHARED/.Sent/new" -type f)" \
  "no message file is left in the helpline's mailbox"
# The folder that is a link was not read: a copy may be there, so no row is marked yet.
for id in "${HOSTILE_IDS[@]}" "$REPLY_ID"; do
  assert_eq "present" "$(rm_sql "SELECT state FROM messages WHERE hex(digest) = '$(rm_digest "<$id>")'")" \
    "row left present while a folder was not read: <${id:0:40}>"
done
assert_eq "1" "$(sweep_json 'd["mailboxes_not_read"][0]["entry"]')" "the summary names the entry with the linked folder"
assert_cmd "the symlinks themselves are left in place" test -L "$SHARED/.Evil"

# The admin removes the links the summary reported; the next run marks the rows.
rm "$SHARED/.Evil" "$SHARED/cur/1500000001.M1P1.link,S=60:2,S"
sweep_at "$DAY_AFTER 03:00:00"
assert_eq 0 "$SWEEP_RC" "the day after, without the links: exit 0"
sweep_show_failure
for id in "${HOSTILE_IDS[@]}" "$REPLY_ID"; do
  assert_eq "destroyed" "$(rm_sql "SELECT state FROM messages WHERE hex(digest) = '$(rm_digest "<$id>")'")" \
    "row destroyed: <${id:0:40}>"
done

canary_state >"$W/outside-state.after"
assert_cmd "outside the roots nothing changed: same files, bytes, modes, owners, links, mtimes, ctimes" \
  diff "$W/outside-state.before" "$W/outside-state.after"
assert_eq "" "$(find "$W" /tmp -maxdepth 4 -newer "$W/outside-state.before" -name 'canary*' -not -path "$C/*" 2>/dev/null | head)" \
  "no file named after the canary appeared elsewhere"
for f in "$W/sweep/sweep.log" "$W/sweep/out.json" "$RM_LOG"; do
  assert_file_not_contains "$f" "outside/canary" "$(basename "$f") names none of the hostile Message-IDs"
done
e2e_finish
