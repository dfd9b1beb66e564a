#!/usr/bin/env bash
# The milter writing while the sweeper runs: a helpline's shared mailbox holds
# many messages whose rows have expired and some that have not; the real retention-sweep
# (as the mail store's user, real clock) destroys the expired ones while mail keeps
# arriving through a real Postfix and the real milter, into the very mailbox being swept.
# Checks: the sweep completes (exit 0) and destroys exactly the expired messages; the
# unexpired ones are untouched, byte for byte; every message sent meanwhile was answered
# 2xx (the sweep's index transactions never kept the milter past its busy timeout), is
# delivered, still there, and has its present row; the milter logged no index error.
# Usage: test_sweep_concurrent.sh PATH/TO/retention-milter PATH/TO/retention-sweep
# SWEEP_EXPIRED (default 4000) and SWEEP_LIVE (default 300) size the store.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/sweep.sh"
EXPIRED=${SWEEP_EXPIRED:-4000}
LIVE=${SWEEP_LIVE:-300}

sweep_e2e_begin rm-sweepconc "$@"

OTHER=$PF_MAIL_DIR/mensadviceline.test/info

# --- the store: EXPIRED messages past their date, LIVE ones not, each with its row ------
# Owned by the mail store's user, as Postfix's virtual(8) writes them; the rows go in
# through SQLite as the milter would have written them, keyed with the index's own key.
"$(e2e_python)" "$E2E_LIB_DIR/sweep_seed_store.py" "$SHARED" "$RM_KEY" "$EXPIRED" "$LIVE" "$W/seed.sql"
chown -R "$PF_MAIL_UID:$PF_MAIL_GID" "$PF_MAIL_DIR/respectphoneline.test"
chmod 0644 "$W/seed.sql"
pf_as_mail sqlite3 "$RM_INDEX" ".read $W/seed.sql"
assert_eq "$((EXPIRED + LIVE))" "$(ls "$SHARED/cur" | wc -l)" "the store holds $EXPIRED expired and $LIVE live messages"
(cd "$SHARED/cur" && sha256sum 1700000000.M*LP1.* | sort) >"$W/live.before"

sweep_config '[sweep]' 'max_destroy_per_run = 100000' \
  "$(sweep_mailbox "$SHARED" shared respect-phoneline)" "$(sweep_mailbox "$OTHER" shared mens-advice-line)"

# --- mail while the sweep runs --------------------------------------------------------
# Four senders, each sending one message after another (alternating between the two
# lines' mailboxes) from before the sweep starts until after it ends. Each result line:
# ID CODE START END (times in ns).
SENDERS=4
mkdir -p "$W/load"
sender() {
  local s=$1 n=0 id to t0 out code
  while :; do
    n=$((n + 1))
    id=conc-$s-$n
    if [ $((n % 2)) -eq 0 ]; then to=info@respectphoneline.test; else to=info@mensadviceline.test; fi
    t0=$(date +%s%N)
    out=$(swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
      --from caller@example.net --to "$to" --header "Message-Id: <$id@example.net>" --timeout 60 2>&1) || true
    if grep -qE '^<\*\* +4[0-9][0-9]' <<<"$out"; then code=4xx
    elif grep -qE '^<\*\*' <<<"$out"; then code=error
    else code=2xx; fi
    echo "$id $to $code $t0 $(date +%s%N)" >>"$W/load/$s"
    # At least 5 each, then until the sweep is over.
    [ "$n" -ge 5 ] && [ -e "$W/load/stop" ] && break
  done
}
LOAD_PIDS=()
for s in $(seq "$SENDERS"); do
  sender "$s" &
  LOAD_PIDS+=($!)
done
stop_load() { touch "$W/load/stop"; [ "${#LOAD_PIDS[@]}" -eq 0 ] || wait "${LOAD_PIDS[@]}" 2>/dev/null || true; LOAD_PIDS=(); }
at_exit stop_load
wait_for 30 test -s "$W/load/1" || fail "the first message was answered before the sweep"

