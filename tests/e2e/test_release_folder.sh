#!/usr/bin/env bash
# A team leader releases a held message from her mail client: the helpline's shared mailbox
# (Dovecot, store = "dovecot", Maildir) has a hold folder and a release folder,
# release_folder = "Hold/Release", release_logins = ["lead@respect.test"]. Dovecot's ACLs,
# set by the admin with doveadm, let lead (logging in as herself, through the shared
# namespace) put mail there, and not the shared login staff use. Mail stamped by the real
# milter goes through the real Postfix into Dovecot by LMTP; staff and lead act over IMAP;
# the real retention-sweep runs under faketime.
#
#   - `retentionctl check` says the release folder is guarded; with the owner given insert it
#     fails, naming the folder and who can write it.
#   - Staff move A, B and C (C on an admin hold) into the hold folder; the sweep the day
#     before places a folder hold on each.
#   - The shared login cannot move A into the release folder, nor give itself the right.
#   - Lead moves A and C from the hold folder into the release folder, and copies B there.
#     On the date A is released and destroyed with its other copy; B (a copy still in the
#     hold folder) and C (its admin hold stays) are kept, and the summary counts them. `retentionctl show` tells A
#     was released by the folder, naming no person.
#   - With the owner given insert, lead deletes B's copy in the hold folder: the sweep
#     releases nothing and says why; the ACL put right, the next sweep releases and destroys B.
#   - Nothing the sweeper writes (summary, stderr, log) and nothing in the index holds an
#     address, a subject or a clear Message-ID.
#
# Usage: test_release_folder.sh PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
usage="usage: $0 MILTER SWEEP CTL"
CTL=${3:?$usage}
# '/' between folder levels: the shared namespace's prefix holds addresses, which have dots.
export PF_MAIL_FORMAT=maildir PF_MAIL_SEPARATOR=/ PF_DOVECOT_ACL=1
export PF_DOVECOT_USERS="info@respectphoneline.test info@mensadviceline.test lead@respect.test"
. "$HERE/lib/sweep.sh"

sweep_e2e_begin rm-release "$1" "$2" -- faketime doveadm
# shellcheck disable=SC2034  # read by sweep_at (lib/sweep.sh): the local doveadm needs root
SWEEP_AS=root

T=$SWEEP_TAG
SHARED_USER=info@respectphoneline.test
LEAD=lead@respect.test
HOLD=Hold/Safeguarding
RELEASE=Hold/Release
# How lead's mail client names the shared mailbox's folders.
SHARED_NS=shared/$SHARED_USER
RELEASE_NAME="folder $RELEASE of the respect-phoneline mailbox"
A_ID="rf-a-$T@outside.example" # released by lead on its date
B_ID="rf-b-$T@outside.example" # stays in the hold folder; released later
C_ID="rf-c-$T@outside.example" # on an admin hold, moved into the release folder
ADMIN=nobody                    # the admin behind sudo, an account that exists

# --- mail through Postfix, the milter and Dovecot's LMTP ----------------------------------

sweep_deliver a "$A_ID" "$SHARED_USER,alice@respect.test"
sweep_deliver b "$B_ID" "$SHARED_USER"
sweep_deliver c "$C_ID" "$SHARED_USER"
for id in "$A_ID" "$B_ID" "$C_ID"; do
  wait_until 30 "[ \"\$(pf_count $SHARED_USER INBOX '$id')\" = 1 ]" || fail "delivered through LMTP into the helpline's INBOX: $id"
done
wait_until 30 "[ \"\$(pf_count alice@respect.test INBOX '$A_ID')\" = 1 ]" || fail "delivered into alice's INBOX"
state_of() { rm_sql "SELECT group_concat(state) FROM messages WHERE hex(digest) = '$(rm_digest "<$1>")'"; }

