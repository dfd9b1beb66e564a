#!/usr/bin/env bash
# `cmake --install` into a scratch root: the programs, the example config (kept when an
# admin has edited it), the systemd units naming the installed paths, the docs, the user
# script and the state folder.
# Usage: test_install.sh BUILD-DIR
set -uo pipefail

BUILD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"

e2e_begin
e2e_workdir T rm-install

config=$(sed -n 's/^RM_DEFAULT_CONFIG:STRING=//p' "$BUILD/CMakeCache.txt")
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
units=$(sed -n 's/^RM_SYSTEMD_UNIT_DIR:PATH=//p' "$BUILD/CMakeCache.txt")
state=$(sed -n 's/^RM_STATE_DIR:PATH=//p' "$BUILD/CMakeCache.txt")

DESTDIR="$T/root" cmake --install "$BUILD" > "$T/install.log" 2>&1 || fail "cmake --install" "$(cat "$T/install.log")"
R="$T/root"

assert_cmd "retentionctl in sbin" test -x "$R$prefix/sbin/retentionctl"
assert_cmd "retention-milter in sbin" test -x "$R$prefix/sbin/retention-milter"
if [ -e "$BUILD/sweeper/retention-sweep" ]; then
    assert_cmd "retention-sweep in sbin" test -x "$R$prefix/sbin/retention-sweep"
fi
assert_cmd "the example config at $config" cmp -s "$R$config" "$HERE/../../conf/retention.toml"
assert_cmd "the config is not readable by others" test "$(stat -c %a "$R$config")" = 640
assert_cmd "the milter unit" test -f "$R$units/retention-milter.service"
assert_cmd "the unit names the installed milter" grep -qF "ExecStart=$prefix/sbin/retention-milter" "$R$units/retention-milter.service"
assert_cmd "the unit names the installed config" grep -qF -- "-c $config" "$R$units/retention-milter.service"
assert_cmd "the README in the docs" test -f "$R$prefix/share/doc/retention-milter/README.md"
assert_cmd "the example config in the docs" test -f "$R$prefix/share/doc/retention-milter/examples/retention.toml"
assert_cmd "the Postfix snippet in the docs" test -f "$R$prefix/share/doc/retention-milter/examples/postfix-main.cf"
assert_cmd "the user script" test -x "$R$prefix/share/retention-milter/create-user.sh"
assert_cmd "the retentionctl manual" test -f "$R$prefix/share/man/man8/retentionctl.8"
assert_cmd "the state folder is 2770" test "$(stat -c %a "$R$state")" = 2770
assert_cmd "the installed retentionctl runs" "$R$prefix/sbin/retentionctl" --help

manifest="$BUILD/install_manifest.txt"
assert_cmd "the units are in the install manifest" grep -qF "$R$units/retention-milter.service" "$manifest"
assert_cmd "the live config is not (uninstalling keeps it)" bash -c "! grep -qxF '$R$config' '$manifest'"

# An admin's edits survive a second install.
echo "# edited by the admin" >> "$R$config"
DESTDIR="$T/root" cmake --install "$BUILD" > "$T/install2.log" 2>&1 || fail "second cmake --install"
assert_cmd "a second install keeps the edited config" grep -qF "# edited by the admin" "$R$config"
assert_cmd "and says so" grep -qF "Keeping the existing" "$T/install2.log"

e2e_finish
