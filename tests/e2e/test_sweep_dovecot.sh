#!/usr/bin/env bash
# End to end through Dovecot, in one mailbox format: helpline mail stamped by the real
# milter, delivered by the real Postfix through Dovecot's LMTP (so Dovecot's own indexes
# and caches hold it) into the helpline's shared mailbox and staff members' own; staff
# acting over IMAP as their mail clients do (a message moved to "Deleted Items", another to
# "Trash", the client's APPEND of a reply to the personal "Sent" with its flags and date);
# then the real retention-sweep reaching the mailboxes through doveadm ([[sweep.dovecot]],
# store = "dovecot"), under faketime: the day before the retention date (the Sent copy
# moves into the helpline's Sent folder at once, nothing is destroyed) and on the day
# (everything goes but a held message). Checked as staff would check: over IMAP after a
# fresh login, and again after `doveadm force-resync`; no text of a destroyed message left
# anywhere in the store; and bad input: Dovecot down, a user that does not exist, a mask
# that lists nobody (and, over the API, a wrong key): a reported skip naming the entry,
# never an address, and no index row written off.
#
# With --api the sweeper reaches Dovecot through doveadm's HTTP API on loopback (an API
# key, doveadm_allowed_commands limited to what the sweeper uses) and runs as the mail
# store's user; without, it runs the local doveadm as root (as user iteration needs).
# Over the API a moved copy keeps its flags but not its received date (doveadm's save
# takes none): the copy in the helpline's Sent folder is dated the day it moved.
#
# With --lazy-expunge Dovecot's lazy_expunge plugin copies every expunged message into the
# user's EXPUNGED folder (as mail-server bundles set it up): on the date no copy of a
# destroyed message may be left there either.
#
# Usage: test_sweep_dovecot.sh [--api] [--lazy-expunge] FORMAT PATH/TO/retention-milter PATH/TO/retention-sweep PATH/TO/retentionctl
#   FORMAT: maildir, mbox, sdbox or mdbox
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
API=0
while [ "$#" -gt 0 ]; do
  case $1 in
    --api) API=1 ;;
    --lazy-expunge) export PF_LAZY_EXPUNGE=1 ;;
    *) break ;;
  esac
  shift
done
usage="usage: $0 [--api] [--lazy-expunge] maildir|mbox|sdbox|mdbox MILTER SWEEP CTL"
FORMAT=${1:?$usage}
CTL=${4:?$usage}
shift
export PF_MAIL_FORMAT=$FORMAT
if [ "$API" = 1 ]; then
  PF_DOVEADM_API_KEY=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  # The commands the sweeper sends over the API (sweeper/dovecot/http_doveadm.hpp), no more.
  PF_DOVEADM_ALLOWED_COMMANDS="user,mailbox list,mailbox status,mailbox create,fetch,expunge,save,flags add,purge,mailbox cache purge,force-resync"
  export PF_DOVEADM_API_KEY PF_DOVEADM_ALLOWED_COMMANDS
fi
. "$HERE/lib/sweep.sh"

sweep_e2e_begin "rm-dove-$FORMAT" "$1" "$2" -- faketime doveadm
# shellcheck disable=SC2034  # read by sweep_at (lib/sweep.sh)
[ "$API" = 1 ] || SWEEP_AS=root
# The sweep's temporary files (the local doveadm's staging Maildirs) go here, to be checked.
SWEEP_TMPDIR=$W/sweep-tmp
mkdir -p "$SWEEP_TMPDIR"
[ "$API" = 0 ] || chown "$PF_MAIL_UID:$PF_MAIL_GID" "$SWEEP_TMPDIR"