SWEEP_RC=0
SWEEP_T0=$(date +%s%N)
pf_as_mail "$SWEEP" -c "$W/sweep/retention.toml" --json >"$W/sweep/out.json" 2>"$W/sweep/err" || SWEEP_RC=$?
SWEEP_T1=$(date +%s%N)
stop_load

assert_eq 0 "$SWEEP_RC" "the sweep completes (exit 0) while mail arrives"
sweep_show_failure
assert_eq "$EXPIRED" "$(sweep_json 'd["lines"]["respect-phoneline"]["destroyed"]')" "the sweep destroyed the $EXPIRED expired messages"

cat "$W"/load/[0-9]* >"$W/load/all"
TOTAL=$(wc -l <"$W/load/all")
DURING=$(awk -v a="$SWEEP_T0" -v b="$SWEEP_T1" '$5 > a && $4 < b' "$W/load/all" | wc -l)
echo "# the sweep took $(((SWEEP_T1 - SWEEP_T0) / 1000000)) ms; $TOTAL messages sent, $DURING of them during it"
assert_cmd "each of the $SENDERS senders sent at least 5 messages ($TOTAL in all)" test "$TOTAL" -ge $((SENDERS * 5))
if [ "$DURING" -ge "$SENDERS" ]; then pass "mail went through the milter while the sweep ran ($DURING messages)"
else fail "mail went through the milter while the sweep ran" "only $DURING messages overlapped the sweep"; fi
assert_eq "" "$(awk '$3 != "2xx"' "$W/load/all")" "every message sent during the sweep was accepted (no 4xx from the index's locks)"

# --- what the store and the index say afterwards -----------------------------------------
pf_wait_queue_empty 60 || fail "Postfix's queue drained"
assert_eq 0 "$(ls "$SHARED/cur" "$SHARED/new" | grep -c '^1700000000\.M[0-9]*OP1\.' || true)" "no expired message file is left"
(cd "$SHARED/cur" && sha256sum 1700000000.M*LP1.* | sort) >"$W/live.after"
assert_cmd "every unexpired seeded message is still there, byte for byte" cmp "$W/live.before" "$W/live.after"
assert_eq "$EXPIRED|$EXPIRED" \
  "$(rm_sql "SELECT count(*), sum(copies) FROM messages WHERE queue_id LIKE 'SEEDO%' AND state = 'destroyed'")" \
  "each expired row is marked destroyed, with its one copy"
assert_eq "$LIVE" "$(rm_sql "SELECT count(*) FROM messages WHERE queue_id LIKE 'SEEDL%' AND state = 'present'")" \
  "each unexpired seeded row is still present"

# Each message the milter accepted: delivered, still there, and its row present.
delivered_ids() {
  local f
  for f in "$SHARED"/cur/* "$SHARED"/new/* "$OTHER"/cur/* "$OTHER"/new/*; do
    [ -f "$f" ] || continue
    sed -n '/^\r\{0,1\}$/q; s/^Message-I[dD]: *<\(conc-[0-9]*-[0-9]*\)@example.net>.*/\1/p' "$f"
  done | sort
}
wait_until 30 '[ "$(delivered_ids | wc -l)" -ge "$TOTAL" ]' || true
SENT_IDS=$(awk '{print $1}' "$W/load/all" | sort)
assert_eq "$SENT_IDS" "$(delivered_ids)" "every message accepted during the sweep is delivered and was not destroyed ($TOTAL)"
rows=$(rm_sql "SELECT hex(digest) FROM messages WHERE state = 'present' AND queue_id NOT LIKE 'SEED%'")
# shellcheck disable=SC2046,SC2086 # one Message-ID a word
missing=$(paste -d' ' <(rm_digest $(sed 's/$/@example.net/' <<<"$SENT_IDS")) <(printf '%s\n' $SENT_IDS) |
  awk 'NR == FNR { have[$1] = 1; next } !($1 in have) { print $2 }' <(printf '%s\n' $rows) -)
assert_eq "" "$missing" "every message accepted during the sweep has its present row"
assert_eq 1 "$(rm_sql 'SELECT count(*) FROM receipts')" "the sweep's receipt is in the index"
assert_file_not_contains "$RM_LOG" "cannot write the index" "the milter never failed to write a row"
e2e_finish
