#!/usr/bin/env bash
# retentionctl end to end: the real binary against a real index (seeded through the db
# library by rm-test-seed), in a scratch folder. Checks exit codes, messages, that the
# Message-ID is never printed back, and that nothing is created where it only reads.
# Usage: test_ctl.sh RETENTIONCTL RM-TEST-SEED
set -uo pipefail

CTL=$1
SEED=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/milter.sh"

e2e_begin
e2e_workdir T rm-ctl-e2e

# run EXPECTED-EXIT DESCRIPTION ARGS...: runs retentionctl, keeps stdout+stderr in $out.
run() {
    local want=$1 what=$2
    shift 2
    out=$("$CTL" -c "$T/retention.toml" "$@" 2>&1)
    local rc=$?
    if [ "$rc" -ne "$want" ]; then fail "$what: exit $rc, wanted $want" "$out"; return 1; fi
    pass "$what (exit $rc)"
}
has() { grep -qF -- "$1" <<<"$out" || fail "output lacks '$1': $(head -c 600 <<<"$out")"; }
lacks() { ! grep -qF -- "$1" <<<"$out" || fail "output shows '$1'"; }

# --- a scratch install: the example config with every path moved under $T ----------------
e2e_scratch_install "$T" -e 's|^user = "retention"|user = "root"|' \
    -e 's|^socket_group = "postfix"|socket_group = "root"|'
chmod 2770 "$T/state" "$T/letters"

MID='<20260301.e2e-distinctive-7f3a@sender-host.example>'
CLEAR='e2e-distinctive-7f3a'

# --- before the milter's first start: no index, no key ------------------------------------
run 0 "check passes before the first start" check && has "no index yet" && has "check passed"
run 1 "report without an index" report && has "no index at"
run 1 "show without an index" show "$MID" && has "no index at"
[ ! -e "$T/state/index.sqlite3" ] && [ ! -e "$T/etc/index.key" ] || fail "retentionctl created an index or a key"

# --- seed: two copies of one message, one other, one long expired --------------------------
today=$(date -u +%F)
d() { date -u -d "$1" +%F; }
"$SEED" "$T/retention.toml" row "$MID" respect-phoneline inbound email "$(d '-1 month')" "$(d '+5 days')" || fail seed
"$SEED" "$T/retention.toml" row "$MID" respect-phoneline outbound email "$(d '-1 month')" "$(d '+6 days')" || fail seed
"$SEED" "$T/retention.toml" row '<other.1@x.example>' mens-advice-line inbound email "$(d '-2 months')" "$(d '+4 months')" || fail seed
"$SEED" "$T/retention.toml" row '<old.1@x.example>' mens-advice-line inbound email "$(d '-7 months')" "$(d '-1 month')" || fail seed
"$SEED" "$T/retention.toml" destroy '<old.1@x.example>' "$(d '-1 month')" || fail seed
"$SEED" "$T/retention.toml" receipt 10 0 || fail seed

run 0 "check passes with an index" check && has "opens read-only"

# --- show ------------------------------------------------------------------------------
run 0 "show, pasted with brackets and spaces" show "   $MID  " && {
    has "2 records"; has "respect-phoneline (Respect Phoneline)"; has "inbound"; has "outbound"
    has "$(d '+6 days')"; has "hold: none"; lacks "$CLEAR"; lacks "4QSEED"; }