T=$SWEEP_TAG
SHARED_USER=info@respectphoneline.test
GONE_USER="gone-$T@respectphoneline.test"
IN1_ID="dv-in1-$T@outside.example"    # to the helpline: destroyed on the date
IN2_ID="dv-in2-$T@outside.example"    # to the helpline and alice, who deletes hers
IN3_ID="dv-in3-$T@outside.example"    # to the helpline and bob, who deletes his
HELD_ID="dv-held-$T@outside.example"  # held: kept past the date
REPLY_ID="dv-reply-$T@respectphoneline.test"
OWN_ID="dv-own-$T@respect.test"       # alice's own mail: never touched
# A reply whose Message-ID doveadm cannot give back as it is: invalid UTF-8 (which its JSON
# replaces), a quote and a backslash (which it escapes). Bob's client saves the copy.
BAD_ID=$(printf 'dv-bad\xff\xfe"q\\-%s@respectphoneline.test' "$T")
BAD_HEX=$(printf '%s' "<$BAD_ID>" | od -An -tx1 | tr -d ' \n')

# --- mail through Postfix, the milter and Dovecot's LMTP ----------------------------------

sweep_deliver in1 "$IN1_ID" "$SHARED_USER"
sweep_deliver in2 "$IN2_ID" "$SHARED_USER,alice@respect.test"
sweep_deliver in3 "$IN3_ID" "$SHARED_USER,bob@respect.test"
sweep_deliver held "$HELD_ID" "$SHARED_USER"
for id in "$IN1_ID" "$IN2_ID" "$IN3_ID" "$HELD_ID"; do
  wait_until 30 "[ \"\$(pf_count $SHARED_USER INBOX '$id')\" = 1 ]" || fail "delivered through LMTP into the helpline's INBOX: $id"
done
wait_until 30 "[ \"\$(pf_count alice@respect.test INBOX '$IN2_ID')\" = 1 ]" || fail "delivered into alice's INBOX"
wait_until 30 "[ \"\$(pf_count bob@respect.test INBOX '$IN3_ID')\" = 1 ]" || fail "delivered into bob's INBOX"
assert_file_matches "$PF_LOG" "to=<$SHARED_USER>, relay=[^ ]*lmtp-postfix\\].*status=sent" "Postfix delivered through Dovecot's LMTP"

# The reply leaves through the submission port, from the helpline's address.
swaks --silent 2 --server "127.0.0.1:$PF_SUBMISSION_PORT" --auth PLAIN \
  --auth-user "$PF_AUTH_USER" --auth-password "$PF_AUTH_PASS" --helo staff.respect.test \
  --from "$SHARED_USER" --to someone@outside.example \
  --header "Message-Id: <$REPLY_ID>" --header "Subject: Re: $(sweep_tokens reply | cut -d' ' -f1)" \
  --body "Our advice ($(sweep_tokens reply | cut -d' ' -f2))."
wait_for 30 sh -c "grep -l '$REPLY_ID' $SINK_DIR/* >/dev/null 2>&1" || fail "the reply left for the outside"
assert_eq "respect-phoneline|outbound|$RETAIN" \
  "$(rm_sql "SELECT lines, direction, retain_until FROM messages WHERE hex(digest) = '$(rm_digest "<$REPLY_ID>")'")" \
  "the reply is indexed as outbound"
swaks --silent 2 --server "127.0.0.1:$PF_SUBMISSION_PORT" --auth PLAIN \
  --auth-user "$PF_AUTH_USER" --auth-password "$PF_AUTH_PASS" --helo staff.respect.test \
  --from "$SHARED_USER" --to someone@outside.example \
  --header "Message-Id: <$BAD_ID>" --header "Subject: Re: $(sweep_tokens bad | cut -d' ' -f1)" \
  --body "Our advice ($(sweep_tokens bad | cut -d' ' -f2))."
wait_for 30 sh -c "grep -l 'dv-bad' $SINK_DIR/* >/dev/null 2>&1" || fail "the reply with invalid UTF-8 in its Message-ID left"

# --- staff over IMAP, as their mail clients act ----------------------------------------------

