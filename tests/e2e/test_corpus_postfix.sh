#!/usr/bin/env bash
# Odd but real-world-shaped messages, end to end: RFC 5322's Appendix A examples, obsolete
# syntax, bare LF and CRLF files, a last line without a newline, MIME reports, 8-bit headers,
# a body without a header, a header without a body, a header block of hundreds of fields,
# every awkward Message-ID shape, and the inputs of the fuzz corpora that are messages.
#
# Each message makes two journeys through the real Postfix and the real milter:
#   inbound  an outsider writes to the helpline: the delivered copy carries each of our four
#            headers once, and the index holds exactly one row for it;
#   reply    staff send it from the helpline to an outsider (SMTP AUTH), and their mail client
#            saves the same bytes, none of our headers, in alice's personal Sent folder.
# Then the real retention-sweep, as the mail store's user, under faketime: the day before the
# retention date nothing is destroyed and every personal Sent copy moves into the helpline's
# Sent folder (our headers once); on the date every copy goes, nothing is skipped, every row
# is marked destroyed, and alice's own mail in her Sent folder is left exactly as it was.
#
# Two more stories: an outsider who picks the Message-ID of a private message alice sent
# (her copy must never be moved or destroyed), and a web form that sends every message with
# one Message-ID, a few months apart (the milter's clock set by faketime for the second):
# each copy goes on its own date.
#
# Every failed check names its case (CASE: step); the summary at the end lists the cases that
# failed. CORPUS_ONLY="name ..." runs chosen cases (plus the two stories).
# Usage: test_corpus_postfix.sh PATH/TO/retention-milter PATH/TO/retention-sweep
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/sweep.sh"
CORPUS=$HERE/corpus
FUZZ_CORPUS=$(cd "$HERE/../fuzz/corpus" && pwd)

sweep_e2e_begin rm-corpus "$@" -- faketime

ALICE_SENT=$ALICE/.Sent
OUTSIDER=someone@outside.example
HELPLINE=info@respectphoneline.test

# --- the cases ----------------------------------------------------------------------------
# Each case is a file $W/cases/NAME.eml; "{id}" in it becomes a token unique to the case and
# the journey, so that no two messages share a Message-ID by accident.

mkdir -p "$W/cases"
case_file() { printf '%s/cases/%s.eml' "$W" "$1"; }