# imap_to USER MOVE|COPY FROM TO MESSAGE-ID: the user's client moves or copies the message;
# prints the server's answer (OK, NO).
imap_to() {
  pf_imap "$1" "
assert M.select('\"$3\"')[0] == 'OK'
uids = M.uid('SEARCH', 'HEADER', 'Message-ID', '$5')[1][0].split()
assert len(uids) == 1, uids
print(M.uid('$2', uids[0], '\"$4\"')[0])"
}
imap_move() { imap_to "$1" MOVE "$2" "$3" "$4"; }
# imap_delete USER FOLDER MESSAGE-ID: deleted and expunged at once, as most clients set up
imap_delete() {
  pf_imap "$1" "
assert M.select('\"$2\"')[0] == 'OK'
uids = M.uid('SEARCH', 'HEADER', 'Message-ID', '$3')[1][0].split()
assert len(uids) == 1, uids
assert M.uid('STORE', uids[0], '+FLAGS', r'(\\Deleted)')[0] == 'OK'
print(M.uid('EXPUNGE', uids[0])[0])"
}

# Alice deletes her copy of A: it waits in her Deleted Items, which the sweep reaches.
pf_imap alice@respect.test "M.create('\"Deleted Items\"')"
assert_eq OK "$(imap_move alice@respect.test INBOX 'Deleted Items' "$A_ID")" "alice deletes her copy of A"

# --- the admin's set-up: the folders and their ACLs --------------------------------------------

acl() { pf_doveadm acl set -u "$SHARED_USER" "$@"; }
pf_doveadm mailbox create -u "$SHARED_USER" "$HOLD" "$RELEASE"
# The owner (the shared login) may read and empty the release folder, never put mail there.
RELEASE_OWNER=(owner lookup read write-seen write-deleted expunge)
acl "$RELEASE" "${RELEASE_OWNER[@]}"
acl "$RELEASE" "user=$LEAD" lookup read write-seen write-deleted insert expunge
# Staff keep every right on the hold folder; lead may take mail out of it.
acl "$HOLD" owner lookup read write write-seen write-deleted insert post expunge create delete admin
acl "$HOLD" "user=$LEAD" lookup read write-seen write-deleted expunge

# --- the sweeper's config ---------------------------------------------------------------------

sweep_config '[sweep]' "$(sweep_dovecot_local)" \
  "$(sweep_dovecot_mailbox '*@respect.test' personal)" \
  "$(sweep_dovecot_mailbox "$SHARED_USER" shared respect-phoneline)" \
  "hold_folders = { \"$HOLD\" = \"safeguarding\" }" \
  "release_folder = \"$RELEASE\"" \
  "release_logins = [\"$LEAD\"]"

ctl() { "$CTL" -c "$W/sweep/retention.toml" "$@"; }
ctl_at() { sweep_ctl_at "$@"; }
check() { # exit status in CHECK_RC, output in $W/check.out
  CHECK_RC=0
  ctl check >"$W/check.out" 2>&1 || CHECK_RC=$?
}
line_count() { sweep_json "d['lines'].get('respect-phoneline', {}).get('$1', 0)"; }
hold_folders() { sweep_json "d.get('hold_folders', {}).get('$1')"; }

# Nothing the sweeper writes names a person or a message.
PRIVATE=(caller@outside.example alice@respect.test "$SHARED_USER" "$LEAD" "$A_ID" "$B_ID" "$C_ID" "subject-" "body-")
names_nothing() { sweep_writes_nothing_of "$1" "${PRIVATE[@]}"; }

# --- retentionctl check: is the release folder guarded? ---------------------------------------

# Without an anyone line, a login the ACL does not name gets Dovecot's default rights there
# (the INBOX's, or the mail root's), which acl get does not show: not guarded.
check
assert_eq 2 "$CHECK_RC" "check: a release folder whose ACL has no anyone line is an error"
assert_file_contains "$W/check.out" "its ACL has no anyone line" "check says the anyone line is missing"
acl "$RELEASE" anyone lookup

check
assert_eq 0 "$CHECK_RC" "check: the release folder guarded by its ACL passes"
assert_file_contains "$W/check.out" "release folder $RELEASE: only $LEAD can put mail into it (Dovecot's ACL)" \
  "check says only lead can put mail into the release folder"
assert_file_contains "$W/check.out" "the shared login $SHARED_USER can write the hold folder(s) $HOLD: anyone who opens the shared mailbox can place those holds" \
  "check notes that anyone with the shared login can place the hold folder's holds"
acl "$RELEASE" owner lookup read write-seen write-deleted insert expunge
check
assert_eq 2 "$CHECK_RC" "check: a release folder the shared login can write is an error (exit 2)"
assert_file_contains "$W/check.out" "release folder $RELEASE can be written by others than release_logins, so the sweep releases nothing from it: the shared login itself has insert" \
  "check names the release folder and the shared login as one who can write it"