# The client's copy of the reply carries a received date of its own (three days ago) and
# flags, which the move must keep.
SENT_DATE=$(date -d '3 days ago 10:11:12' +%s)
pf_imap alice@respect.test "
import imaplib
M.create('Sent')
M.create('\"Deleted Items\"')
reply = b'From: Respect Phoneline <$SHARED_USER>\r\nTo: someone@outside.example\r\nSubject: Re: $(sweep_tokens reply | cut -d' ' -f1)\r\nMessage-ID: <$REPLY_ID>\r\n\r\nOur advice ($(sweep_tokens reply | cut -d' ' -f2)).\r\n'
assert M.append('Sent', r'(\Seen \Flagged)', imaplib.Time2Internaldate($SENT_DATE), reply)[0] == 'OK'
own = b'From: Alice <alice@respect.test>\r\nTo: friend@example.net\r\nSubject: $(sweep_tokens own | cut -d' ' -f1)\r\nMessage-ID: <$OWN_ID>\r\n\r\nSee you ($(sweep_tokens own | cut -d' ' -f2)).\r\n'
assert M.append('Sent', r'(\Seen)', None, own)[0] == 'OK'
M.select('INBOX')
uid = M.uid('SEARCH', 'HEADER', 'Message-ID', '$IN2_ID')[1][0].split()[0]
assert M.uid('MOVE', uid, '\"Deleted Items\"')[0] == 'OK'"
pf_imap bob@respect.test "
M.create('Trash')
M.create('Sent')
bad = b'From: Respect Phoneline <$SHARED_USER>\r\nTo: someone@outside.example\r\nSubject: Re: $(sweep_tokens bad | cut -d' ' -f1)\r\nMessage-ID: ' + bytes.fromhex('$BAD_HEX') + b'\r\n\r\nOur advice ($(sweep_tokens bad | cut -d' ' -f2)).\r\n'
assert M.append('Sent', r'(\Seen)', None, bad)[0] == 'OK'
M.select('INBOX')
uid = M.uid('SEARCH', 'HEADER', 'Message-ID', '$IN3_ID')[1][0].split()[0]
assert M.uid('MOVE', uid, 'Trash')[0] == 'OK'"
assert_eq "1 1 1 0" "$(pf_count alice@respect.test Sent "$REPLY_ID") $(pf_count alice@respect.test 'Deleted Items' "$IN2_ID") \
$(pf_count bob@respect.test Trash "$IN3_ID") $(pf_count alice@respect.test INBOX "$IN2_ID")" \
  "staff filed their copies: the reply in alice's Sent, IN2 in her Deleted Items, IN3 in bob's Trash"

