#!/usr/bin/env bash
# `cmake --install` into a scratch root: the programs, the example config (kept when an
# admin has edited it), the systemd units naming the installed paths, the docs, the user
# script and the state folder.
# Usage: test_install.sh BUILD-DIR
set -uo pipefail

BUILD=$1
T=$(mktemp -d /tmp/rm-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

config=$(sed -n 's/^RM_DEFAULT_CONFIG:STRING=//p' "$BUILD/CMakeCache.txt")
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
units=$(sed -n 's/^RM_SYSTEMD_UNIT_DIR:PATH=//p' "$BUILD/CMakeCache.txt")
state=$(sed -n 's/^RM_STATE_DIR:PATH=//p' "$BUILD/CMakeCache.txt")

DESTDIR="$T/root" cmake --install "$BUILD" > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "cmake --install"; }
R="$T/root"

check "retentionctl in sbin" test -x "$R$prefix/sbin/retentionctl"
check "retention-milter in sbin" test -x "$R$prefix/sbin/retention-milter"
if [ -e "$BUILD/sweeper/retention-sweep" ]; then
    check "retention-sweep in sbin" test -x "$R$prefix/sbin/retention-sweep"
fi
check "the example config at $config" cmp -s "$R$config" "$(dirname "$0")/../../conf/retention.toml"
check "the config is not readable by others" test "$(stat -c %a "$R$config")" = 640
check "the milter unit" test -f "$R$units/retention-milter.service"
check "the unit names the installed milter" grep -qF "ExecStart=$prefix/sbin/retention-milter" "$R$units/retention-milter.service"
check "the unit names the installed config" grep -qF -- "-c $config" "$R$units/retention-milter.service"
check "the README in the docs" test -f "$R$prefix/share/doc/retention-milter/README.md"
check "the example config in the docs" test -f "$R$prefix/share/doc/retention-milter/examples/retention.toml"
check "the Postfix snippet in the docs" test -f "$R$prefix/share/doc/retention-milter/examples/postfix-main.cf"
check "the user script" test -x "$R$prefix/share/retention-milter/create-user.sh"
check "the retentionctl manual" test -f "$R$prefix/share/man/man8/retentionctl.8"
check "the state folder is 2770" test "$(stat -c %a "$R$state")" = 2770
check "the installed retentionctl runs" "$R$prefix/sbin/retentionctl" --help >/dev/null

manifest="$BUILD/install_manifest.txt"
check "the units are in the install manifest" grep -qF "$R$units/retention-milter.service" "$manifest"
check "the live config is not (uninstalling keeps it)" bash -c "! grep -qxF '$R$config' '$manifest'"

# An admin's edits survive a second install.
echo "# edited by the admin" >> "$R$config"
DESTDIR="$T/root" cmake --install "$BUILD" > "$T/install2.log" 2>&1 || fail "second cmake --install"
check "a second install keeps the edited config" grep -qF "# edited by the admin" "$R$config"
check "and says so" grep -qF "Keeping the existing" "$T/install2.log"

if [ "$fails" -ne 0 ]; then echo "$fails failures"; exit 1; fi
echo "install layout ok"