acl "$RELEASE" "${RELEASE_OWNER[@]}"
check
assert_eq 0 "$CHECK_RC" "check passes again with the ACL put right"

# --- staff file A, B and C in the hold folder; the sweep holds A and B -----------------------

ctl_at "$DAY_BEFORE 00:30:00" hold "<$C_ID>" --reason legal
assert_eq 0 "$CTL_RC" "the admin holds C"
for id in "$A_ID" "$B_ID" "$C_ID"; do
  assert_eq OK "$(imap_move "$SHARED_USER" INBOX "$HOLD" "$id")" "staff move $id into the hold folder"
done
sweep_at "$DAY_BEFORE 03:00:00"
assert_eq 0 "$SWEEP_RC" "the day before: the sweep ends 0"
sweep_show_failure
assert_eq 3 "$(hold_folders placed)" "the day before: folder holds placed on A, B and C (beside C's admin hold)"
assert_eq 0 "$(line_count destroyed)" "the day before: nothing destroyed"
names_nothing "the day before"

# --- who may put mail into the release folder ----------------------------------------------------

assert_eq NO "$(imap_move "$SHARED_USER" "$HOLD" "$RELEASE" "$A_ID")" "the shared login cannot move A into the release folder"
assert_eq "1 0" "$(pf_count "$SHARED_USER" "$HOLD" "$A_ID") $(pf_count "$SHARED_USER" "$RELEASE" "$A_ID")" \
  "refused: A is still in the hold folder, not in the release folder"
assert_eq NO "$(pf_imap "$SHARED_USER" "print(M.setacl('\"$RELEASE\"', '$SHARED_USER', 'lrswipkxtecda')[0])")" \
  "the shared login cannot give itself rights on the release folder"
assert_eq OK "$(imap_move "$LEAD" "$SHARED_NS/$HOLD" "$SHARED_NS/$RELEASE" "$A_ID")" \
  "lead, logged in as herself, moves A from the hold folder into the release folder"
assert_eq OK "$(imap_move "$LEAD" "$SHARED_NS/$HOLD" "$SHARED_NS/$RELEASE" "$C_ID")" "lead moves C into the release folder"
assert_eq OK "$(imap_to "$LEAD" COPY "$SHARED_NS/$HOLD" "$SHARED_NS/$RELEASE" "$B_ID")" \
  "lead copies B into the release folder (a copy stays in the hold folder)"
assert_eq "1 1 1 1" "$(pf_count "$SHARED_USER" "$RELEASE" "$A_ID") $(pf_count "$SHARED_USER" "$RELEASE" "$C_ID") \
$(pf_count "$SHARED_USER" "$RELEASE" "$B_ID") $(pf_count "$SHARED_USER" "$HOLD" "$B_ID")" \
  "A and C are in the release folder, B in both folders"

# --- on the date: A released and destroyed, B and C kept --------------------------------------

sweep_at "$RETAIN 03:00:00"
assert_eq 0 "$SWEEP_RC" "on the date: the sweep ends 0"
sweep_show_failure
assert_eq 2 "$(line_count destroyed)" "on the date: A and alice's copy are destroyed"
assert_eq "destroyed present present" "$(state_of "$A_ID") $(state_of "$B_ID") $(state_of "$C_ID")" \
  "on the date: A's row is written off, B's and C's stay"
assert_eq "0 0 1 1 1" "$(pf_count "$SHARED_USER" "$RELEASE" "$A_ID") $(pf_count alice@respect.test 'Deleted Items' "$A_ID") \
$(pf_count "$SHARED_USER" "$HOLD" "$B_ID") $(pf_count "$SHARED_USER" "$RELEASE" "$B_ID") $(pf_count "$SHARED_USER" "$RELEASE" "$C_ID")" \
  "on the date: A gone from the release folder and alice's Deleted Items; B (both copies) and C still there"
assert_eq "2 1 1 []" "$(sweep_json "' '.join(str(d['hold_folders'].get(k)) for k in ('released', 'release_kept_by_admin_hold', 'release_still_in_hold_folder', 'release_folders_not_used'))")" \
  "on the date: the summary counts 2 folder holds released (A, C), 1 message kept by an admin hold (C), 1 in a hold folder too (B)"