# Staff read the helpline's mail: their client downloads it whole, which also fills
# Dovecot's index cache with its headers (a residue the sweep must clear).
VIEW_DIR=$W/views
mkdir -p "$VIEW_DIR"
view() { # NAME USER: the user's IMAP view, saved as $VIEW_DIR/NAME.USER.json; status of the download
  pf_imap_view "$2" >"$VIEW_DIR/$1.$2.json" 2>"$VIEW_DIR/$1.$2.err"
}
# viewq NAME USER EXPR: a Python expression over the view v, printed.
viewq() {
  python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$VIEW_DIR/$1.$2.json" "$3"
}
ids() { viewq "$1" "$2" "sorted(m['message_id'] for m in v.get('$3', []))"; }
all_ids() { viewq "$1" "$2" "sorted(m['message_id'] for f in v.values() for m in f)"; }
plist() { python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$@"; }
pf_imap $SHARED_USER "
M.select('INBOX')
assert M.fetch('1:*', '(ENVELOPE BODY[])')[0] == 'OK'"
assert_cmd "the helpline's mail downloads over IMAP" view start "$SHARED_USER"
assert_eq "$RETAIN" "$(viewq start $SHARED_USER "sorted(set(m['x_retain_until'] for m in v['INBOX']))[0]")" \
  "staff see X-Retain-Until on the helpline's mail"

# --- the sweeper's config ---------------------------------------------------------------------

if [ "$API" = 1 ]; then
  KEY_FILE=$W/sweep/doveadm-api.key
  endpoint() { # KEY_FILE
    printf '[[sweep.dovecot]]\nname = "local"\nurl = "http://127.0.0.1:%s/doveadm/v1"\napi_key_file = "%s"\ntimeout_seconds = 60\n' \
      "$PF_DOVEADM_PORT" "$1"
  }
else
  endpoint() { sweep_dovecot_local; }
fi
config() { # EXTRA-TOML...: the endpoint, the helpline's shared user and the staff mask, then EXTRA
  sweep_config '[sweep]' "metrics_file = \"$W/sweep/retention.prom\"" \
    "$(endpoint "${KEY_FILE:-}")" \
    "$(sweep_dovecot_mailbox "$SHARED_USER" shared respect-phoneline)" \
    "$(sweep_dovecot_mailbox '*@respect.test' personal)" "$@"
}
if [ "$API" = 1 ]; then
  mkdir -p "$W/sweep"
  printf '%s' "$PF_DOVEADM_API_KEY" >"$KEY_FILE"
  chown "$PF_MAIL_UID" "$KEY_FILE"
  chmod 0600 "$KEY_FILE"
fi
config

state_of() { rm_sql "SELECT group_concat(state) FROM messages WHERE hex(digest) = '$(rm_digest "<$1>")'"; }
line_count() { sweep_json "d['lines'].get('respect-phoneline', {}).get('$1', 0)"; }
not_read() { sweep_json "sorted(e['entry'] for e in d['mailboxes_not_read'])"; }

# Nothing a run writes names a person or a message: no address, Message-ID or subject.
PRIVATE=(alice@respect.test bob@respect.test "$IN1_ID" "$IN2_ID" "$IN3_ID" "$HELD_ID" "$REPLY_ID" "$OWN_ID"
  dv-bad "subject-" "$PF_MAIL_DIR")
# Entries are named by their number, not by the addresses they hold.
ENTRY_USERS=("$SHARED_USER" "$GONE_USER")
found_in_output() { # STRING...: the run's outputs that contain any of them
  local f p
  for f in "$W/sweep/out.json" "$W/sweep/err" "$W/sweep/sweep.log"; do
    for p in "$@"; do
      if grep -qF -- "$p" "$f" 2>/dev/null; then echo "$(basename "$f") names $p"; fi
    done
  done
}
names_nothing() { # WHEN: after each run, its summary, stderr and the log so far
  assert_eq "" "$(found_in_output "${PRIVATE[@]}")" \
    "$1: the summary, stderr and log name no staff member, Message-ID, subject or path"
  assert_eq "" "$(found_in_output "${ENTRY_USERS[@]}")" \
    "$1: the summary, stderr and log name no mailbox's user address (entries go by number)"
}
# check_says ok|error N MSG: `retentionctl check` on the sweep's config has a finding of that
# kind for [[sweep.mailbox]] number N (an ok one says it goes through doveadm).
check_says() {
  local want="^$1: \\[\\[sweep\\.mailbox\\]\\] number $2[^0-9]"
  [ "$1" != ok ] || want+=".*doveadm"
  "$CTL" -c "$W/sweep/retention.toml" check >"$W/sweep/check.out" 2>&1 || true
  assert_file_matches "$W/sweep/check.out" "$want" "$3"
}
# The local doveadm runs as root: whatever it leaves in the store must be the mail user's.
owned_right() {
  assert_eq "" "$(find "$PF_MAIL_DIR" ! -uid "$PF_MAIL_UID" | head -5)" \
    "$1: every file in the store belongs to the mail store's user"
}

# --- a wrong API key -----------------------------------------------------------------------

if [ "$API" = 1 ]; then
  GOOD_KEY_FILE=$KEY_FILE
  KEY_FILE=$W/sweep/wrong.key
  printf 'not-the-key' >"$KEY_FILE"
  chown "$PF_MAIL_UID" "$KEY_FILE"
  chmod 0600 "$KEY_FILE"
  config
  sweep_at "$DAY_BEFORE 02:00:00"
  assert_eq 4 "$SWEEP_RC" "a wrong API key: the run ends with the skip code"
  sweep_show_failure
  assert_eq "[1, 2]" "$(not_read)" "a wrong API key: both entries are reported not read"
  assert_file_contains "$W/sweep/sweep.log" "[[sweep.mailbox]] number 1" "a wrong API key: the log names the entry"
  if grep -qiE 'api key|unauthori[sz]ed|401|refused|denied' "$W/sweep/sweep.log"; then
    pass "a wrong API key: the log says the key was refused"
  else
    fail "a wrong API key: the log says the key was refused" "$(cat "$W/sweep/sweep.log")"
  fi
  assert_eq "0" "$(line_count moved)" "a wrong API key: nothing moved"
  assert_eq "1" "$(pf_count alice@respect.test Sent "$REPLY_ID")" "a wrong API key: the reply is still in alice's Sent"
  names_nothing "a wrong API key"
  KEY_FILE=$GOOD_KEY_FILE
  config
fi

# --- the day before the retention date ------------------------------------------------------

if [ "$API" = 0 ]; then
  # A run killed (SIGKILL: the OOM killer, a reboot) when a move has put its copy into the
  # helpline's Sent folder but not yet removed the original: the local doveadm, except
  # that the first expunge asked for kills the sweep instead. The next run finishes the
  # move without a second copy.
  cat >"$W/doveadm-killing" <<EOF
#!/bin/sh
case " \$* " in
  *" expunge "*)
    if [ ! -e "$W/killed" ]; then
      : >"$W/killed"
      kill -KILL "\$PPID"
      exit 75
    fi ;;
