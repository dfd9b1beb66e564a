#!/usr/bin/env bash
# Hardening: the running milter's uid, gid, groups and capabilities after the
# privilege drop (/proc/PID/status), the modes of its socket and files, its refusal to run
# as root without `user`, and the systemd units' sandboxing, checked offline with
# systemd-analyze (systemd need not be PID 1 here).
# Usage: test_hardening.sh PATH/TO/retention-milter PATH/TO/retention-sweep
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/milter.sh"
BIN=$(realpath "${1:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep}")
SWEEP=$(realpath "${2:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep}")

e2e_begin
require_root
e2e_workdir W rm-hard
at_exit rm_milter_stop
# rm_milter_start sets socket_group = "postfix" when that group exists.
rm_milter_start "$W" "$BIN"
SOCKET_GROUP=$(sed -n 's/^socket_group = "\(.*\)"$/\1/p' "$RM_CONF")
[ -n "$SOCKET_GROUP" ] || SOCKET_GROUP=$(id -gn nobody)

status() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$RM_MILTER_PID/status"; }
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

test_privileges_dropped() {
  assert_eq "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" "$(status Uid)" \
    "running milter: real, effective, saved and filesystem uid are the user's"
  assert_eq "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" "$(status Gid)" \
    "running milter: every gid is the user's primary group"
  local groups want
  groups=$(status Groups | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')
  want=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')
  assert_eq "$want" "$groups" "running milter: root's supplementary groups are gone (only the user's own)"
  assert_eq 0000000000000000 "$(status CapEff)" "running milter: no effective capability"
  assert_eq 0000000000000000 "$(status CapPrm)" "running milter: no permitted capability (cannot regain root)"
  local threads t bad=""
  for t in /proc/"$RM_MILTER_PID"/task/*; do
    [ "$(awk '$1 == "Uid:" { print $3 }' "$t/status")" = "$NOBODY_UID" ] || bad+=" $(basename "$t")"
  done
  assert_eq "" "$bad" "every thread of the milter runs as the user"
}

test_modes() {
  # Bound before the privilege drop, so its owner is root; the group is what lets the MTA in.
  assert_eq "660 $SOCKET_GROUP" "$(stat -c '%a %G' "$RM_SOCKET_PATH")" "socket: socket_mode 0660, group socket_group"
  local f others=""
  for f in "$RM_INDEX" "$RM_INDEX"-wal "$RM_INDEX"-shm "$RM_KEY"; do
    [ -e "$f" ] || continue
    [ $(($(stat -c '0%a' "$f") & 07)) -eq 0 ] || others+=" $(basename "$f"):$(stat -c %a "$f")"
  done
  assert_eq "" "$others" "index, WAL and key: nothing for others"
  assert_eq 640 "$(stat -c %a "$RM_KEY")" "key file: 0640"
}

test_root_without_user_refused() {
  local conf=$W/rootless.toml rc=0 out
  sed -e '/^user *=/d' -e "s|^socket = .*|socket = \"unix:$W/rootless.sock\"|" "$RM_CONF" >"$conf"
  out=$("$BIN" -f -c "$conf" 2>&1) || rc=$?
  assert_eq 2 "$rc" "started as root without [milter] user: exit 2 (bad config)"
  assert_cmd "the refusal names milter.user" grep -qF "milter.user" <<<"$out"
  assert_not_cmd "and binds no socket" test -e "$W/rootless.sock"
}

test_systemd_units() {
  if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze is installed (package systemd)"
    return
  fi
  local d=$W/units u
  mkdir -p "$d"
  # The units as installed, with the binaries where this build has them.
  for u in "$ROOT"/conf/systemd/*.service "$ROOT"/conf/systemd/*.timer; do
    sed -e "s|/usr/sbin/retention-milter|$BIN|g" -e "s|/usr/sbin/retention-sweep|$SWEEP|g" "$u" >"$d/$(basename "$u")"
  done
  local out rc=0
  out=$(cd "$d" && systemd-analyze verify ./*.service ./*.timer 2>&1) || rc=$?
  assert_eq 0 "$rc" "systemd-analyze verify accepts every unit" 
  [ "$rc" -eq 0 ] || echo "$out" >&2
  for u in retention-milter retention-sweep; do
    for k in NoNewPrivileges=true ProtectSystem=strict ProtectHome=true PrivateTmp=true PrivateDevices=true \
      ReadWritePaths= RestrictAddressFamilies= SystemCallFilter= CapabilityBoundingSet=; do
      assert_file_matches "$d/$u.service" "^$k" "$u.service sets $k"
    done
  done
  # systemd's own exposure score (0 best, 10 worst): keep the units well inside "OK".
  local score
  for u in retention-milter retention-sweep; do
    score=$(systemd-analyze security --offline=true "$d/$u.service" 2>/dev/null |
      sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' || true)
    if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 4.0) }'; then
      pass "$u.service: systemd's exposure level $score (4.0 or less)"
    else
      fail "$u.service: systemd's exposure level 4.0 or less" "got '${score:-none}'"
    fi
  done
}

test_privileges_dropped
test_modes
test_root_without_user_refused
test_systemd_units
e2e_finish