names_nothing "on the date"
assert_eq "[]" "$(pf_imap "$LEAD" "
M.select('\"$SHARED_NS/$RELEASE\"')
print(sorted(M.uid('SEARCH', 'HEADER', 'Message-ID', '$A_ID')[1][0].split()))")" \
  "on the date: lead no longer sees A in the release folder"

# No text of A is left in the store: not in the release folder's files and indexes, not in
# lead's private index of the shared folders (INDEXPVT), not in alice's Deleted Items, and
# not in the index caches of the folders A was moved out of long before (the shared INBOX
# and the hold folder, alice's INBOX).
left=""
for tok in $(sweep_tokens a); do
  left+=$(grep -rlaF -- "$tok" "$PF_MAIL_DIR" 2>/dev/null | sed "s|^$PF_MAIL_DIR/|$tok in |" || true)$'\n'
done
assert_eq "" "$(echo "$left" | sed '/^$/d')" "on the date: no trace of A is left in the store"

ctl_at "$RETAIN 09:00:00" show "<$A_ID>"
assert_eq 0 "$CTL_RC" "retentionctl show A"
assert_file_matches "$W/ctl.out" "^earlier hold: safeguarding.* placed by folder $HOLD of the respect-phoneline mailbox on .*, released by $RELEASE_NAME on " \
  "show: A's folder hold was released by the release folder"
for who in root "$ADMIN" lead @; do
  assert_file_not_contains "$W/ctl.out" "$who" "show names no person ('$who') for a release from the folder"
done
ctl_at "$RETAIN 09:00:00" show "<$C_ID>"
assert_file_matches "$W/ctl.out" "^hold: legal" "show: C's admin hold is still in force"
assert_file_matches "$W/ctl.out" "^earlier hold: safeguarding.*, released by $RELEASE_NAME on " \
  "show: C's folder hold was released by the release folder"

# --- the owner given insert: nothing released --------------------------------------------------

acl "$RELEASE" owner lookup read write-seen write-deleted insert expunge
assert_eq OK "$(imap_delete "$LEAD" "$SHARED_NS/$HOLD" "$B_ID")" "lead deletes B's copy in the hold folder"
sweep_at "$DAY_AFTER 03:00:00"
assert_eq 0 "$SWEEP_RC" "an unguarded release folder: the run goes on and ends 0"
sweep_show_failure
assert_eq 0 "$(line_count destroyed)" "an unguarded release folder: nothing destroyed"
assert_eq present "$(state_of "$B_ID")" "an unguarded release folder: B's row stays"
assert_eq 1 "$(pf_count "$SHARED_USER" "$RELEASE" "$B_ID")" "an unguarded release folder: B is kept"
assert_eq 0 "$(hold_folders released)" "an unguarded release folder: no folder hold released"
assert_file_contains "$W/sweep/out.json" "release $RELEASE_NAME not used: Dovecot's ACL lets others than release_logins put mail into it: the shared login itself has insert" \
  "an unguarded release folder: the summary says why it was not used"
names_nothing "an unguarded release folder"

# --- put right: B released and destroyed ----------------------------------------------------------

acl "$RELEASE" "${RELEASE_OWNER[@]}"
sweep_at "$(date -d "$DAY_AFTER +1 day" +%F) 03:00:00"
assert_eq 0 "$SWEEP_RC" "put right: the sweep ends 0"
sweep_show_failure
assert_eq 1 "$(line_count destroyed)" "put right: B is destroyed"
assert_eq "1 []" "$(sweep_json "' '.join(str(d['hold_folders'].get(k)) for k in ('released', 'release_folders_not_used'))")" \
  "put right: the summary counts B's folder hold released"
assert_eq "destroyed present" "$(state_of "$B_ID") $(state_of "$C_ID")" "put right: B's row is written off, C's stays"
assert_eq "0 1" "$(pf_count "$SHARED_USER" "$RELEASE" "$B_ID") $(pf_count "$SHARED_USER" "$RELEASE" "$C_ID")" \
  "put right: B is gone from the release folder, C (admin hold) is not"
names_nothing "put right"

# --- nothing in the index names a person or a message ----------------------------------------------

sweep_index_names_nothing "${PRIVATE[@]}"

e2e_finish