esac
exec $(command -v doveadm) "\$@"
EOF
  chmod 0755 "$W/doveadm-killing"
  sed -i "s|^doveadm = .*|doveadm = \"$W/doveadm-killing\"|" "$W/sweep/retention.toml"
  sweep_at "$DAY_BEFORE 02:30:00"
  # (faketime waits for the sweep as its child, so the status seen here is faketime's.)
  assert_cmd "a run was killed in the middle of a move (before the original went)" test -e "$W/killed"
  assert_ne 0 "$SWEEP_RC" "the killed run did not end well"
  config
fi

sweep_at "$DAY_BEFORE 03:00:00"
assert_cmd "the day before: the helpline's mailbox downloads over IMAP" view before "$SHARED_USER"
assert_cmd "the day before: alice's mailbox downloads over IMAP" view before alice@respect.test
assert_cmd "the day before: bob's mailbox downloads over IMAP" view before bob@respect.test

# The reply with invalid UTF-8 in its Message-ID: doveadm's JSON cannot carry its bytes.
# Locally it moves byte for byte (fetched again through the pager formatter); over the API
# it stays where it is as a reported skip, to be destroyed there on its date. Never may a
# changed copy arrive.
bad_copies() { # VIEW USER: copies in USER's Sent with the Message-ID exactly, then with it at all
  viewq "$1" "$2" "sum(m['message_id'].encode('utf-8', 'surrogateescape') == bytes.fromhex('$BAD_HEX') for m in v.get('Sent', []))"
  viewq "$1" "$2" "sum('dv-bad' in m['message_id'] for m in v.get('Sent', []))"
}
BAD_MOVED=0
case "$(bad_copies before "$SHARED_USER" | paste -sd' ')/$(bad_copies before bob@respect.test | paste -sd' ')" in
  "1 1/0 0")
    BAD_MOVED=1
    pass "the reply with invalid UTF-8 in its Message-ID moved, its bytes as they were" ;;
  "0 0/1 1")
    pass "the reply with invalid UTF-8 in its Message-ID stays in bob's Sent as it was (not moved: reported)" ;;
  *)
    fail "the reply with invalid UTF-8 in its Message-ID moved intact or stayed intact" \
      "$(cat "$VIEW_DIR/before.$SHARED_USER.json" "$VIEW_DIR/before.bob@respect.test.json")" ;;