add_corpus_cases() {
  local f
  for f in "$CORPUS"/*.eml; do cp "$f" "$(case_file "$(basename "$f" .eml)")"; done
}

# A.1.1 with CRLF line ends, with bare LF (the repository's form, named for the test) and
# with no newline after its last line.
add_line_end_cases() {
  local src=$CORPUS/rfc5322-a2.1-message.eml
  sed 's/$/\r/' "$src" >"$(case_file lines-crlf)"
  cp "$src" "$(case_file lines-bare-lf)"
  printf '%s' "$(cat "$src")" >"$(case_file lines-no-final-newline)"
  printf '%s' "$(sed 's/$/\r/' "$src")" >"$(case_file lines-crlf-no-final-newline)"
}

# Hundreds of fields, each far under Postfix's header_size_limit (100 KB), together more than
# the 256 KB the sweeper reads of a header block; the Message-ID comes last. (Not hundreds of
# Received fields: Postfix bounces a message with more than hopcount_limit = 50.)
add_huge_header_case() {
  local f i pad
  f=$(case_file header-huge)
  pad=$(printf '%0400d' 0 | tr 0 x)
  {
    echo "From: Many Hops <many.hops@example.org>"
    echo "To: $HELPLINE"
    echo "Subject: a header block of 700 fields"
    for ((i = 0; i < 700; i++)); do
      echo "X-Filter-Trace: filter$i.example.org checked id $i-$pad;"
      echo " Sat, 5 Dec 2026 10:00:00 +0000"
    done
    echo "Message-ID: <huge.{id}@example.org>"
    echo
    echo "A body after a very long header."
  } >"$f"
}

# The fuzz corpora's inputs that are messages: the header harness's are header lines; the
# Maildir harness's are a cap byte, a file name or folder line, then the file's bytes. Store
# formats (gzip, mail_crypt), inputs with NUL bytes and empty ones are no mail a client sends
# or saves.
add_fuzz_cases() {
  local f name
  for f in "$FUZZ_CORPUS"/headers/*; do
    cp "$f" "$(case_file "fuzz-headers-$(basename "$f")")"
  done
  for f in "$FUZZ_CORPUS"/maildir/*; do
    name=$(basename "$f")
    case "$name" in crypted | gzip) continue ;; esac
    tail -c +2 "$f" | sed 1d >"$W/fuzz.tmp"
    if [ ! -s "$W/fuzz.tmp" ] || [ "$(tr -d '\000' <"$W/fuzz.tmp" | wc -c)" != "$(wc -c <"$W/fuzz.tmp")" ]; then
      continue
    fi
    mv "$W/fuzz.tmp" "$(case_file "fuzz-maildir-$name")"
  done
}

add_corpus_cases
add_line_end_cases
add_huge_header_case
add_fuzz_cases
CASES=()
for f in "$W"/cases/*.eml; do
  name=$(basename "$f" .eml)
  if [ -n "${CORPUS_ONLY:-}" ] && [[ " $CORPUS_ONLY " != *" $name "* ]]; then continue; fi
  CASES+=("$name")
done
echo "# ${#CASES[@]} cases: ${CASES[*]}"

# --- per-case bookkeeping -------------------------------------------------------------------

declare -A FAILED_AT=()   # case -> the steps it failed, in order
declare -A IN_QID RE_QID IN_FILE SENT_NAME LINKABLE

case_check() {  # case_check CASE STEP ok|fail [DETAIL]: one result, named for its case
  local c=$1 step=$2 ok=$3 detail=${4:-}
  if [ "$ok" = ok ]; then
    pass "$c: $step"
  else
    fail "$c: $step" "$detail"
    FAILED_AT[$c]+="${FAILED_AT[$c]:+; }$step"
  fi
}

case_eq() {  # case_eq CASE STEP EXPECTED ACTUAL
  if [ "$3" = "$4" ]; then case_check "$1" "$2" ok; else
    case_check "$1" "$2" fail "expected: '$3'"$'\n'"actual:   '$4'"
  fi
}

# The header block of a message file (up to its first empty line; CR ignored).
header_block() { awk '{ sub(/\r$/, "") } /^$/ { exit } { print }' "$1"; }

# How many fields named NAME (any case, blanks allowed before the colon) its header block has.
count_field() { header_block "$1" | grep -ciE "^$2[ \t]*:" || true; }

# The id token of a case's journey, and the message bytes it sends.
journey_bytes() {  # journey_bytes CASE in|re OUT
  local token="$1.$2.$$"
  python3 - "$(case_file "$1")" "$token" "$3" <<'PY'
import sys
data = open(sys.argv[1], "rb").read().replace(b"{id}", sys.argv[2].encode())
open(sys.argv[3], "wb").write(data)
PY
}

# Sends FILE's bytes with swaks; prints Postfix's queue id (empty when not accepted). The
# bytes go as they are (swaks would read a one-line file as a file name): line ends made CRLF
# unless RAW (a file with bare LF line ends then reaches Postfix so, as a careless client
# sends it: Postfix takes a bare LF for a line end), lines starting with a dot doubled.
send_file() {  # send_file FILE RAW(0|1) PORT SWAKS-ARGS...
  local file=$1 raw=$2 port=$3 out
  shift 3
  python3 - "$file" "$raw" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
if sys.argv[2] != "1":
    d = re.sub(rb"\r?\n", b"\r\n", d)
if not d.endswith(b"\n"):
    d += b"\r\n"
d = re.sub(rb"(^|\n)\.", rb"\1..", d)
open(sys.argv[1] + ".smtp", "wb").write(d + b".\r\n")
PY
  out=$(swaks --server "127.0.0.1:$port" "$@" --no-data-fixup --data "@$file.smtp" 2>&1 || true)
  printf '%s\n' "$out" >"$file.swaks"
  printf '%s\n' "$out" | sed -nE 's/.*<- +250 .*queued as ([0-9A-Za-z]+).*/\1/p' | tail -1
}

raw_case() { case "$1" in lines-*) echo 1 ;; *) echo 0 ;; esac; }

send_inbound() {  # send_inbound FILE RAW: as an outsider (127.0.0.2 is outside mynetworks)
  send_file "$1" "$2" "$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
    --from "$OUTSIDER" --to "$HELPLINE"
}

