#!/usr/bin/env bash
# Staff hold a message from their mail client: the helpline's shared mailbox (Dovecot,
# store = "dovecot") has a hold folder, hold_folders = { "Hold/Safeguarding" = "safeguarding" }.
# Mail stamped by the real milter goes through the real Postfix into Dovecot by LMTP; staff
# act over IMAP as their mail clients do; the real retention-sweep runs under faketime.
#
#   - The sweep makes the hold folder (a dry run does not); staff see it over IMAP.
#   - A staff member moves message A into it; alice's own copy of A waits in her Deleted
#     Items. Message B stays in the INBOX. A reason not in [holds] reasons is a config error.
#   - On the retention date, with the hold folder unreadable: nothing at all is destroyed.
#     Readable again: B goes; A and alice's copy stay, held. `retentionctl show` tells a
#     safeguarding hold of kind folder, placed by "folder Hold/Safeguarding of the
#     respect-phoneline mailbox", naming no person. A message of staff's own in the hold
#     folder (not helpline mail) is counted and left alone.
#   - Moved back to the INBOX, A stays held; the next run reports that a folder-held message
#     has left the hold folders.
#   - `retentionctl release` (through sudo: the admin's name is recorded); the next run
#     destroys A and alice's copy; IMAP shows them gone; `show` tells the whole history.
#   - Nothing the sweeper writes (summary, stderr, log) and nothing in the index holds an
#     address, a subject or a clear Message-ID.
#
# Usage: test_hold_folders.sh FORMAT PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl
#   FORMAT: maildir or mdbox
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
usage="usage: $0 maildir|mdbox MILTER SWEEP CTL"
FORMAT=${1:?$usage}
CTL=${4:?$usage}
shift
export PF_MAIL_FORMAT=$FORMAT
. "$HERE/lib/sweep.sh"

sweep_e2e_begin "rm-hold-$FORMAT" "$1" "$2" -- faketime doveadm
# shellcheck disable=SC2034  # read by sweep_at (lib/sweep.sh): the local doveadm needs root
SWEEP_AS=root

