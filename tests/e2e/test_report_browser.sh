#!/usr/bin/env bash
# retentionctl report --format html, opened the way a team leader opens the mailed page: in a
# real browser (Debian's headless Chromium). Checks what the page shows, that a line name
# with markup in it is shown as text, and that the page asks for nothing at all from the
# network. Control runs with the line name's markup made live show that the page's CSP stops
# it, and that without the CSP its request is seen by the check and reaches a real listener.
# Usage: test_report_browser.sh RETENTIONCTL RM-TEST-SEED
set -uo pipefail

CTL=$1
SEED=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"

e2e_begin
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || e2e_skip "chromium is not installed (scripts/install-deps.sh installs it)"
e2e_workdir T rm-report-browser

# A listener for the control run, and the address a hostile line name points at.
PORT=$(free_ports 1)
mkdir "$T/www"
"$(e2e_python)" -m http.server "$PORT" --bind 127.0.0.1 --directory "$T/www" >/dev/null 2>"$T/listener.log" &
at_exit kill "$!"
wait_for 10 port_listening "$PORT" || fail "the listener on port $PORT did not start"
CANARY="<img src=http://127.0.0.1:$PORT/line-name.png>"

# A scratch install whose second line's display name carries markup.
e2e_scratch_install "$T" -e 's|^user = "retention"|user = "root"|' \
    -e 's|^socket_group = "postfix"|socket_group = "root"|' \
    -e "s|^name = \"Men's Advice Line\"|name = \"Men's Advice Line $CANARY\"|"
chmod 2770 "$T/state" "$T/letters"
grep -qF "$CANARY" "$T/retention.toml" || fail "the config does not carry the line name with markup"

d() { date -u -d "$1" +%F; }
MID='<20260301.report-browser-5d1e@sender-host.example>'
seed() { "$SEED" "$T/retention.toml" "$@" || fail "seed $*"; }
seed row "$MID" respect-phoneline inbound email "$(d '-1 month')" "$(d '+5 days')"
seed row "$MID" respect-phoneline outbound email "$(d '-1 month')" "$(d '+6 days')"
seed row '<soon.1@x.example>' respect-phoneline inbound email "$(d '-6 months')" "$(d '+3 days')"
seed row '<other.1@x.example>' mens-advice-line inbound email "$(d '-2 months')" "$(d '+20 days')"
seed row '<old.1@x.example>' mens-advice-line inbound email "$(d '-7 months')" "$(d '-1 month')"
seed destroy '<old.1@x.example>' "$(d '-1 month')"
seed receipt 30 3
seed receipt 10 0
SUDO_USER=nobody "$CTL" -c "$T/retention.toml" hold "$MID" --reason safeguarding --ref SG-2026-0142 >/dev/null \
    || fail "hold"

# --- the command line --------------------------------------------------------------------
report() { "$CTL" -c "$T/retention.toml" report "$@"; }
assert_cmd "report --format html" sh -c '"$0" -c "$1" report --format html >"$2"' "$CTL" "$T/retention.toml" \
    "$T/report.html"
# The same JSON but for the time each was made.
same_json() { "$(e2e_python)" -c 'import json,sys
a, b = (json.loads(x) for x in sys.argv[1:])
for j in (a, b): j.pop("generated_at")
sys.exit(a != b)' "$1" "$2"; }
assert_cmd "--json is --format json" same_json "$(report --json)" "$(report --format json)"
assert_eq "$(report)" "$(report --format text)" "text is the default"
out=$(report --format pdf 2>&1)
assert_eq 2 "$?" "an unknown format is a usage error (exit 2)"
grep -q "pdf" <<<"$out" || fail "the usage error names the bad format" "$out"
report --json --format text >/dev/null 2>&1
assert_eq 2 "$?" "--json with another --format is a usage error"
assert_file_not_contains "$T/report.html" "report-browser-5d1e" "the page does not name the Message-ID"
assert_file_not_contains "$T/report.html" "sender-host" "the page names no address or host of the message"

# --- the page in a browser ----------------------------------------------------------------
# open_page HTML OUT: the page's rendered text in OUT.text, the URLs it asked for in OUT.requests.
open_page() {
    "$(e2e_python)" "$E2E_LIB_DIR/browser_page.py" "$CHROMIUM" "$1" >"$2.json" || { fail "open $1 in Chromium"; return 1; }
    "$(e2e_python)" -c 'import json,sys; print(json.load(open(sys.argv[1]))["text"])' "$2.json" >"$2.text"
    "$(e2e_python)" -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["requests"]))' "$2.json" \
        >"$2.requests"
}

if open_page "$T/report.html" "$T/page"; then
    text="$T/page.text"
    assert_file_contains "$text" "Retention report for $(d today)"
    assert_file_contains "$text" "respect-phoneline (Respect Phoneline)"
    assert_file_contains "$text" "Men's Advice Line $CANARY" "the line name's markup is shown as text"
    assert_file_matches "$text" "Destroyed in the next 7 days[[:space:]]+1"
    assert_file_matches "$text" "Destroyed in the next 30 days[[:space:]]+2"
    assert_file_matches "$text" "Past their date, not held, not yet destroyed[[:space:]]+0"
    assert_file_contains "$text" "Holds in force: 1"
    assert_file_matches "$text" "safeguarding[[:space:]]+SG-2026-0142[[:space:]]+admin[[:space:]]+nobody"
    assert_file_matches "$text" "^last[[:space:]].*completed[[:space:]]+0"
    assert_file_contains "$text" "The sweeper is keeping up."
    assert_eq "" "$(cat "$T/page.requests")" "the page asks for nothing from the network"
fi
assert_file_not_contains "$T/listener.log" "GET" "nothing reached the listener"

# --- controls: the same page with the line name's markup live ------------------------------
# Under the page's own CSP the browser must refuse to fetch it (the attempt is still seen);
# without the CSP it must reach the listener, and the check must see it.
sed -e "s|&lt;img src=http://127.0.0.1:$PORT/line-name.png&gt;|$CANARY|" "$T/report.html" >"$T/live.html"
assert_file_contains "$T/live.html" "$CANARY" "the control page carries live markup"
if open_page "$T/live.html" "$T/live"; then
    assert_file_contains "$T/live.requests" "http://127.0.0.1:$PORT/line-name.png" \
        "the check sees the live markup's attempt"
fi
assert_file_not_contains "$T/listener.log" "GET" "the page's CSP keeps the live markup from the network"

sed -e '/Content-Security-Policy/d' "$T/live.html" >"$T/unsafe.html"
if open_page "$T/unsafe.html" "$T/unsafe"; then
    assert_file_contains "$T/unsafe.requests" "http://127.0.0.1:$PORT/line-name.png" \
        "the check sees the request of a page without the CSP"
fi
if wait_until 5 'grep -q "GET /line-name.png" "$T/listener.log"'; then
    pass "that request reached the listener"
else
    fail "that request reached the listener" "$(cat "$T/listener.log")"
fi

e2e_finish