send_reply() {  # send_reply FILE RAW: staff, from the helpline's address, to the outsider
  send_file "$1" "$2" "$PF_SUBMISSION_PORT" --auth PLAIN --auth-user "$PF_AUTH_USER" \
    --auth-password "$PF_AUTH_PASS" --helo staff.respect.test --from "$HELPLINE" --to "$OUTSIDER"
}

# Postfix's Received field names the queue id: the delivered copy of a message, by its id.
delivered_file() {  # delivered_file MAILDIR QUEUEID
  grep -lw -- "$2" "$1"/new/* "$1"/cur/* 2>/dev/null | head -1 || true
}

rows_of() { rm_sql "SELECT count(*) FROM messages WHERE queue_id = '$1'"; }
row_of() { rm_sql "SELECT direction || '|' || retain_until || '|' || state FROM messages WHERE queue_id = '$1'"; }

# A Maildir file of alice's, named as her mail client (through Dovecot) names it.
SEQ=0
save_in_sent() {  # save_in_sent FILE: the name it got in SAVED
  SEQ=$((SEQ + 1))
  SAVED="$(date +%s).M${SEQ}P$$.staff-laptop,S=$(stat -c %s "$1"):2,S"
  cp "$1" "$ALICE_SENT/cur/$SAVED"
  chown "$PF_MAIL_UID:$PF_MAIL_GID" "$ALICE_SENT/cur/$SAVED"
}

# Whether a saved copy names a usable Message-ID: a file with no header block, no
# Message-ID field, or only unusable ones (empty, "<>", a lone "<", white space inside a
# bare id; each value read up to a NUL) cannot be told from the staff member's own mail by
# anything in it: the milter gave the sent message an id of its own, which this copy lacks.
# So the sweeper must leave it where it is.
names_an_id() { "$(e2e_python)" "$E2E_LIB_DIR/names_a_message_id.py" "$1"; }

mkdir -p "$ALICE_SENT"/{cur,new,tmp}
touch "$ALICE_SENT/maildirfolder"
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$ALICE"

# --- the journeys --------------------------------------------------------------------------

for c in "${CASES[@]}"; do
  raw=$(raw_case "$c")
  journey_bytes "$c" in "$W/cases/$c.in"
  IN_QID[$c]=$(send_inbound "$W/cases/$c.in" "$raw")
  [ -n "${IN_QID[$c]}" ] || case_check "$c" "inbound: Postfix and the milter accept it" fail \
    "$(tail -5 "$W/cases/$c.in.swaks")"
  journey_bytes "$c" re "$W/cases/$c.re"
  RE_QID[$c]=$(send_reply "$W/cases/$c.re" "$raw")
  [ -n "${RE_QID[$c]}" ] || case_check "$c" "reply: Postfix and the milter accept it" fail \
    "$(tail -5 "$W/cases/$c.re.swaks")"
  save_in_sent "$W/cases/$c.re"
  SENT_NAME[$c]=$SAVED
  LINKABLE[$c]=yes
  names_an_id "$W/cases/$c.re" || LINKABLE[$c]=""
done
echo "# Sent copies naming no usable Message-ID (the sweeper must leave them as alice's own mail):" \
  "$(for c in "${CASES[@]}"; do [ -n "${LINKABLE[$c]}" ] || printf '%s ' "$c"; done)"

# Alice's own mail in her Sent folder: a private message, and the one whose Message-ID an
# outsider then uses (a web form on a site she wrote to, a mailing list, or malice).
PRIVATE_ID="private.$$@respect.test"
printf 'From: Alice <alice@respect.test>\nTo: a.friend@example.org\nSubject: dinner on Friday\nMessage-ID: <%s>\n\nSee you at eight.\n' \
  "private-other.$$@respect.test" >"$W/private-other.eml"
printf 'From: Alice <alice@respect.test>\nTo: her.bank@example.org\nSubject: my account\nMessage-ID: <%s>\n\nPlease call me back.\n' \
  "$PRIVATE_ID" >"$W/private-collide.eml"
save_in_sent "$W/private-other.eml"
PRIVATE_OTHER=$ALICE_SENT/cur/$SAVED
save_in_sent "$W/private-collide.eml"
PRIVATE_COLLIDE=$ALICE_SENT/cur/$SAVED
printf 'From: Outsider <%s>\nTo: %s\nSubject: hello\nMessage-ID: <%s>\n\nI chose this Message-ID.\n' \
  "$OUTSIDER" "$HELPLINE" "$PRIVATE_ID" >"$W/collide.eml"
COLLIDE_QID=$(send_inbound "$W/collide.eml" 0)
[ -n "$COLLIDE_QID" ] || case_check collide-with-private "inbound: accepted" fail "$(tail -5 "$W/collide.eml.swaks")"

# A web form that reuses one Message-ID: a message today, and one three months on (the
# milter's clock set by faketime, so the index and the stamp say that date).
FORM_ID="contact-form@www.example.org"
LATER=$(date -u -d "$(date -u +%F) +3 months" '+%F 12:00:00')
RETAIN_LATER=$(date -d "$(date -u -d "$LATER" +%F) +6 months" +%F)
printf 'From: Web form <noreply@www.example.org>\nTo: %s\nSubject: contact form\nMessage-ID: <%s>\n\nForm message %s.\n' \
  "$HELPLINE" "$FORM_ID" first >"$W/form1.eml"
printf 'From: Web form <noreply@www.example.org>\nTo: %s\nSubject: contact form\nMessage-ID: <%s>\n\nForm message %s.\n' \
  "$HELPLINE" "$FORM_ID" second >"$W/form2.eml"
FORM1_QID=$(send_inbound "$W/form1.eml" 0)
# libfaketime preloaded, not faketime(1): that forks, and the milter would outlive its stop.
FAKETIME_LIB=$(find /usr/lib -name libfaketime.so.1 -print -quit)
[ -n "$FAKETIME_LIB" ] || fail "libfaketime.so.1 is installed (package libfaketime)"
cat >"$W/milter-later" <<EOF
#!/bin/sh
exec env LD_PRELOAD='$FAKETIME_LIB' FAKETIME='@$LATER' '$MILTER' "\$@"
EOF
chmod 0755 "$W/milter-later"
RM_MILTER_BIN=$W/milter-later rm_milter_restart
FORM2_QID=$(send_inbound "$W/form2.eml" 0)
RM_MILTER_BIN=$MILTER rm_milter_restart
[ -n "$FORM1_QID" ] && [ -n "$FORM2_QID" ] ||
  case_check reused-message-id "inbound: both accepted" fail "$(tail -5 "$W/form1.eml.swaks" "$W/form2.eml.swaks")"

pf_wait_queue_empty 120 || fail "Postfix delivered everything" "$(pf_queue_count) still queued"

# --- what each journey left ------------------------------------------------------------------

check_stamped() {  # check_stamped CASE WHERE FILE DIRECTION DATE
  local c=$1 where=$2 file=$3 dir=$4 date=$5 n got
  for n in X-Helpline-Line X-Helpline-Direction X-Retain-Until X-Retention-Policy; do
    case_eq "$c" "$where: $n once" 1 "$(count_field "$file" "$n")"
  done
  got=$(mail_header "$file" X-Helpline-Direction)
  # A message whose two journeys carry one Message-ID has an inbound and an outbound row:
  # either direction is the truth for its copies.
  [ "$dir" != outbound ] || [ -n "$(id_token_of "$c")" ] || [ "$got" != inbound ] || dir=inbound
  case_eq "$c" "$where: its stamp" "respect-phoneline|$dir|$date|email" \
    "$(mail_header "$file" X-Helpline-Line)|$got|$(mail_header "$file" X-Retain-Until)|$(mail_header "$file" X-Retention-Policy)"
}

id_token_of() { grep -qF '{id}' "$(case_file "$1")" && echo yes || true; }

for c in "${CASES[@]}"; do
  if [ -n "${IN_QID[$c]}" ]; then
    IN_FILE[$c]=$(delivered_file "$SHARED" "${IN_QID[$c]}")
    if [ -n "${IN_FILE[$c]}" ]; then
      case_check "$c" "inbound: delivered" ok
      check_stamped "$c" "inbound copy" "${IN_FILE[$c]}" inbound "$RETAIN"
    else
      case_check "$c" "inbound: delivered" fail "no file names queue id ${IN_QID[$c]}"
    fi
    case_eq "$c" "inbound: one index row" 1 "$(rows_of "${IN_QID[$c]}")"
    case_eq "$c" "inbound: its row" "inbound|$RETAIN|present" "$(row_of "${IN_QID[$c]}")"
  fi
  if [ -n "${RE_QID[$c]}" ]; then
    sink=$(grep -lw -- "${RE_QID[$c]}" "$SINK_DIR"/* 2>/dev/null | head -1 || true)
    if [ -n "$sink" ]; then
      case_check "$c" "reply: left for the outsider" ok
      case_eq "$c" "reply: left without our headers" 0 \
        "$(($(count_field "$sink" X-Helpline-Line) + $(count_field "$sink" X-Retain-Until)))"
    else
      case_check "$c" "reply: left for the outsider" fail "no sink file names ${RE_QID[$c]}"
    fi
    case_eq "$c" "reply: one index row" 1 "$(rows_of "${RE_QID[$c]}")"
    case_eq "$c" "reply: its row" "outbound|$RETAIN|present" "$(row_of "${RE_QID[$c]}")"
  fi
done

COLLIDE_FILE=$(delivered_file "$SHARED" "$COLLIDE_QID")
FORM1_FILE=$(delivered_file "$SHARED" "$FORM1_QID")
FORM2_FILE=$(delivered_file "$SHARED" "$FORM2_QID")
[ -n "$COLLIDE_FILE" ] || case_check collide-with-private "inbound: delivered" fail "queue id $COLLIDE_QID"
if [ -n "$FORM1_FILE" ] && [ -n "$FORM2_FILE" ]; then
  check_stamped reused-message-id "first copy" "$FORM1_FILE" inbound "$RETAIN"
  check_stamped reused-message-id "second copy" "$FORM2_FILE" inbound "$RETAIN_LATER"
  case_eq reused-message-id "the rows: one each, each its own date" \
    "inbound|$RETAIN|present inbound|$RETAIN_LATER|present" "$(row_of "$FORM1_QID") $(row_of "$FORM2_QID")"
else
  case_check reused-message-id "both delivered" fail "queue ids $FORM1_QID $FORM2_QID"
fi
cp "$PRIVATE_OTHER" "$W/private-other.before"
cp "$PRIVATE_COLLIDE" "$W/private-collide.before"

# --- the sweeper -----------------------------------------------------------------------------

# The runs jump from the day before the date to the date, then three months on.
sweep_config '[sweep]' 'max_clock_jump = "1 year"' \
  "$(sweep_mailbox "$SHARED" shared respect-phoneline)" "$(sweep_mailbox "$PF_MAIL_DIR/respect.test/*" personal)"

sweep_on() {  # sweep_on DATE: the night's run, its summary kept by date too
  sweep_at "$1 03:00:00" --list
  cp "$W/sweep/out.json" "$W/sweep/out.$1.json"
  cp "$W/sweep/err" "$W/sweep/err.$1"
}

# The skips the sweeper listed, by file: which case each belongs to.
report_skips() {  # report_skips WHEN
  local skips
  skips=$(sweep_json 'sum(d["skips"].values())' 2>/dev/null || echo '?')
  assert_eq 0 "$skips" "$1: the sweep skipped nothing"
  last_assert_ok || {
    sweep_json 'd["skips"]' >&2 || true
    while IFS=$'\t' read -r why f; do
        [ -n "$f" ] || continue
        c=$(case_of_file "$f")
        echo "       skipped: $c: $why (${f#"$PF_MAIL_DIR"/})" >&2
        [ "$c" = "?" ] || FAILED_AT[$c]+="${FAILED_AT[$c]:+; }$1: skipped ($why)"
    done < <(sweep_json '"\n".join(e["detail"] + "\t" + e["path"] for e in d.get("list", []) if e["action"] == "skip")')
  }
}

# A file the sweeper skipped or left: which case put it there.
case_of_file() {  # case_of_file PATH -> CASE or "?"
  local f=$1 c
  case "$f" in
    "$FORM1_FILE" | "$FORM2_FILE") echo reused-message-id; return ;;
    "$COLLIDE_FILE" | "$PRIVATE_COLLIDE") echo collide-with-private; return ;;
  esac
  for c in "${CASES[@]}"; do
    if [ "${IN_FILE[$c]:-}" = "$f" ]; then echo "$c"; return; fi
    if [ "${SENT_NAME[$c]%%:*}" = "$(basename "${f%%:*}")" ] || [[ "$(basename "$f")" == "${SENT_NAME[$c]%%,*},"* ]]; then
      echo "$c"
      return
    fi
  done
  echo "?"
}

moved_copy() { ls "$SHARED/.Sent/cur/${1%%,*},"* "$SHARED/.Sent/new/${1%%,*},"* 2>/dev/null | head -1 || true; }

# The day before: nothing destroyed, every personal Sent copy moved and stamped.
sweep_on "$DAY_BEFORE"
assert_eq 0 "$SWEEP_RC" "the day before: the sweep ends 0"
last_assert_ok || cat "$W/sweep/err" >&2
report_skips "the day before"
assert_eq 0 "$(sweep_json 'sum(l["destroyed"] for l in d["lines"].values())')" "the day before: nothing destroyed"
declare -A MOVED
for c in "${CASES[@]}"; do
  [ -z "${IN_FILE[$c]:-}" ] || case_check "$c" "day before: inbound copy kept" \
    "$([ -e "${IN_FILE[$c]}" ] && echo ok || echo fail)" "${IN_FILE[$c]} is gone"
  MOVED[$c]=$(moved_copy "${SENT_NAME[$c]}")
  if [ -z "${LINKABLE[$c]}" ]; then
    if [ -z "${MOVED[$c]}" ] && cmp -s "$ALICE_SENT/cur/${SENT_NAME[$c]}" "$W/cases/$c.re"; then
      case_check "$c" "day before: Sent copy naming no Message-ID left as alice's own mail" ok
    else
      case_check "$c" "day before: Sent copy naming no Message-ID left as alice's own mail" fail "moved or changed"
    fi
  elif [ -n "${MOVED[$c]}" ]; then
    case_check "$c" "day before: Sent copy moved to the helpline's Sent" ok
    check_stamped "$c" "moved Sent copy" "${MOVED[$c]}" outbound "$RETAIN"
  else
    where="not found anywhere"
    [ -e "$ALICE_SENT/cur/${SENT_NAME[$c]}" ] && where="still in alice's Sent"
    case_check "$c" "day before: Sent copy moved to the helpline's Sent" fail "$where"
  fi
done
case_check collide-with-private "day before: alice's private copy untouched" \
  "$(cmp -s "$PRIVATE_COLLIDE" "$W/private-collide.before" && echo ok || echo fail)" \
  "$(ls "$ALICE_SENT/cur" | wc -l) files in her Sent; moved: $(grep -l "$PRIVATE_ID" "$SHARED"/.Sent/cur/* 2>/dev/null || true)"
assert_cmd "day before: alice's other private mail untouched" cmp "$PRIVATE_OTHER" "$W/private-other.before"

# The retention date: every copy destroyed, except the web form's second message.
ALICES_OWN=("$PRIVATE_OTHER" "$PRIVATE_COLLIDE")
sweep_on "$RETAIN"
assert_eq 0 "$SWEEP_RC" "on the date: the sweep ends 0"
last_assert_ok || cat "$W/sweep/err" >&2
report_skips "on the date"
assert_eq 0 "$(sweep_json 'sum(l["orphans"] for l in d["lines"].values())')" \
  "on the date: no helpline copy is an orphan (a copy without a row)"
while read -r f; do
  [ -n "$f" ] || continue
  c=$(case_of_file "$f")
  echo "       orphan: $c ${f#"$PF_MAIL_DIR"/}" >&2
  [ "$c" = "?" ] || FAILED_AT[$c]+="${FAILED_AT[$c]:+; }on the date: its copy has no row (orphan)"
done < <(sweep_json '"\n".join(e["path"] for e in d.get("list", []) if e["action"] == "orphan")')
DEFERRED_NOTE=""
deferred=$(sweep_json 'd["rows_unseen_deferred"]')
[ "$deferred" = 0 ] ||
  DEFERRED_NOTE=" (the run skipped a file, so none of the $deferred rows whose copies it found nowhere is marked)"
for c in "${CASES[@]}"; do
  [ -z "${IN_FILE[$c]:-}" ] || case_check "$c" "on the date: inbound copy destroyed" \
    "$([ -e "${IN_FILE[$c]}" ] && echo fail || echo ok)" "still there"
  [ -z "${MOVED[$c]}" ] || case_check "$c" "on the date: moved Sent copy destroyed" \
    "$([ -e "${MOVED[$c]}" ] && echo fail || echo ok)" "still there"
  if [ -z "${LINKABLE[$c]}" ]; then
    if cmp -s "$ALICE_SENT/cur/${SENT_NAME[$c]}" "$W/cases/$c.re"; then
      case_check "$c" "on the date: Sent copy naming no Message-ID left as alice's own mail" ok
    else
      case_check "$c" "on the date: Sent copy naming no Message-ID left as alice's own mail" fail "moved, changed or destroyed"
    fi
    ALICES_OWN+=("$ALICE_SENT/cur/${SENT_NAME[$c]}")
  elif [ -e "$ALICE_SENT/cur/${SENT_NAME[$c]}" ]; then
    case_check "$c" "on the date: no copy left in alice's Sent" fail "${SENT_NAME[$c]}"
  fi
  for q in "${IN_QID[$c]}" "${RE_QID[$c]}"; do
    [ -n "$q" ] || continue
    state=$(rm_sql "SELECT group_concat(state) FROM messages WHERE queue_id = '$q'")
    if [ "$state" = destroyed ]; then
      case_check "$c" "on the date: row of $q destroyed" ok
    else
      case_check "$c" "on the date: row of $q destroyed" fail "state: '$state'$DEFERRED_NOTE"
    fi
  done
done
case_check collide-with-private "on the date: alice's private copy untouched" \
  "$(cmp -s "$PRIVATE_COLLIDE" "$W/private-collide.before" && echo ok || echo fail)" "changed, moved or destroyed"
case_check collide-with-private "on the date: the outsider's copy destroyed" \
  "$([ -n "$COLLIDE_FILE" ] && [ ! -e "$COLLIDE_FILE" ] && echo ok || echo fail)" "still there"
assert_cmd "on the date: alice's other private mail untouched" cmp "$PRIVATE_OTHER" "$W/private-other.before"
case_check reused-message-id "on the first date: the first copy destroyed" \
  "$([ -n "$FORM1_FILE" ] && [ ! -e "$FORM1_FILE" ] && echo ok || echo fail)" "still there: it waits for the second's date"
case_check reused-message-id "on the first date: the second copy kept" \
  "$([ -n "$FORM2_FILE" ] && [ -e "$FORM2_FILE" ] && echo ok || echo fail)" "destroyed too early"
case_eq reused-message-id "on the first date: the first row destroyed, the second present" "destroyed present" \
  "$(rm_sql "SELECT state FROM messages WHERE queue_id = '$FORM1_QID'") $(rm_sql "SELECT state FROM messages WHERE queue_id = '$FORM2_QID'")"

# Nothing but alice's own mail is left in any Maildir (the web form's second message waits).
messages_left() {  # message files in any Maildir but alice's own and those given
  local f
  find "$PF_MAIL_DIR" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | sort | while read -r f; do
    printf '%s\n' "${ALICES_OWN[@]}" "$@" | grep -qxF -- "$f" || echo "$f"
  done
}
left=$(messages_left "$FORM2_FILE")
assert_eq "" "$left" "on the date: no other message file left in any Maildir"
if [ -n "$left" ]; then
  while read -r f; do
    c=$(case_of_file "$f")
    echo "       left: $c ${f#"$PF_MAIL_DIR"/}" >&2
    [ "$c" = "?" ] || FAILED_AT[$c]+="${FAILED_AT[$c]:+; }on the date: a copy left (${f#"$PF_MAIL_DIR"/})"
  done <<<"$left"
fi

# The second message's own date, three months later.
sweep_on "$RETAIN_LATER"
assert_eq 0 "$SWEEP_RC" "on the second date: the sweep ends 0"
report_skips "on the second date"
case_check reused-message-id "on its own date: the second copy destroyed" \
  "$([ -n "$FORM2_FILE" ] && [ ! -e "$FORM2_FILE" ] && echo ok || echo fail)" "still there"
assert_cmd "on the second date: alice's private mail untouched" cmp "$PRIVATE_OTHER" "$W/private-other.before"
case_check collide-with-private "on the second date: alice's private copy untouched" \
  "$(cmp -s "$PRIVATE_COLLIDE" "$W/private-collide.before" && echo ok || echo fail)" "changed, moved or destroyed"
assert_eq 0 "$(rm_sql "SELECT count(*) FROM messages WHERE state != 'destroyed'")" "every index row is marked destroyed"
left=$(messages_left)
assert_eq "" "$left" "at the end: no message file left in any Maildir but alice's own"

echo "# cases: ${#CASES[@]} messages and 2 stories; failed: ${#FAILED_AT[@]}"
for c in $(printf '%s\n' "${!FAILED_AT[@]}" | sort); do
  echo "# FAILED $c: ${FAILED_AT[$c]}"
done
e2e_finish