T=$SWEEP_TAG
SHARED_USER=info@respectphoneline.test
HOLD=Hold/Safeguarding
# The same folder as doveadm names it: with the namespace's separator ("." in Maildir++).
case $FORMAT in maildir) HOLD_DOVEADM=${HOLD//\//.} ;; *) HOLD_DOVEADM=$HOLD ;; esac
A_ID="hf-a-$T@outside.example"       # moved into the hold folder by staff
B_ID="hf-b-$T@outside.example"       # left in the INBOX: destroyed on its date
OWN_ID="hf-own-$T@respect.test"      # staff's own note filed in the hold folder: no row
ADMIN=nobody                          # the admin behind sudo, an account that exists

# --- mail through Postfix, the milter and Dovecot's LMTP ----------------------------------

sweep_deliver a "$A_ID" "$SHARED_USER,alice@respect.test"
sweep_deliver b "$B_ID" "$SHARED_USER"
for id in "$A_ID" "$B_ID"; do
  wait_until 30 "[ \"\$(pf_count $SHARED_USER INBOX '$id')\" = 1 ]" || fail "delivered through LMTP into the helpline's INBOX: $id"
done
wait_until 30 "[ \"\$(pf_count alice@respect.test INBOX '$A_ID')\" = 1 ]" || fail "delivered into alice's INBOX"
state_of() { rm_sql "SELECT group_concat(state) FROM messages WHERE hex(digest) = '$(rm_digest "<$1>")'"; }
assert_eq present "$(state_of "$A_ID")" "A is indexed"
assert_eq present "$(state_of "$B_ID")" "B is indexed"

# imap_move USER FROM TO MESSAGE-ID: the user's client moves the message (folder names with
# "/" between levels, turned into the server's separator as a client does).
imap_move() {
  pf_imap "$1" "
sep = M.list('\"\"', '\"\"')[1][0].split(b'\"')[1].decode()
name = lambda f: '\"' + f.replace('/', sep) + '\"'
assert M.select(name('$2'))[0] == 'OK'
uids = M.uid('SEARCH', 'HEADER', 'Message-ID', '$4')[1][0].split()
assert len(uids) == 1, uids
assert M.uid('MOVE', uids[0], name('$3'))[0] == 'OK'"
}
pf_imap alice@respect.test "M.create('\"Deleted Items\"')"
imap_move alice@respect.test INBOX 'Deleted Items' "$A_ID"
assert_eq 1 "$(pf_count alice@respect.test 'Deleted Items' "$A_ID")" "alice deleted her copy of A (it waits in Deleted Items)"

# --- the sweeper's config ---------------------------------------------------------------------

# The staff entry first: the hold must be in force before any entry's copies are destroyed.
config() { # HOLD-FOLDERS-TOML: the shared entry's hold_folders line
  sweep_config '[sweep]' "$(sweep_dovecot_local)" \
    "$(sweep_dovecot_mailbox '*@respect.test' personal)" \
    "$(sweep_dovecot_mailbox "$SHARED_USER" shared respect-phoneline)" "$1"
}
config "hold_folders = { \"$HOLD\" = \"safeguarding\" }"

ctl() { "$CTL" -c "$W/sweep/retention.toml" "$@"; }
ctl_at() { sweep_ctl_at "$@"; }
line_count() { sweep_json "d['lines'].get('respect-phoneline', {}).get('$1', 0)"; }
hold_folders() { sweep_json "d.get('hold_folders', {}).get('$1')"; }

VIEW_DIR=$W/views
mkdir -p "$VIEW_DIR"
view() { pf_imap_view "$2" >"$VIEW_DIR/$1.$2.json" 2>"$VIEW_DIR/$1.$2.err"; }
viewq() {
  python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$VIEW_DIR/$1.$2.json" "$3"
}
ids() { viewq "$1" "$2" "sorted(m['message_id'] for m in v.get('$3', []))"; }
has_folder() { viewq "$1" "$2" "'$3' in v"; }

# Nothing the sweeper writes names a person or a message.
PRIVATE=(caller@outside.example alice@respect.test "$SHARED_USER" "$A_ID" "$B_ID" "$OWN_ID" "subject-" "body-")
names_nothing() { sweep_writes_nothing_of "$1" "${PRIVATE[@]}"; }

# --- bad input: a reason not in [holds] reasons ---------------------------------------------

config "hold_folders = { \"Hold/Gossip\" = \"gossip\" }"
sweep_at "$DAY_BEFORE 01:00:00"
assert_eq 2 "$SWEEP_RC" "a hold folder whose reason is not in [holds] reasons: the sweep stops with exit 2"
assert_file_matches "$W/sweep/err" "hold_folders.*gossip|gossip.*hold_folders" "the error names the key and the reason"
rc=0
ctl check >"$W/check.out" 2>&1 || rc=$?
assert_eq 2 "$rc" "retentionctl check: the bad reason is an error (exit 2)"
assert_file_contains "$W/check.out" gossip "retentionctl check names the bad reason"
config "hold_folders = { \"$HOLD\" = \"safeguarding\" }"

# --- the hold folder appears ------------------------------------------------------------------

sweep_at "$DAY_BEFORE 02:00:00" --dry-run
sweep_show_failure
assert_cmd "after a dry run: the helpline's mailbox downloads over IMAP" view dry "$SHARED_USER"
assert_eq False "$(has_folder dry "$SHARED_USER" "$HOLD")" "a dry run does not make the hold folder"

sweep_at "$DAY_BEFORE 03:00:00"
assert_eq 0 "$SWEEP_RC" "the day before: the sweep ends 0"
sweep_show_failure
assert_eq 0 "$(line_count destroyed)" "the day before: nothing destroyed"
assert_cmd "the day before: the helpline's mailbox downloads over IMAP" view before "$SHARED_USER"
assert_eq True "$(has_folder before "$SHARED_USER" "$HOLD")" "the sweep made the hold folder, which staff see over IMAP"
assert_eq 1 "$(hold_folders folders_made)" "the day before: the summary says the hold folder was made"
names_nothing "the day before"

# --- staff file A in the hold folder ---------------------------------------------------------

assert_cmd "staff move A into the hold folder over IMAP" imap_move "$SHARED_USER" INBOX "$HOLD" "$A_ID"
# A staff member files a note of their own there too: not helpline mail, no index row.
pf_imap "$SHARED_USER" "
sep = M.list('\"\"', '\"\"')[1][0].split(b'\"')[1].decode()
note = b'From: Staff <staff@respect.test>\r\nTo: $SHARED_USER\r\nSubject: $(sweep_tokens own | cut -d' ' -f1)\r\nMessage-ID: <$OWN_ID>\r\n\r\nNote ($(sweep_tokens own | cut -d' ' -f2)).\r\n'
assert M.append('\"' + '$HOLD'.replace('/', sep) + '\"', r'(\Seen)', None, note)[0] == 'OK'"
assert_eq "1 1 0" "$(pf_count "$SHARED_USER" "$HOLD_DOVEADM" "$A_ID") $(pf_count "$SHARED_USER" "$HOLD_DOVEADM" "$OWN_ID") \
$(pf_count "$SHARED_USER" INBOX "$A_ID")" "A and the staff note are in the hold folder, A no longer in the INBOX"

# --- on the date, the hold folder unreadable: nothing destroyed at all --------------------------

if [ "$FORMAT" = maildir ]; then
  HOLD_DIR=$(pf_mail_home "$SHARED_USER")/.$HOLD_DOVEADM
  assert_cmd "the hold folder is the Maildir++ folder .Hold.Safeguarding" test -d "$HOLD_DIR"
  mode=$(stat -c %a "$HOLD_DIR")
  chmod 000 "$HOLD_DIR"
  sweep_at "$RETAIN 01:00:00"
  chmod "$mode" "$HOLD_DIR"
  assert_eq 3 "$SWEEP_RC" "a hold folder that cannot be read: a safety stop (exit 3)"
  sweep_show_failure
  assert_file_contains "$W/sweep/out.json" "hold folder $HOLD of the respect-phoneline mailbox could not be read" \
    "a hold folder that cannot be read: the summary says why the run stopped"
  assert_eq "1 1" "$(pf_count "$SHARED_USER" INBOX "$B_ID") $(pf_count alice@respect.test 'Deleted Items' "$A_ID")" \
    "a hold folder that cannot be read: B and alice's copy of A are still there"
  assert_eq "present present" "$(state_of "$A_ID") $(state_of "$B_ID")" "a hold folder that cannot be read: no row written off"
  assert_eq "['folder $HOLD of the respect-phoneline mailbox']" "$(hold_folders unreadable)" \
    "a hold folder that cannot be read: the summary names it (by folder and line)"
  assert_file_contains "$W/sweep/sweep.log" "$HOLD" "a hold folder that cannot be read: the log names it"
  names_nothing "a hold folder that cannot be read"
fi

# --- on the date ------------------------------------------------------------------------------

sweep_at "$RETAIN 03:00:00"
assert_eq 0 "$SWEEP_RC" "on the date: the sweep ends 0"
sweep_show_failure
assert_eq 1 "$(line_count destroyed)" "on the date: one copy destroyed (B)"
assert_eq destroyed "$(state_of "$B_ID")" "on the date: B's row is written off"
assert_eq present "$(state_of "$A_ID")" "on the date: A's row stays"
assert_eq 1 "$(hold_folders placed)" "on the date: the summary counts one hold placed from a hold folder"
assert_eq 1 "$(hold_folders not_helpline)" "on the date: the staff note in the hold folder is counted as not helpline mail"
assert_cmd "on the date: the helpline's mailbox downloads over IMAP" view date "$SHARED_USER"
assert_cmd "on the date: alice's mailbox downloads over IMAP" view date alice@respect.test
assert_eq "['<$A_ID>', '<$OWN_ID>']" "$(ids date "$SHARED_USER" "$HOLD")" "on the date: A and the staff note stay in the hold folder"
assert_eq "[]" "$(ids date "$SHARED_USER" INBOX)" "on the date: B is gone from the INBOX"
assert_eq "['<$A_ID>']" "$(ids date alice@respect.test 'Deleted Items')" "on the date: alice's copy of A stays too"
names_nothing "on the date"

ctl_at "$RETAIN 09:00:00" show "<$A_ID>"
assert_eq 0 "$CTL_RC" "retentionctl show A"
assert_file_matches "$W/ctl.out" "^hold: safeguarding.* placed by folder $HOLD of the respect-phoneline mailbox on " \
  "show: A is held for safeguarding, placed by the hold folder of the helpline's mailbox"
assert_file_contains "$W/ctl.out" "held: kept past its date" "show: A's record is held past its date"
ctl_at "$RETAIN 09:00:00" show "<$A_ID>" --json
assert_eq "folder|safeguarding|folder $HOLD of the respect-phoneline mailbox" \
  "$(python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["hold"]; print(h["kind"], h["reason"], h["placed_by"], sep="|")' "$W/ctl.out")" \
  "show --json: the hold is of kind folder, for safeguarding, placed by the hold folder"
ctl_at "$RETAIN 09:00:00" show "<$A_ID>"
for who in root "$ADMIN" alice @; do
  assert_file_not_contains "$W/ctl.out" "$who" "show names no person ('$who') for a hold placed from a folder"
done

# --- A moved back out: still held -----------------------------------------------------------------

assert_cmd "staff move A back to the INBOX" imap_move "$SHARED_USER" "$HOLD" INBOX "$A_ID"
sweep_at "$DAY_AFTER 03:00:00"
assert_eq 0 "$SWEEP_RC" "moved out: the sweep ends 0"
sweep_show_failure
assert_eq 0 "$(line_count destroyed)" "moved out: nothing destroyed"
assert_eq "1 1" "$(pf_count "$SHARED_USER" INBOX "$A_ID") $(pf_count alice@respect.test 'Deleted Items' "$A_ID")" \
  "moved out: A and alice's copy stay (leaving the hold folder does not release)"
assert_eq 1 "$(hold_folders no_longer_in_folder)" "moved out: the summary counts one folder-held message no longer in a hold folder"
assert_eq 0 "$(hold_folders placed)" "moved out: no new hold placed"
names_nothing "moved out"
ctl_at "$DAY_AFTER 09:00:00" show "<$A_ID>"
assert_file_matches "$W/ctl.out" "^hold: safeguarding.* placed by folder $HOLD of the respect-phoneline mailbox" \
  "moved out: show still lists the folder hold in force"

# --- released by an admin --------------------------------------------------------------------------

ctl_at "$DAY_AFTER 10:00:00" release "<$A_ID>"
assert_eq 0 "$CTL_RC" "retentionctl release lifts the folder hold"
sweep_at "$(date -d "$DAY_AFTER +1 day" +%F) 03:00:00"
assert_eq 0 "$SWEEP_RC" "after the release: the sweep ends 0"
sweep_show_failure
assert_eq 2 "$(line_count destroyed)" "after the release: A and alice's copy are destroyed"
assert_eq destroyed "$(state_of "$A_ID")" "after the release: A's row is written off"
assert_eq 0 "$(hold_folders no_longer_in_folder)" "after the release: no folder-held message left to report"
names_nothing "after the release"
assert_cmd "after the release: the helpline's mailbox downloads over IMAP" view released "$SHARED_USER"
assert_cmd "after the release: alice's mailbox downloads over IMAP" view released alice@respect.test
assert_eq "[]" "$(ids released "$SHARED_USER" INBOX)" "after the release: A is gone from the helpline's INBOX"
assert_eq "['<$OWN_ID>']" "$(ids released "$SHARED_USER" "$HOLD")" "after the release: the staff note alone is in the hold folder"
assert_eq "[]" "$(ids released alice@respect.test 'Deleted Items')" "after the release: alice's copy is gone"

ctl_at "$(date -d "$DAY_AFTER +1 day" +%F) 09:00:00" show "<$A_ID>"
assert_file_contains "$W/ctl.out" "hold: none" "show after the release: no hold in force"
assert_file_matches "$W/ctl.out" "^earlier hold: safeguarding.* placed by folder $HOLD of the respect-phoneline mailbox on .*, released by $ADMIN on " \
  "show after the release: the history tells the folder placed the hold and the admin released it"
assert_file_contains "$W/ctl.out" "destroyed" "show after the release: A's record is destroyed"

# --- nothing in the index names a person or a message ----------------------------------------------

sweep_index_names_nothing "${PRIVATE[@]}"

e2e_finish
