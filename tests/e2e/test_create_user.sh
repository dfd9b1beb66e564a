#!/usr/bin/env bash
# scripts/create-user.sh with a scratch user and scratch folders (RM_USER, RM_STATE_DIR,
# RM_ETC_DIR, RM_POSTFIX_SPOOL): the user and group, the folders' owners and modes,
# the key made once (and never beside an existing index), idempotence. Needs root
# (exit 77: skipped otherwise). The scratch user and group are removed at the end.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
SCRIPT=$(cd "$HERE/../.." && pwd)/scripts/create-user.sh

e2e_begin
require_root "scripts/create-user.sh"
e2e_workdir T rm-user
export RM_USER="rmctl$$" RM_STATE_DIR="$T/state" RM_ETC_DIR="$T/etc" RM_POSTFIX_SPOOL="$T/spool"
remove_scratch_user() {
    getent passwd "$RM_USER" >/dev/null && deluser --quiet "$RM_USER" >/dev/null 2>&1
    getent group "$RM_USER" >/dev/null && delgroup --quiet "$RM_USER" >/dev/null 2>&1
    return 0
}
at_exit remove_scratch_user
mode_owner() { stat -c '%a %U:%G' "$1"; }

mkdir -p "$T/spool"
"$SCRIPT" > "$T/run1.log" 2>&1 || fail "first run" "$(cat "$T/run1.log")"
assert_cmd "the user exists" getent passwd "$RM_USER"
assert_cmd "the group exists" getent group "$RM_USER"
assert_cmd "the state folder is 2770 $RM_USER:$RM_USER" test "$(mode_owner "$T/state")" = "2770 $RM_USER:$RM_USER"
assert_cmd "the config folder is 750 root:$RM_USER" test "$(mode_owner "$T/etc")" = "750 root:$RM_USER"
assert_cmd "the key is 640 root:$RM_USER" test "$(mode_owner "$T/etc/index.key")" = "640 root:$RM_USER"
assert_cmd "the key is 32 bytes" test "$(stat -c %s "$T/etc/index.key")" = 32
in_group() { id -nG "$1" | tr ' ' '\n' | grep -qx "$RM_USER"; }
not_in_group() { ! in_group "$1"; }
if getent passwd postfix >/dev/null; then
    assert_cmd "Postfix's socket folder is 750 $RM_USER:postfix" test "$(mode_owner "$T/spool/retention-milter")" = "750 $RM_USER:postfix"
    assert_cmd "postfix is not in the group that reads the index and the key" not_in_group postfix
    # An install made by an older create-user.sh: postfix in the group.
    adduser --quiet postfix "$RM_USER"
    "$SCRIPT" > "$T/run-old.log" 2>&1 || fail "run over an older install" "$(cat "$T/run-old.log")"
    assert_cmd "a run over an older install takes postfix out of the group" not_in_group postfix
    assert_cmd "and says so, with the restart Postfix needs" grep -q "took postfix out of the group $RM_USER.*" "$T/run-old.log"
    assert_cmd "the restart is named" grep -q "systemctl restart postfix" "$T/run-old.log"
    "$SCRIPT" --admin postfix > "$T/run-admin.log" 2>&1
    assert_cmd "postfix cannot be added with --admin" test $? -ne 0
    assert_cmd "postfix is still not in the group" not_in_group postfix
    # A config whose socket is in Postfix's spool without socket_group = "postfix".
    printf '[milter]\nsocket = "unix:%s/retention-milter/milter.sock"\nsocket_group = "%s"\n' "$T/spool" "$RM_USER" >"$T/etc/retention.toml"
    "$SCRIPT" > "$T/run-conf.log" 2>&1 || fail "run with a config" "$(cat "$T/run-conf.log")"
    assert_cmd "a socket in the spool without socket_group = postfix is warned about" grep -q 'socket_group = "postfix"' "$T/run-conf.log"
    rm "$T/etc/retention.toml"
fi

cp -p "$T/etc/index.key" "$T/key.before"
chmod 0755 "$T/state"
"$SCRIPT" > "$T/run2.log" 2>&1 || fail "second run" "$(cat "$T/run2.log")"
assert_cmd "a second run keeps the key" cmp -s "$T/etc/index.key" "$T/key.before"
assert_cmd "a second run restores the state folder's mode" test "$(stat -c %a "$T/state")" = 2770

rm "$T/etc/index.key"
touch "$T/state/index.sqlite3"
"$SCRIPT" > "$T/run3.log" 2>&1 || fail "third run" "$(cat "$T/run3.log")"
assert_cmd "no new key beside an existing index" test ! -e "$T/etc/index.key"

"$SCRIPT" --admin no-such-user-xyz > "$T/run4.log" 2>&1
assert_cmd "an unknown --admin user is an error" test $? -ne 0

e2e_finish