esac
assert_eq "$((1 - API))" "$BAD_MOVED" "the reply with invalid UTF-8 moves locally, and stays over the API"
assert_eq "$((1 - BAD_MOVED))" "$(line_count skipped)" "the day before: a copy not moved is counted as skipped"
assert_eq "$((4 * (1 - BAD_MOVED)))" "$SWEEP_RC" "the day before: the sweep ends 0 (4 when it reports a copy it would not move)"
sweep_show_failure
assert_eq "$DAY_BEFORE" "$(sweep_json 'd["today"]')" "the day before: the sweep's today is faketime's date"
if [ "$API" = 1 ]; then
  assert_eq "$((1 + BAD_MOVED))" "$(line_count moved)" "the day before: the summary counts the moves"
else
  # The killed run had put a copy into the helpline's Sent; this run finishes that move (the
  # views show each reply once, and only in the helpline's Sent).
  assert_ne "0" "$(line_count moved)" "the day before, after the killed run: the summary counts the moves it finished"
fi
assert_eq "0" "$(line_count destroyed)" "the day before: nothing destroyed"
# Kept: the four in the helpline's INBOX, the two in deleted folders, a reply not moved, and
# (after the killed run) the copy that run had already put into the helpline's Sent.
assert_eq "$((7 - BAD_MOVED + (1 - API)))" "$(line_count kept)" "the day before: the helpline copies not moved are kept"
assert_eq "[]" "$(not_read)" "the day before: every mailbox was read"
# (The first move makes the helpline's Sent folder, which the summary rightly tells.)
assert_eq "[]" "$(sweep_json '[w for w in d["warnings"] if "Sent folder" not in w]')" \
  "the day before: the summary has no warning (but the new Sent folder's)"
names_nothing "the day before"
[ "$API" = 1 ] || owned_right "the day before"

assert_eq "$(plist "<$HELD_ID>" "<$IN1_ID>" "<$IN2_ID>" "<$IN3_ID>")" "$(ids before $SHARED_USER INBOX)" \
  "the day before: the helpline's INBOX still holds its four messages"
assert_eq "$((1 + BAD_MOVED))" "$(viewq before $SHARED_USER "len(v.get('Sent', []))")" \
  "the day before: the helpline's Sent folder holds each moved reply once"
moved_reply() { viewq before $SHARED_USER "[m for m in v['Sent'] if m['message_id'] == '<$REPLY_ID>'][0]['$1']"; }
assert_eq "['\\\\Flagged', '\\\\Seen']" "$(moved_reply flags)" "the moved copy keeps its flags"
if [ "$API" = 0 ]; then
  assert_eq "$SENT_DATE" "$(moved_reply internaldate)" "the moved copy keeps its received date (INTERNALDATE)"
fi
assert_eq "$RETAIN" "$(moved_reply x_retain_until)" "the moved copy carries its retention date"
assert_eq "respect-phoneline" "$(moved_reply x_helpline_line)" "the moved copy carries its line"
assert_eq "['<$OWN_ID>']" "$(ids before alice@respect.test Sent)" "the day before: alice's Sent keeps her own mail only"
assert_eq "['<$IN2_ID>']" "$(ids before alice@respect.test 'Deleted Items')" "the day before: alice's deleted copy is kept"
assert_eq "['<$IN3_ID>']" "$(ids before bob@respect.test Trash)" "the day before: bob's deleted copy is kept"

# A second run the same night finds the moves done: no second copy.
sweep_at "$DAY_BEFORE 04:00:00"
assert_eq "$((4 * (1 - BAD_MOVED)))" "$SWEEP_RC" "the day before, again: the sweep ends as the first did"
sweep_show_failure
assert_eq "0" "$(line_count moved)" "the day before, again: nothing more to move"
assert_eq "1" "$(pf_count $SHARED_USER Sent "$REPLY_ID")" "the day before, again: still one copy in the helpline's Sent"

# An advisor holds one message.
assert_cmd "retentionctl holds a message" "$CTL" -c "$W/sweep/retention.toml" hold "<$HELD_ID>" --reason safeguarding

# --- on the date, with Dovecot down -----------------------------------------------------------