run 0 "show, pasted bare" show "${MID:1:${#MID}-2}" && has "2 records"
run 0 "show, whole header line" show "Message-ID: $MID" && has "2 records"
run 0 "show --json" show "$MID" --json && {
    python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["found"] and len(j["records"])==2, j' <<<"$out" \
        || fail "show --json is not the expected JSON"; }
run 0 "show a destroyed message" show '<old.1@x.example>' && has "destroyed"
run 1 "show an unknown message" show '<nobody.1@x.example>' && { has "no message with that Message-ID"; lacks "nobody.1"; }
run 1 "show --json of an unknown message" show '<nobody.1@x.example>' --json && has '"found": false'
run 2 "show an empty Message-ID" show "   " && has "no Message-ID given"
run 2 "show a Message-ID with control characters" show $'<a\x01b@x.example>' && has "control characters"
run 1 "show a malformed Message-ID" show '<unterminated@x.example' && has "does not look like a Message-ID"
run 2 "show without a Message-ID" show

# --- hold and release ------------------------------------------------------------------------
run 2 "hold with a reason not in [holds]" hold "$MID" --reason gossip && has "safeguarding, legal, police-request, consent"
run 2 "hold with a name as reference" hold "$MID" --reason safeguarding --ref "John Smith" && has "never be a name"
run 2 "hold with a 33-character reference" hold "$MID" --reason legal --ref "$(printf 'A%.0s' {1..33})"
run 2 "hold without --reason" hold "$MID"
run 1 "hold an unknown message" hold '<nobody.1@x.example>' --reason legal && has "no message with that Message-ID"
run 1 "hold a destroyed message" hold '<old.1@x.example>' --reason legal && has "already been destroyed"
SUDO_USER=nobody run 0 "hold (as root through sudo: recorded as the sudo user)" hold "$MID" --reason safeguarding --ref SG-2026-0142 \
    && { has "held"; has "placed by nobody"; }
run 1 "hold it again" hold "$MID" --reason legal && { has "already held"; has "SG-2026-0142"; }
run 0 "show a held message" show "$MID" && { has "held"; has "safeguarding (reference SG-2026-0142), placed by nobody"; }
run 0 "report lists the hold" report && { has "Holds in force: 1"; has "SG-2026-0142"; }
run 0 "release" release "$MID" && { has "released"; has "on or after $(d '+6 days')"; }
run 1 "release it again" release "$MID" && has "not held"
run 1 "release an unknown message" release '<nobody.1@x.example>' && has "no message with that Message-ID"
run 0 "show keeps the hold's history" show "$MID" && has "earlier hold: safeguarding"

# --- report ---------------------------------------------------------------------------------
run 0 "report" report && {
    has "respect-phoneline"; has "mens-advice-line"; has "Expiring in the next 7 days:  2"
    has "Expiring in the next 30 days: 2"; has "Last sweep:"; has "ok: the sweeper is keeping up"; }
run 0 "report --json" report --json && {
    python3 -c 'import json,sys; j=json.load(sys.stdin); assert sum(c["count"] for c in j["counts"])==4 and j["expiring_7_days"]==2 and not j["behind"], j' <<<"$out" \
        || fail "report --json is not the expected JSON"; }
"$SEED" "$T/retention.toml" row '<late.1@x.example>' mens-advice-line inbound email "$(d '-7 months')" "$(d '-3 days')"
"$SEED" "$T/retention.toml" receipt 1 3
run 0 "report warns when the sweeper falls behind" report && {
    has "warning: 1 record is past its retention date"; has "safety stop"; }

# --- statement ------------------------------------------------------------------------------
for f in markdown html text; do
    run 0 "statement --format $f" statement --format "$f" && {
        out=$(tr -s '\n ' '  ' <<<"$out")   # text and Markdown wrap: a phrase may span lines
        has "Respect Phoneline"; has "six months"; has "two months"; lacks "@"; lacks ".org.uk"; lacks "$T"; }
done
run 0 "statement defaults to markdown" statement && has "# How long we keep"
run 2 "statement --format pdf" statement --format pdf

# --- import-pending -------------------------------------------------------------------------
"$SEED" "$T/retention.toml" pending '<pending.1@x.example>' respect-phoneline inbound email "$today" "$(d '+6 months')"
run 0 "import-pending" import-pending && has "imported 1 row"
run 0 "the imported row is found" show '<pending.1@x.example>' && has "1 record"
run 0 "import-pending again imports nothing" import-pending && has "nothing to import"

# --- the index and key are guarded ------------------------------------------------------------
if grep -qaF "$CLEAR" "$T/state/index.sqlite3" "$T/state/index.sqlite3-wal" 2>/dev/null; then
    fail "the clear Message-ID is in the index"
else
    pass "the clear Message-ID is nowhere in the index or its WAL"
fi
chmod 0644 "$T/etc/index.key"
run 2 "check finds an others-readable key" check && has "chmod 0640"
run 1 "show refuses an others-readable key" show "$MID" && has "chmod 0640"
chmod 0640 "$T/etc/index.key"
mv "$T/etc/index.key" "$T/etc/index.key.away"
run 2 "check finds the key missing beside the index" check && has "restore the key"
run 1 "show refuses without the key" show "$MID"
[ ! -e "$T/etc/index.key" ] || fail "retentionctl made a new key beside an existing index"
mv "$T/etc/index.key.away" "$T/etc/index.key"
"$SEED" "$T/retention.toml" remember-key || fail "remember-key"
run 0 "check confirms the key is the index's" check && has "is the key this index was made with"
cp -p "$T/etc/index.key" "$T/etc/index.key.right"
head -c 32 /dev/urandom > "$T/etc/index.key"
run 2 "check finds a key that is not the index's" check && has "is not the key this index was made with"
run 1 "show refuses a key that is not the index's" show "$MID" && has "restore the right key"
run 1 "upgrade-index refuses a key that is not the index's" upgrade-index && has "is not the key the index"
mv "$T/etc/index.key.right" "$T/etc/index.key"
run 0 "show works again with the right key" show "$MID"
run 0 "upgrade-index on a current index changes nothing" upgrade-index && { has "already current"; has "is this index's key"; }

# A message recorded only in the pending journal (on_index_error = "accept") can be held:
# hold takes the journal in first.
JMID='<journal-only.e2e@sender-host.example>'
jdigest=$(RM_KEY=$T/etc/index.key rm_digest "$JMID" | tr 'A-F' 'a-f')
printf 'rm2\t%s\t%s\tJQID1\trespect-phoneline\tinbound\temail\t%s\t%s\t\n' \
    "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$jdigest" "$(d '-1 day')" "$(d '+6 days')" \
    > "$T/state/index.sqlite3.pending"
run 0 "hold a message known only to the pending journal" hold "$JMID" --reason legal && has "held"
run 0 "show the journalled message" show "$JMID" && has "legal"

# --- the command line -----------------------------------------------------------------------
run 0 "--help" --help && { has "check"; has "statement"; has "Exit status"; }
run 0 "hold --help" hold --help && { has "--reason"; has "SUDO_USER"; }
run 2 "no subcommand"
run 2 "an unknown subcommand" frobnicate
out=$("$CTL" -c "$T/missing.toml" check 2>&1); [ $? -eq 2 ] && grep -qF "missing.toml" <<<"$out" \
    && pass "check on a missing config (exit 2)" || fail "check on a missing config: $out"
printf '[milter]\nsockt = "x"\n' > "$T/bad.toml"
out=$("$CTL" -c "$T/bad.toml" check 2>&1); [ $? -eq 2 ] && grep -qF "bad.toml:2: milter.sockt: unknown key" <<<"$out" \
    && pass "check names file, line and key (exit 2)" || fail "check on a bad key: $out"

# --- the tests' Message-ID oracle (rm_digest) keys as the index does ---------------------------
# Every test finds rows through rm_digest: it must agree with the product on odd Message-IDs
# too (blanks inside, a second '<', non-ASCII, control characters, nothing usable).
e2e_scratch_install "$T/oracle" -e 's|^user = "retention"|user = "root"|'
chmod 2770 "$T/oracle/state"
n=0
for mid in '<a b@c.example>' '<a<b@c.example>' 'bare@c.example' '  <x@y.example> trailing' \
    '<é.ü@c.example>' $'<a\x7fb@c.example>' '<>' 'no id here' '<unterminated@x'; do
    n=$((n + 1))
    "$SEED" "$T/oracle/retention.toml" row "$mid" respect-phoneline inbound email "$(d '-1 month')" "$(d '+5 months')" ||
        fail "seed $mid"
    assert_eq "$(sqlite3 "$T/oracle/state/index.sqlite3" "SELECT hex(digest) FROM messages WHERE id = $n")" \
        "$(RM_KEY=$T/oracle/etc/index.key rm_digest "$mid")" "rm_digest keys $(printf '%q' "$mid") as the index does"
done

e2e_finish
