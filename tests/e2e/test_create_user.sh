#!/usr/bin/env bash
# scripts/create-user.sh with a scratch user and scratch folders (RM_USER, RM_STATE_DIR,
# RM_ETC_DIR, RM_POSTFIX_SPOOL): the user and group, the folders' owners and modes,
# the key made once (and never beside an existing index), idempotence. Needs root
# (exit 77: skipped otherwise). The scratch user and group are removed at the end.
set -uo pipefail

[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
SCRIPT=$(cd "$(dirname "$0")/../.." && pwd)/scripts/create-user.sh
T=$(mktemp -d /tmp/rm-user.XXXXXX)
export RM_USER="rmctl$$" RM_STATE_DIR="$T/state" RM_ETC_DIR="$T/etc" RM_POSTFIX_SPOOL="$T/spool"
cleanup() {
    getent passwd "$RM_USER" >/dev/null && deluser --quiet "$RM_USER" >/dev/null 2>&1
    getent group "$RM_USER" >/dev/null && delgroup --quiet "$RM_USER" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then echo "ok: $what"; else fail "$what"; fi; }
mode_owner() { stat -c '%a %U:%G' "$1"; }

mkdir -p "$T/spool"
"$SCRIPT" > "$T/run1.log" 2>&1 || { cat "$T/run1.log"; fail "first run"; }
check "the user exists" getent passwd "$RM_USER"
check "the group exists" getent group "$RM_USER"
check "the state folder is 2770 $RM_USER:$RM_USER" test "$(mode_owner "$T/state")" = "2770 $RM_USER:$RM_USER"
check "the config folder is 750 root:$RM_USER" test "$(mode_owner "$T/etc")" = "750 root:$RM_USER"
check "the key is 640 root:$RM_USER" test "$(mode_owner "$T/etc/index.key")" = "640 root:$RM_USER"
check "the key is 32 bytes" test "$(stat -c %s "$T/etc/index.key")" = 32
if getent passwd postfix >/dev/null; then
    check "Postfix's socket folder" test "$(mode_owner "$T/spool/retention-milter")" = "750 $RM_USER:postfix"
    check "postfix is in the group" bash -c "id -nG postfix | tr ' ' '\n' | grep -qx '$RM_USER'"
fi

cp -p "$T/etc/index.key" "$T/key.before"
chmod 0755 "$T/state"
"$SCRIPT" > "$T/run2.log" 2>&1 || { cat "$T/run2.log"; fail "second run"; }
check "a second run keeps the key" cmp -s "$T/etc/index.key" "$T/key.before"
check "a second run restores the state folder's mode" test "$(stat -c %a "$T/state")" = 2770

rm "$T/etc/index.key"
touch "$T/state/index.sqlite3"
"$SCRIPT" > "$T/run3.log" 2>&1 || { cat "$T/run3.log"; fail "third run"; }
check "no new key beside an existing index" test ! -e "$T/etc/index.key"

"$SCRIPT" --admin no-such-user-xyz > "$T/run4.log" 2>&1
check "an unknown --admin user is an error" test $? -ne 0

if [ "$fails" -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "create-user.sh ok"