pf_dovecot_stop
sweep_at "$RETAIN 01:00:00"
assert_eq 4 "$SWEEP_RC" "Dovecot down: the run ends with the skip code"
sweep_show_failure
assert_eq "[1, 2]" "$(not_read)" "Dovecot down: both entries are reported not read"
assert_eq "0" "$(line_count destroyed)" "Dovecot down: nothing destroyed"
for id in "$IN1_ID" "$IN2_ID" "$IN3_ID" "$REPLY_ID"; do
  assert_eq present "$(state_of "$id")" "Dovecot down: no row written off ($id)"
done
names_nothing "Dovecot down"
check_says error 1 "retentionctl check: Dovecot down is an error for the first entry"
check_says error 2 "retentionctl check: Dovecot down is an error for the second entry"
pf_dovecot_start || fail "Dovecot starts again"

# --- on the date, with a user that does not exist and a mask that lists nobody ---------------

config "$(sweep_dovecot_mailbox "$GONE_USER" shared respect-phoneline)" \
  "$(sweep_dovecot_mailbox '*@nowhere.test' personal)"
sweep_at "$RETAIN 02:00:00"
assert_eq 4 "$SWEEP_RC" "a missing user: the run ends with the skip code"
sweep_show_failure
assert_eq "[3, 4]" "$(not_read)" "a missing user and an empty mask: those two entries are reported not read"
assert_file_contains "$W/sweep/sweep.log" "[[sweep.mailbox]] number 3" "the log names the missing user's entry"
assert_file_contains "$W/sweep/sweep.log" "[[sweep.mailbox]] number 4" "the log names the empty mask's entry"
if [ "${PF_LAZY_EXPUNGE:-0}" = 1 ]; then
  # Besides, any copy lazy_expunge kept of a moved original (in the staff member's EXPUNGED).
  assert_eq "True" "$(sweep_json "d['lines']['respect-phoneline']['destroyed'] >= 7")" \
    "a missing user: the copies found elsewhere are destroyed"
else
  assert_eq "7" "$(line_count destroyed)" "a missing user: the copies found elsewhere are destroyed"
fi
assert_eq "1" "$(line_count held)" "a missing user: the held message is held"
for id in "$IN1_ID" "$IN2_ID" "$IN3_ID" "$REPLY_ID"; do
  assert_eq present "$(state_of "$id")" "a missing user: no row written off ($id)"
done
assert_ne "0" "$(sweep_json 'd.get("rows_mark_deferred", 0)')" "a missing user: the summary says rows wait for a complete run"
names_nothing "a missing user"
check_says ok 1 "retentionctl check: the helpline's entry is swept through doveadm"
check_says ok 2 "retentionctl check: the staff entry is swept through doveadm"
check_says error 3 "retentionctl check: the missing user is an error"
check_says error 4 "retentionctl check: the mask that lists nobody is an error"

# --- on the date --------------------------------------------------------------------------------

config
sweep_at "$RETAIN 03:00:00"
assert_eq 0 "$SWEEP_RC" "on the date: the sweep ends 0"
sweep_show_failure
assert_eq "[]" "$(not_read)" "on the date: every mailbox was read"
assert_eq "[]" "$(sweep_json 'd["warnings"]')" "on the date: the summary has no warning"
assert_eq "1" "$(line_count held)" "on the date: the held message is held"
for id in "$IN1_ID" "$IN2_ID" "$IN3_ID" "$REPLY_ID"; do
  assert_eq destroyed "$(state_of "$id")" "on the date: the row is written off ($id)"
done
assert_eq present "$(state_of "$HELD_ID")" "on the date: the held message's row stays"
assert_file_contains "$W/sweep/retention.prom" 'retention_sweep_last_exit_code 0' "the metrics file says exit 0"
names_nothing "on the date"
[ "$API" = 1 ] || owned_right "on the date"

