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
in_group() { id -nG "$1" | tr ' ' '\n' | grep -qx "$RM_USER"; }
not_in_group() { ! in_group "$1"; }
if getent passwd postfix >/dev/null; then
    check "Postfix's socket folder is 750 $RM_USER:postfix" test "$(mode_owner "$T/spool/retention-milter")" = "750 $RM_USER:postfix"
    check "postfix is not in the group that reads the index and the key" not_in_group postfix
    # An install made by an older create-user.sh: postfix in the group.
    adduser --quiet postfix "$RM_USER"
    "$SCRIPT" > "$T/run-old.log" 2>&1 || { cat "$T/run-old.log"; fail "run over an older install"; }
    check "a run over an older install takes postfix out of the group" not_in_group postfix
    check "and says so, with the restart Postfix needs" grep -q "took postfix out of the group $RM_USER.*" "$T/run-old.log"
    check "the restart is named" grep -q "systemctl restart postfix" "$T/run-old.log"
    "$SCRIPT" --admin postfix > "$T/run-admin.log" 2>&1
    check "postfix cannot be added with --admin" test $? -ne 0
    check "postfix is still not in the group" not_in_group postfix
    # A config whose socket is in Postfix's spool without socket_group = "postfix".
    printf '[milter]\nsocket = "unix:%s/retention-milter/milter.sock"\nsocket_group = "%s"\n' "$T/spool" "$RM_USER" >"$T/etc/retention.toml"
    "$SCRIPT" > "$T/run-conf.log" 2>&1 || { cat "$T/run-conf.log"; fail "run with a config"; }
    check "a socket in the spool without socket_group = postfix is warned about" grep -q 'socket_group = "postfix"' "$T/run-conf.log"
    rm "$T/etc/retention.toml"
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
