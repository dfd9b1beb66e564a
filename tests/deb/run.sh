#!/usr/bin/env bash
# The Debian package as a mail admin meets it, on this machine: built with
# scripts/build-deb.sh, installed with apt, configured, one helpline message through a
# real (private) Postfix and the installed milter, stamped; upgraded over itself with an
# edited config (the edit is kept); removed (the config stays); purged keeping the index
# and key, then installed and purged again removing them; and nothing of it left but the
# system user and what was kept. Refuses to run when retention-milter is already
# installed here (as a package or by `cmake --install`): it would be overwritten, then
# purged. Needs root; installs what it needs. Usage: tests/deb/run.sh
# RM_DEB_PREBUILT=DIR takes the two packages from DIR/v1 and DIR/v2 (a failed run's kept
# test folder) instead of building them, to iterate on this test.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
E2E=$ROOT/tests/e2e
. "$E2E/lib/common.sh"
. "$E2E/lib/postfix.sh"
. "$E2E/lib/milter.sh"

PKG=retention-milter
CONF=/etc/retention-milter/retention.toml
SOCKET=/var/spool/postfix/retention-milter/milter.sock
STATE=/var/lib/retention-milter
KEY=/etc/retention-milter/index.key

# Status 0, with the reason on stderr, when this machine already has the product.
already_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true)
  if [ -n "$status" ] && [ "$status" != "unknown ok not-installed" ]; then
    echo "the package $PKG is on this machine ($status): remove or purge it first" >&2
    return 0
  fi
  if [ -e /usr/sbin/retention-milter ] || [ -e /usr/local/sbin/retention-milter ]; then
    echo "retention-milter is installed here without the package (cmake --install):" >&2
    echo "  uninstall it first (README: Uninstalling)" >&2
    return 0
  fi
  return 1
}

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/deb/run.sh: run as root (it installs and purges the package)" >&2
  exit 1
fi
if already_installed; then
  echo "tests/deb/run.sh: refusing to overwrite an install of retention-milter on this machine" >&2
  exit 1
fi

e2e_begin
"$ROOT/scripts/install-deps.sh"
require_tools swaks sqlite3 python3 debconf-set-selections
e2e_workdir W rm-deb

# A purge that keeps nothing, whatever happened: the machine is left as it was found,
# but for the system user.
cleanup_package() {
  rm_milter_stop
  if dpkg-query -W "$PKG" >/dev/null 2>&1; then
    echo "$PKG $PKG/purge_index boolean true" | debconf-set-selections
    apt-get purge -y -qq "$PKG" >/dev/null 2>&1 || true
  fi
}
at_exit pf_stop
at_exit cleanup_package