# What staff see: once as they are, then after Dovecot rebuilt every index from the store.
check_views() { # NAME
  assert_cmd "$1: the helpline's mailbox downloads over IMAP" view "$1" "$SHARED_USER"
  assert_cmd "$1: alice's mailbox downloads over IMAP" view "$1" alice@respect.test
  assert_cmd "$1: bob's mailbox downloads over IMAP" view "$1" bob@respect.test
  assert_eq "['<$HELD_ID>']" "$(ids "$1" $SHARED_USER INBOX)" "$1: the helpline's INBOX holds the held message alone"
  assert_eq "[]" "$(ids "$1" $SHARED_USER Sent)" "$1: the helpline's Sent folder is empty"
  assert_eq "['<$OWN_ID>']" "$(ids "$1" alice@respect.test Sent)" "$1: alice's own mail is untouched"
  assert_eq "['\\\\Seen']" "$(viewq "$1" alice@respect.test "v['Sent'][0]['flags']")" "$1: alice's own mail keeps its flags"
  assert_eq "[]" "$(ids "$1" alice@respect.test 'Deleted Items')" "$1: alice's Deleted Items is empty"
  assert_eq "[]" "$(ids "$1" alice@respect.test INBOX)" "$1: alice's INBOX is empty"
  assert_eq "[]" "$(ids "$1" bob@respect.test Trash)" "$1: bob's Trash is empty"
  assert_eq "[]" "$(ids "$1" bob@respect.test Sent)" "$1: bob's Sent is empty"
  # Nothing anywhere else either (a staging folder, lazy_expunge's copies, a stray copy).
  assert_eq "['<$HELD_ID>'] ['<$OWN_ID>'] []" \
    "$(for u in "$SHARED_USER" alice@respect.test bob@respect.test; do all_ids "$1" "$u"; done | paste -sd' ')" \
    "$1: every folder of the three users together holds the held message and alice's own mail alone"
}
check_views after
# (force-resync of dbox storage always warns that it rebuilds its indexes: not an error.)
resync() {
  local out rc=0
  out=$(pf_doveadm force-resync -u "$1" '*' 2>&1) || rc=$?
  echo "$rc $(grep -E '(Error|Panic|Fatal):' <<<"$out" | head -3)"
}
for u in "$SHARED_USER" alice@respect.test bob@respect.test; do
  assert_eq "0 " "$(resync "$u")" "doveadm force-resync of $u: no error"
done
check_views resynced
# Dovecot's errors, but for those the bad input above caused on purpose.
assert_eq "" "$(grep -E ' (Error|Panic|Fatal): ' "$PF_DOVECOT_LOG" |
  grep -vE "Invalid authentication attempt to HTTP API|\(127\.0\.0\.1,$GONE_USER\): Error: User doesn't exist" | head -5)" \
  "Dovecot logged no error"

# No text of a destroyed message is left in the store (files, indexes, caches, mdbox
# storage), beside the index or in the sweep's temporary folder (a staging Maildir, even
# one a killed run left). One place is out of the sweep's reach:
# a staff member's own INBOX, whose index cache may still hold the headers of what their
# client moved out of it (into Deleted Items) long before; the sweep never opens that folder.
own_inbox_index="^$PF_MAIL_DIR/respect\.test/[^/]+/(dovecot\.index[^/]*|mail/\.imap/INBOX/[^/]*|[sm]dbox/mailboxes/INBOX/dbox-Mails/dovecot\.index[^/]*)\$"
left=""
for name in in1 in2 in3 reply bad; do
  for tok in $(sweep_tokens "$name"); do
    left+=$(grep -rlaF -- "$tok" "$PF_MAIL_DIR" "$(dirname "$RM_INDEX")" "$SWEEP_TMPDIR" 2>/dev/null | grep -vE "$own_inbox_index" |
      sed "s|^|$tok in |" || true)$'\n'
  done
done
assert_eq "" "$(echo "$left" | sed '/^$/d')" "no trace of a destroyed message is left in the store ($FORMAT)"
assert_eq "" "$(ls -A "$SWEEP_TMPDIR")" "the sweep left nothing in its temporary folder"
assert_ne "" "$(grep -rlaF -- "$(sweep_tokens held | cut -d' ' -f2)" "$PF_MAIL_DIR" || true)" "the held message is still stored"

e2e_finish
