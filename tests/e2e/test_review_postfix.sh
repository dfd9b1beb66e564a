#!/usr/bin/env bash
# Managers' quality review of replies, through a real Postfix: a line's share of
# outbound replies gets its review mailbox added as a blind recipient; nothing in the
# message tells the outside recipient; the review copy shares the reply's Message-ID and
# index row, so the sweeper destroys it on the same day as every other copy.
# Usage: test_review_postfix.sh PATH/TO/retention-milter PATH/TO/retention-sweep
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/postfix.sh"
. "$HERE/lib/milter.sh"
MILTER=${1:?usage: $0 MILTER SWEEP}
SWEEP=${2:?usage: $0 MILTER SWEEP}

e2e_begin
require_root
require_tools swaks sqlite3 python3 smtp-source faketime
e2e_workdir W rm-review
at_exit pf_stop
at_exit rm_milter_stop
RM_REVIEW_TOML=$'review_mailbox = "quality-review@respectphoneline.test"\nreview_sample = 1.0'
rm_milter_start "$W" "$MILTER"
pf_start "$W" "$RM_SOCKET"
REVIEW=$PF_MAIL_DIR/respectphoneline.test/quality-review
RETAIN=$(rm_retain_date 6)

count_review() { find "$REVIEW/new" "$REVIEW/cur" -type f 2>/dev/null | wc -l; }
sink_with() { local f; for f in $(pf_sink_files); do grep -qF "$1" "$f" && { echo "$f"; return 0; }; done; return 1; }
reply() {  # reply MESSAGE-ID FROM-LINE-ADDRESS
  swaks --silent 2 --server "127.0.0.1:$PF_PORT" --helo staff.example --from advisor@respect.test \
    --to caller@example.net --header "From: Helpline <$2>" --header "Subject: Re: your message" \
    --header "Message-Id: <$1>"
}
reloads() { grep -c "configuration reloaded" "$RM_LOG" || true; }
set_sample() {
  local before
  before=$(reloads)
  sed -i "s/^review_sample = .*/review_sample = $1/" "$RM_CONF"
  kill -USR1 "$RM_MILTER_PID"
  wait_until 10 '[ "$(reloads)" -gt "$before" ]' || fail "the milter reloaded review_sample = $1"
}

# --- review_sample = 1.0: every reply is copied, and the outside copy says nothing ------
reply review-1@respect.test info@respectphoneline.test
wait_for 30 sink_with review-1@respect.test || fail "the reply reached the outside recipient"
pf_wait_delivered "$REVIEW/new/*" 1 30 >/dev/null || true
assert_eq 1 "$(count_review)" "sample 1.0: the reply reached the review mailbox"
f=$(ls "$REVIEW"/new/* | head -1)
assert_header "$f" Delivered-To quality-review@respectphoneline.test "the review copy is found by its delivery address"
assert_file_contains "$f" "<review-1@respect.test>" "the review copy is the same message (same Message-ID)"
out=$(sink_with review-1@respect.test)
body=$(sed '1,/^X-Rcpt-Args/d' "$out")  # what Postfix sent, without smtp-sink's envelope lines
for s in quality-review review_sample X-Helpline X-Retain Bcc; do
  if grep -qiF "$s" <<<"$body"; then fail "the outside copy mentions '$s'"; else pass "the outside copy does not mention '$s'"; fi
done
assert_eq 1 "$(rm_sql "SELECT count(*) FROM messages WHERE hex(digest) = '$(rm_digest '<review-1@respect.test>')'")" \
  "one index row covers the reply and its review copy"
# (The test folder's own name says "review": leave its path out of the search.)
if grep -vF "$W" "$RM_LOG" | grep -i "review\|sampl" >/dev/null; then fail "no log line says which reply was sampled"
else pass "no log line says which reply was sampled"; fi

# A line without a review mailbox is never sampled.
reply review-2@respect.test info@mensadviceline.test
wait_for 30 sink_with review-2@respect.test || true
pf_wait_queue_empty 30 || true
assert_eq 1 "$(count_review)" "a line without review_mailbox is not sampled"

# --- review_sample = 0: none ---------------------------------------------------------------
set_sample 0
reply review-3@respect.test info@respectphoneline.test
wait_for 30 sink_with review-3@respect.test || fail "the reply with sample 0 left"
pf_wait_queue_empty 30 || true
assert_eq 1 "$(count_review)" "sample 0: no review copy"

# --- review_sample = 0.5: 400 replies, 150 to 250 sampled ----------------------------------
set_sample 0.5
before=$(count_review)
smtp-source -s 10 -m 400 -l 512 -f info@respectphoneline.test -t caller@example.net "127.0.0.1:$PF_PORT"
pf_wait_queue_empty 120 || fail "the 400 replies left the queue"
sampled=$(( $(count_review) - before ))
if [ "$sampled" -ge 150 ] && [ "$sampled" -le 250 ]; then pass "sample 0.5: $sampled of 400 replies copied (150 to 250)"
else fail "sample 0.5: $sampled of 400 replies copied (want 150 to 250)"; fi

# --- the review copy is destroyed by the sweeper on its date -------------------------------
cat >>"$RM_CONF" <<TOML

[sweep]
secure_delete = "overwrite"
max_destroy_per_run = 100000

[[sweep.mailbox]]
path = "$PF_MAIL_DIR/respectphoneline.test/quality-review"
kind = "shared"
line = "respect-phoneline"
TOML
rc=0
faketime "$RETAIN 03:00:00" "$SWEEP" -c "$RM_CONF" --force >"$W/sweep.out" 2>&1 || rc=$?
assert_eq 0 "$rc" "the sweep on the retention date ends 0"
last_assert_ok || cat "$W/sweep.out" >&2
assert_eq 0 "$(count_review)" "every review copy is destroyed on the reply's retention date"
assert_eq destroyed "$(rm_sql "SELECT state FROM messages WHERE hex(digest) = '$(rm_digest '<review-1@respect.test>')'")" \
  "the reply's row is marked destroyed"
e2e_finish