# --- build: the version as committed, and the same package under a later version to upgrade to.
banner() { printf '\n--- %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
if [ -n "${RM_DEB_PREBUILT:-}" ]; then
  # Packages a previous run built (its test folder's v1/ and v2/, kept when it failed).
  cp -r "$RM_DEB_PREBUILT/v1" "$RM_DEB_PREBUILT/v2" "$W/"
else
  banner "build the package"
  "$ROOT/scripts/build-deb.sh" --out "$W/v1" >"$W/build1.log" 2>&1 ||
    { fail "scripts/build-deb.sh builds the package, lintian clean" "$(tail -40 "$W/build1.log")"; exit 1; }
  pass "scripts/build-deb.sh builds the package, lintian clean"
  # The upgrade is the same build under a later version (repacked, not built again: the
  # maintainer scripts' upgrade path is what is tested, and a second build takes minutes).
  v1=$(dpkg-deb -f "$W"/v1/${PKG}_*.deb Version)
  banner "repack $v1 as $v1+test1 to upgrade to"
  dpkg-deb -R "$W"/v1/${PKG}_*.deb "$W/repack"
  sed -i "s/^Version: .*/Version: $v1+test1/" "$W/repack/DEBIAN/control"
  mkdir -p "$W/v2"
  dpkg-deb --root-owner-group -b "$W/repack" "$W/v2/${PKG}_$v1+test1_$(dpkg --print-architecture).deb" >/dev/null
  rm -rf "$W/repack"
fi
deb1=$(ls "$W"/v1/${PKG}_*.deb)
v1=$(dpkg-deb -f "$deb1" Version)
deb2=$(ls "$W"/v2/${PKG}_*.deb)

assert_cmd "the package depends on the libraries it links" \
  bash -c "dpkg-deb -f '$deb1' Depends | grep -q libmilter"

# --- install
banner "install"
apt-get install -y "$deb1" >"$W/install.log" 2>&1 ||
  { fail "apt-get install ./${PKG}_$v1.deb" "$(tail -30 "$W/install.log")"; exit 1; }
pass "apt-get install ./${PKG}_$v1.deb"
dpkg -L "$PKG" >"$W/files"
assert_cmd "a second run refuses the install now here" already_installed
for f in /usr/sbin/retention-milter /usr/sbin/retention-sweep /usr/sbin/retentionctl; do
  assert_cmd "$f is installed" test -x "$f"
done
for f in retention-milter.service retention-sweep.service retention-sweep.timer; do
  assert_cmd "the unit $f in /lib/systemd/system" test -f "/lib/systemd/system/$f"
done
assert_cmd "the manuals" test -f /usr/share/man/man8/retentionctl.8.gz
for f in postfix-main.cf postfix-master.cf sendmail.mc retention.toml; do
  assert_cmd "the example $f" test -f "/usr/share/doc/$PKG/examples/$f"
done
assert_cmd "the config is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' $PKG | grep -q ' $CONF '"
assert_eq "root retention 640" "$(stat -c '%U %G %a' "$CONF")" "the config: root, group retention, 0640"
assert_cmd "its group is a dpkg-statoverride" bash -c "dpkg-statoverride --list $CONF | grep -q retention"
assert_cmd "the system user retention" getent passwd retention
assert_eq "retention retention 2770" "$(stat -c '%U %G %a' "$STATE")" "the state folder"
assert_eq "root retention 640" "$(stat -c '%U %G %a' "$KEY")" "the digest key"
assert_cmd "postinst checked the config with the milter" grep -qF "$CONF: configuration OK" "$W/install.log"
assert_not_cmd "the sweeper's timer is not enabled" \
  test -e /etc/systemd/system/timers.target.wants/retention-sweep.timer
assert_cmd "postinst says how to enable the timer" grep -qF "systemctl enable --now retention-sweep.timer" "$W/install.log"

# --- configure as an admin would: this host's helplines, stores and letters folder; a log
# file for this test. The test Postfix first: the config names its Maildirs.
banner "configure, check, one message through Postfix"
pf_start "$W" "unix:$SOCKET" >/dev/null
install -d -m 0750 "$W/letters"
python3 - "$CONF" <<PY
import sys
p = sys.argv[1]; s = open(p).read()
for a, b in [("respectphoneline.org.uk", "respectphoneline.test"), ("mensadviceline.org.uk", "mensadviceline.test"),
             ("respect.org.uk", "respect.test"), ("/var/mail/vmail", "$PF_MAIL_DIR"),
             ("/srv/helpline/letter-responses", "$W/letters"), ('sink = "syslog"', 'sink = "file:$W/milter.log"')]:
    s = s.replace(a, b)
open(p, "w").write(s + "# edited by the admin\n")
PY
install -o retention -g retention -m 0640 /dev/null "$W/milter.log"

# The milter as its unit runs it (systemd is not running here), its runtime folder first.
install -d -m 0750 /run/retention-milter
export RM_CONF=$CONF RM_SOCKET_PATH=$SOCKET RM_LOG=$W/milter.log RM_INDEX=$STATE/index.sqlite3 RM_KEY=$KEY
export RM_MILTER_BIN=/usr/sbin/retention-milter
rm_milter_restart
swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
  --from caller@example.net --to info@respectphoneline.test --header "Message-Id: <deb-1@example.net>"
inbox=$PF_MAIL_DIR/respectphoneline.test/info/new
if wait_until 30 'grep -lq "deb-1@example.net" "$inbox"/* 2>/dev/null'; then
  f=$(grep -l "deb-1@example.net" "$inbox"/*)
  assert_header "$f" X-Retain-Until "$(rm_retain_date 6)" "the delivered copy is stamped X-Retain-Until"
  assert_eq 1 "$(rm_sql "SELECT count(*) FROM messages WHERE hex(digest) = '$(rm_digest "<deb-1@example.net>")'")" \
    "the message has its row in the installed index"
else
  fail "one message through Postfix and the installed milter" "$(pf_log 20; tail -5 "$W/milter.log")"
fi
out=$(retentionctl check 2>&1) && rc=0 || rc=$?
assert_eq 0 "$rc" "retentionctl check passes on the install"
last_assert_ok || printf '%s\n' "$out" >&2
rm_milter_stop

# --- upgrade over itself: the edited config is kept, the new binary checks it.
banner "upgrade to $v1+test1"
apt-get install -y "$deb2" >"$W/upgrade.log" 2>&1 || fail "apt-get install the upgrade" "$(tail -30 "$W/upgrade.log")"
assert_eq "$v1+test1" "$(dpkg-query -W -f='${Version}' "$PKG")" "upgraded to $v1+test1"
assert_cmd "the admin's edit is kept" grep -qF "# edited by the admin" "$CONF"
assert_cmd "the admin's domains are kept" grep -qF "info@respectphoneline.test" "$CONF"
assert_eq "root retention 640" "$(stat -c '%U %G %a' "$CONF")" "the config keeps its group and mode"
assert_cmd "the new binary checked the config before the restart" grep -qF "$CONF: configuration OK" "$W/upgrade.log"
assert_cmd "the key is kept" test -s "$KEY"

# An upgrade onto a config the milter refuses: installed, not restarted, the admin told.
cp "$CONF" "$W/conf.good"
sed -i 's/^socket_mode = .*/socket_mode = "not a mode"/' "$CONF"
apt-get install -y --reinstall "$deb2" >"$W/reinstall.log" 2>&1 || fail "a reinstall over a bad config" "$(tail -30 "$W/reinstall.log")"
assert_cmd "a config the milter refuses: not restarted, and told what to do" \
  grep -qF "not (re)started" "$W/reinstall.log"
cp "$W/conf.good" "$CONF"

# --- remove: Postfix still names the milter with tempfail, so prerm warns; the config stays.
banner "remove, purge keeping the index, reinstall, purge all"
MAIL_CONFIG=$PF_CONFIG_DIR apt-get remove -y "$PKG" >"$W/remove.log" 2>&1 || fail "apt-get remove" "$(tail -30 "$W/remove.log")"
assert_cmd "prerm warns that Postfix will hold all mail" grep -qF "hold ALL mail" "$W/remove.log"
assert_not_cmd "the programs are gone" test -e /usr/sbin/retention-milter
assert_cmd "the config stays after remove" grep -qF "# edited by the admin" "$CONF"

echo "$PKG $PKG/purge_index boolean false" | debconf-set-selections
apt-get purge -y "$PKG" >"$W/purge1.log" 2>&1 || fail "apt-get purge" "$(tail -30 "$W/purge1.log")"
assert_not_cmd "purge removes the config" test -e "$CONF"
assert_not_cmd "and its statoverride" bash -c "dpkg-statoverride --list | grep -q retention-milter"
assert_cmd "the index is kept when asked to" test -s "$STATE/index.sqlite3"
assert_cmd "the key is kept with it" test -s "$KEY"
key_sum=$(sha256sum <"$KEY")

apt-get install -y "$deb2" >"$W/install2.log" 2>&1 || fail "install again" "$(tail -30 "$W/install2.log")"
assert_eq "$key_sum" "$(sha256sum <"$KEY")" "installing again keeps the kept key (no new key beside the index)"
echo "$PKG $PKG/purge_index boolean true" | debconf-set-selections
apt-get purge -y "$PKG" >"$W/purge2.log" 2>&1 || fail "apt-get purge again" "$(tail -30 "$W/purge2.log")"

# --- nothing left but the system user.
left=""
while read -r path; do
  [ -d "$path" ] && continue   # folders others share (/usr/sbin; /lib, a link to usr/lib)
  [ -e "$path" ] || [ -L "$path" ] && left+="$path "
done <"$W/files"
assert_eq "" "$left" "every file the package installed is gone"
for path in /etc/retention-milter "$STATE" /var/spool/postfix/retention-milter /run/retention-milter \
  /lib/systemd/system/retention-milter.service /usr/share/doc/$PKG /usr/share/$PKG; do
  assert_not_cmd "$path is gone" test -e "$path"
done
assert_not_cmd "no unit link is left" bash -c "find /etc/systemd -name 'retention-*' | grep -q ."
assert_eq "" "$(debconf-show "$PKG" 2>/dev/null)" "debconf holds nothing of it"
assert_eq "" "$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -v not-installed || true)" \
  "dpkg knows nothing of it"
assert_cmd "the system user stays (Debian's convention)" getent passwd retention

e2e_finish
