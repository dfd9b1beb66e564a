#!/usr/bin/env bash
# An install as an admin makes it: what `cmake --install` lays out in a scratch root, set up as the
# README says (create-user.sh, the config edited for this host), started the way the
# installed systemd unit starts it, passes mail through the test Postfix, and
# `retentionctl check` passes on that install. Postfix reaches the milter through the
# socket's own folder and cannot read the index or the key.
# Usage: test_install_run.sh BUILD-DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/postfix.sh"
. "$HERE/lib/milter.sh"
BUILD=${1:?usage: $0 BUILD-DIR}

e2e_begin
require_root
require_tools swaks sqlite3 python3
e2e_workdir T rm-install-run
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
CONFIG=$(cache RM_DEFAULT_CONFIG)
PREFIX=$(cache CMAKE_INSTALL_PREFIX)
UNITS=$(cache RM_SYSTEMD_UNIT_DIR)
STATE=$(cache RM_STATE_DIR)
R=$T/root
USER_NAME=rmrun$$

DESTDIR=$R cmake --install "$BUILD" >"$T/install.log" 2>&1 || { fail "cmake --install" "$(tail "$T/install.log")"; e2e_finish; }
pass "cmake --install into a scratch root"
ETC=$(dirname "$R$CONFIG")

# The README's set-up step, on scratch folders and a scratch user.
at_exit sh -c "deluser --quiet $USER_NAME >/dev/null 2>&1; delgroup --quiet $USER_NAME >/dev/null 2>&1; true"
mkdir -p "$T/spool"
RM_USER=$USER_NAME RM_STATE_DIR="$R$STATE" RM_ETC_DIR="$ETC" RM_POSTFIX_SPOOL="$T/spool" \
  sh "$R$PREFIX/share/retention-milter/create-user.sh" >"$T/create-user.log" 2>&1 \
  || { fail "create-user.sh" "$(cat "$T/create-user.log")"; e2e_finish; }
pass "create-user.sh sets up user, folders and key"

# The test Postfix first: the config names its Maildirs.
at_exit pf_stop
pf_start "$T" "unix:$T/spool/retention-milter/milter.sock" >/dev/null
mkdir -p "$T/letters" "$T/run"
chmod 0750 "$T/letters"

# "Edit the config": this host's helplines, folders and user, as an admin would.
python3 - "$R$CONFIG" <<PY
import re, sys
p = sys.argv[1]; s = open(p).read()
for a, b in [("respectphoneline.org.uk", "respectphoneline.test"), ("mensadviceline.org.uk", "mensadviceline.test"),
             ("respect.org.uk", "respect.test"), ("/var/mail/vmail", "$PF_MAIL_DIR"),
             ("/srv/helpline/letter-responses", "$T/letters"), ("/var/spool/postfix", "$T/spool"),
             ("/run/retention-milter", "$T/run"), ("$STATE", "$R$STATE"), ("/etc/retention-milter", "$ETC"),
             ('user = "retention"', 'user = "$USER_NAME"'), ('sink = "syslog"', 'sink = "file:$T/milter.log"')]:
    s = s.replace(a, b)
open(p, "w").write(s)
PY
touch "$T/milter.log" && chown "$USER_NAME" "$T/milter.log"

# Start it the way the installed unit does: its ExecStartPre and ExecStart lines, with the
# scratch root in front of the installed paths.
unit=$R$UNITS/retention-milter.service
assert_exists "$unit" "the milter's unit is installed"
exec_line() { sed -n "s/^$1=//p" "$unit" | sed "s#$PREFIX/#$R$PREFIX/#; s# -c $CONFIG# -c $R$CONFIG#"; }
pre=$(exec_line ExecStartPre)
start=$(exec_line ExecStart)
assert_cmd "ExecStartPre (the config check) passes" $pre
$start &
MILTER_PID=$!
at_exit sh -c "kill $MILTER_PID 2>/dev/null; true"
wait_for 10 test -S "$T/spool/retention-milter/milter.sock" || fail "the installed milter listens" "$(cat "$T/milter.log")"

swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --from caller@example.net \
  --to info@mensadviceline.test --header "Message-Id: <install-run-1@example.net>"
pf_wait_delivered "$PF_MAIL_DIR/mensadviceline.test/info/new/*" 1 30 >/dev/null || fail "mail delivered through the installed milter"
f=$(ls "$PF_MAIL_DIR"/mensadviceline.test/info/new/* 2>/dev/null | head -1)
assert_header "$f" X-Helpline-Line mens-advice-line "the delivered copy is stamped by the installed milter"
assert_header "$f" X-Retain-Until "$(rm_retain_date 6)" "with its retention date"
assert_eq 1 "$(sqlite3 -readonly "$R$STATE/index.sqlite3" 'SELECT count(*) FROM messages')" "its row is in the installed index"
assert_eq "$USER_NAME" "$(ps -o user= -p "$MILTER_PID" | tr -d ' ')" "the milter runs as the configured user"

out=$("$R$PREFIX/sbin/retentionctl" -c "$R$CONFIG" check 2>&1) && rc=0 || rc=$?
assert_eq 0 "$rc" "retentionctl check passes on the install"
last_assert_ok || printf '%s\n' "$out" >&2
if grep -q "check passed" <<<"$out"; then pass "retentionctl check says so"; else fail "retentionctl check says so" "$out"; fi
assert_eq "" "$(grep -E "warning: (milter.socket|the MTA's user)" <<<"$out" || true)" \
  "retentionctl check finds nothing to say about the socket's folder or the MTA's user"

# Postfix reached the milter through the socket's own folder, and nothing else of ours:
# its user is not in the group that owns the index and the key, and cannot read them.
sock=$T/spool/retention-milter/milter.sock
assert_eq "750 $USER_NAME:postfix" "$(stat -c '%a %U:%G' "$(dirname "$sock")")" "the socket's folder is 0750, the milter's user, group postfix"
assert_eq "660 postfix" "$(stat -c '%a %G' "$sock")" "the socket is 0660, group postfix"
assert_not_cmd "postfix is not in the group $USER_NAME" bash -c "id -nG postfix | tr ' ' '\n' | grep -qx $USER_NAME"
assert_not_cmd "the postfix user cannot read the index" runuser -u postfix -- head -c 16 "$R$STATE/index.sqlite3"
assert_not_cmd "the postfix user cannot read the key" runuser -u postfix -- head -c 16 "$ETC/index.key"
# shellcheck disable=SC2016 # $1 and $2 are the inner script's arguments
assert_cmd "(root can read both: the two checks above can fail)" \
  bash -c 'head -c 16 "$1" "$2" >/dev/null' _ "$R$STATE/index.sqlite3" "$ETC/index.key"

# A clean stop removes the socket from its folder (the folder is the milter's own).
kill -TERM "$MILTER_PID"
wait "$MILTER_PID" 2>/dev/null || true
assert_cmd "the milter removes its socket when it stops" test ! -e "$sock"
e2e_finish
