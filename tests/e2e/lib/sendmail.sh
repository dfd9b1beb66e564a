# shellcheck shell=bash
# A private, real Sendmail daemon for the end-to-end tests, run from Debian's packages
# unpacked by scripts/fetch-sendmail.sh (sendmail-bin conflicts with the machine's postfix,
# so it is never installed). Everything lives under one test folder; nothing of the
# machine's Postfix, /etc/mail or syslog is touched. Needs root (Sendmail binds and runs
# as root; namespaces and mounts need it too). Source this file, then:
#
#   sm_start DIR [MILTER_SOCKET_SPEC]   start it (DIR: an absolute path without spaces,
#                                       commas or quotes; it is created if missing)
#   sm_stop [DIR]                       stop everything sm_start started (idempotent,
#                                       safe in an EXIT trap, always returns 0)
#   sm_wait_delivered GLOB N TIMEOUT    wait until GLOB (quoted) matches N files or more
#   sm_queue_ids [ERE]                  queue ids of the messages Sendmail accepted, from
#                                       its log, first first; with ERE, only those with
#                                       a log line matching it ('to=<info@...>', 'msgid=<...>')
#   sm_log [N]                          print Sendmail's log (its last N lines)
#   sm_exec ARGS...                     run the sendmail binary with this instance's .cf
#                                       inside its namespaces (e.g. `sm_exec -bp`, `-q`)
#
# Exported by sm_start:
#   SM_DIR         the test folder
#   SM_PORT        the SMTP port on 127.0.0.1 (daemon Name=MTA: {daemon_name} is "MTA")
#   SM_SUBMIT_PORT a submission port on 127.0.0.1 that requires AUTH (Name=MSA, M=Ea)
#   SM_LOG         Sendmail's syslog, as text lines ("Nov 29 04:10:37 sm-mta[123]: ...")
#   SM_MAIL_DIR    DIR/mail: local domains are delivered to SM_MAIL_DIR/<domain>/<local>/new
#                  (both lower-cased); root, postmaster... to SM_MAIL_DIR/mx.respect.test/
#   SM_SINK_DIR    mail relayed to outside domains lands in SM_SINK_DIR/new, one file per
#                  message, with X-Sink-Client/-Helo/-Mail-From/-Rcpt-To lines on top
#   SM_AUTH        1 when AUTH PLAIN/LOGIN is offered, 0 when not (SM_AUTH_WHY says why)
#   SM_AUTH_USER, SM_AUTH_PASS  the test user for AUTH ({auth_authen} is SM_AUTH_USER)
#   SM_PID         the Sendmail daemon's pid
#   SM_CF, SM_BIN  the generated sendmail.cf and the unpacked sendmail binary
# Knobs, read by sm_start: SM_CACHE (the unpacked packages), SM_LOG_LEVEL (Sendmail's
# LogLevel, default 12: milter steps and deliveries), SM_MAIL_USER (owner of delivered
# files, Sendmail's U=, default root), SM_AUTH_USER/SM_AUTH_PASS.
#
# With MILTER_SOCKET_SPEC (inet:PORT@127.0.0.1, unix:/path or local:/path), the milter
# block of conf/sendmail.mc is used as it stands, only its S= replaced: F=T, so a milter
# that is down or fails gives "451 4.3.2" at MAIL FROM. sm_start's readiness probe (one
# EHLO and QUIT from 127.0.0.1) reaches the milter as a connection without a message.
#
# Needs root with the right to make mount and UTS namespaces (a VM, or a privileged
# container), swaks for the tests, m4, python3, util-linux (unshare, nsenter, setsid, flock).
#
# How it is built (from the project's research notes on running Sendmail beside Postfix):
# - Sendmail logs only to syslog: a small python listener serves a unix datagram socket,
#   which the daemon sees as /dev/log inside its own mount namespace (a private tmpfs /dev
#   carrying the host's null/zero/random/... nodes, so it works whether or not the host has
#   a /dev/log), and writes each message as a line to SM_LOG.
# - Sendmail sleeps 60 s at start when the host name has no dot: it runs in its own UTS
#   namespace named mx.respect.test, with private /etc/hosts (127.0.0.2 is outside.example)
#   and an nsswitch.conf that says `hosts: files`, so no lookup waits on an absent DNS.
# - Delivery: the helpline and staff domains go through mailertable to a custom mailer
#   (Mmaildir) running a small script that writes to tmp/ and renames into new/; no milter
#   is on that path. Everything else goes to the smart host: a python SMTP sink on loopback.
# - Relaying: 127.0.0.1 relays (Sendmail's default); others (127.0.0.2, named
#   outside.example) may only write to the local domains (RELAY_DOMAIN), unless they
#   authenticated (TRUST_AUTH_MECH).
# - AUTH: Cyrus SASL reads its plugins and Sendmail.conf from its compiled-in folder
#   (/usr/lib/<triplet>/sasl2); Sendmail scrubs its environment, so SASL_PATH cannot point
#   elsewhere. Inside the mount namespace a private copy of that folder (the system's
#   plugins + the unpacked libsasl2-modules + a Sendmail.conf naming a private sasldb made
#   by the unpacked saslpasswd2) is bind-mounted over it. Sendmail logs two harmless
#   "error: safesasl(/etc/sasl2/Sendmail.conf) failed: No such file or directory" lines
#   at start: SASL looks in /etc/sasl2 and /etc/sasl first, which do not exist.
# - Stopping: each helper and the daemon run in a session of their own; sm_stop signals
#   those process groups and every process in the daemon's mount namespace, after checking
#   that each pid is still the one started (pid files outlive a killed test).

SM_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SM_REPO_ROOT="$(cd "$SM_LIB_DIR/../../.." && pwd)"
: "${SM_CACHE:=/var/cache/retention-milter-tests/sendmail}"
# Sendmail's LogLevel: 12 shows milter traffic and each delivery; raise it to debug.
: "${SM_LOG_LEVEL:=12}"
# Owner of the delivered Maildir files (Sendmail's U= for the maildir mailer).
: "${SM_MAIL_USER:=root}"

SM_HOSTNAME=mx.respect.test
SM_OUTSIDE_NAME=outside.example
SM_LOCAL_DOMAINS=(respectphoneline.test mensadviceline.test respect.test)

_sm_say() { echo "sendmail.sh: $*" >&2; }

_sm_python() {
  # Debian's interpreter when present: a pyenv shim in PATH is slow and may be another version.
  if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}

# N (default 1) distinct free TCP ports on 127.0.0.1, one a line: the kernel's choice, all
# held open together so they differ (a tiny race remains until Sendmail binds them).
_sm_free_port() {
  "$(_sm_python)" - "${1:-1}" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Waits until FILE exists and is not empty, or TIMEOUT seconds pass.
_sm_wait_file() {
  local file=$1 timeout=$2 i
  for ((i = 0; i < timeout * 20; i++)); do
    [ -s "$file" ] && return 0
    sleep 0.05
  done
  return 1
}

# Starts CMD... in a session of its own (so sm_stop can end it with its children by process
# group), with output appended to OUT. The pid is not taken from $!: with job control on,
# setsid would fork. Each helper writes its own pid file instead.
_sm_spawn() {
  local out=$1
  shift
  setsid "$@" </dev/null >>"$out" 2>&1 &
}

_sm_write_helpers() {
  local dir=$1
  # The syslog listener and the SMTP sink, in one small python program.
  cat >"$dir/bin/smhelper.py" <<'PY'
"""Test helpers for tests/e2e/lib/sendmail.sh: a syslog listener and an SMTP sink."""
import os, socket, socketserver, sys, threading, time


def write_pid(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(tmp, path)


def syslog(sock_path, log_path, pid_path):
    """Serve a unix datagram socket like /dev/log; one text line per message."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    s.bind(sock_path)
    os.chmod(sock_path, 0o666)
    with open(log_path, "ab", buffering=0) as log:
        write_pid(pid_path)
        while True:
            msg = s.recv(65536).rstrip(b"\0\r\n")
            if msg.startswith(b"<"):  # drop the <priority> prefix
                end = msg.find(b">")
                if 0 < end <= 4:
                    msg = msg[end + 1:]
            log.write(msg.replace(b"\n", b" ") + b"\n")


class Sink(socketserver.StreamRequestHandler):
    """Enough SMTP to take a message from Sendmail's relay mailer and keep it."""
    counter = 0
    lock = threading.Lock()

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        helo, mail, rcpts = "", None, []
        self.reply("220 sink.test ESMTP test sink")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("latin-1").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                helo = line[5:].strip()
                if verb == "EHLO":
                    self.reply("250-sink.test")
                    self.reply("250-8BITMIME")
                    self.reply("250 PIPELINING")
                else:
                    self.reply("250 sink.test")
            elif line.upper().startswith("MAIL FROM:"):
                mail, rcpts = line[10:].strip(), []
                self.reply("250 2.1.0 Ok")
            elif line.upper().startswith("RCPT TO:"):
                if mail is None:
                    self.reply("503 5.5.1 MAIL first")
                else:
                    rcpts.append(line[8:].strip())
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("503 5.5.1 RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    body.append(raw.rstrip(b"\r\n") + b"\n")
                name = self.store(helo, mail, rcpts, body)
                self.reply(f"250 2.0.0 Ok: queued as {name}")
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not implemented")

    def store(self, helo, mail, rcpts, body):
        """Write to tmp/, then rename into new/: a reader never sees half a message."""
        with Sink.lock:
            Sink.counter += 1
            n = Sink.counter
        name = f"{time.time_ns()}.P{os.getpid()}Q{n}.sink"
        top = [f"X-Sink-Client: {self.client_address[0]}\n", f"X-Sink-Helo: {helo}\n",
               f"X-Sink-Mail-From: {mail}\n"] + [f"X-Sink-Rcpt-To: {r}\n" for r in rcpts]
        tmp = os.path.join(self.server.dump_dir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write("".join(top).encode("latin-1"))
            f.writelines(body)
        os.rename(tmp, os.path.join(self.server.dump_dir, "new", name))
        return name


def sink(dump_dir, port_path, pid_path):
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(dump_dir, sub), exist_ok=True)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Sink)
    server.dump_dir = dump_dir
    with open(port_path + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(port_path + ".tmp", port_path)
    write_pid(pid_path)
    server.serve_forever()


if __name__ == "__main__":
    {"syslog": syslog, "sink": sink}[sys.argv[1]](*sys.argv[2:])
PY

  # The maildir mailer's program. Sendmail runs it as: deliver-maildir MAILROOT HOST ADDR
  # with the message on stdin. Exit codes are sysexits, which Sendmail understands.
  cat >"$dir/bin/deliver-maildir" <<'SH'
#!/bin/sh
# Delivers one message from stdin into MAILROOT/<domain>/<localpart>/new, Maildir style
# (write in tmp/, then rename into new/), for the test Sendmail's maildir mailer.
set -eu
root=$1 host=$2 addr=$3
addr=${addr#<}; addr=${addr%>}; addr=${addr%.}
case $addr in
  *@*) local=${addr%@*} domain=${addr##*@} ;;
  *) local=$addr domain=$host ;;
esac
domain=${domain%.}
local=$(printf '%s' "$local" | tr 'A-Z' 'a-z')
domain=$(printf '%s' "$domain" | tr 'A-Z' 'a-z')
# Only plain names become folders: nothing may climb out of MAILROOT.
for part in "$local" "$domain"; do
  case $part in
    ''|.*|*[!a-z0-9._+-]*) echo "deliver-maildir: refusing address <$addr>" >&2; exit 67 ;;
  esac
done
box=$root/$domain/$local
mkdir -p "$box/tmp" "$box/new" "$box/cur" || exit 73
now=$(date +%s.%N)
name="${now%.*}.M${now#*.}P$$.$(hostname)"
cat >"$box/tmp/$name" || { rm -f "$box/tmp/$name"; exit 74; }
mv "$box/tmp/$name" "$box/new/$name" || exit 74
SH
  chmod 755 "$dir/bin/deliver-maildir"

  # Runs inside `unshare --mount --uts`: makes the private view, then becomes Sendmail.
  cat >"$dir/bin/ns-run" <<'SH'
#!/bin/bash
# ns-run DIR SENDMAIL HOSTNAME SASL_PLUGIN_DIR: set up the test Sendmail's private view of
# the machine (host name, /etc/hosts, nsswitch, /dev/log, SASL folder), build the alias
# database, then exec the daemon in the foreground.
set -euo pipefail
dir=$1 sm=$2 name=$3 sasl_dir=$4
# This process becomes the daemon (exec keeps the pid): record what sm_stop needs to know it
# by, before anything can fail. Its mount namespace is this instance's alone.
readlink /proc/self/ns/mnt >"$dir/run/sendmail.mntns"
echo $$ >"$dir/run/sendmail.pid"
hostname "$name"
mount --bind "$dir/etc/hosts" /etc/hosts
if [ -f /etc/nsswitch.conf ]; then
  mount --bind "$dir/etc/nsswitch.conf" /etc/nsswitch.conf
fi
# A private /dev: a tmpfs carrying the host's basic nodes, and our syslog socket as /dev/log.
mkdir -p "$dir/ns/hostdev"
mount --rbind /dev "$dir/ns/hostdev"
mount -t tmpfs -o mode=0755,size=64k sm-test-dev /dev
for node in null zero full random urandom tty; do
  if [ -e "$dir/ns/hostdev/$node" ]; then
    : >"/dev/$node"
    mount --bind "$dir/ns/hostdev/$node" "/dev/$node"
  fi
done
umount -l "$dir/ns/hostdev"
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s "$dir/run/log.sock" /dev/log
# SASL's compiled-in folder (plugins and Sendmail.conf) replaced by our copy; /etc/sasl2 and
# /etc/sasl come first in its config path, so they are covered too when they exist.
if [ -n "$sasl_dir" ] && [ -d "$dir/sasl2" ]; then
  for d in "$sasl_dir" /etc/sasl2 /etc/sasl; do
    if [ -d "$d" ]; then mount --bind "$dir/sasl2" "$d"; fi
  done
fi
"$sm" -C "$dir/etc/sendmail.cf" -bi
exec "$sm" -C "$dir/etc/sendmail.cf" -bD -L sm-mta
SH
  chmod 755 "$dir/bin/ns-run"
}

# Cyrus SASL's compiled-in plugin folder: the multiarch one holding the system's plugins.
_sm_sasl_system_dir() {
  local d
  for d in /usr/lib/*-linux-gnu*/sasl2 /usr/lib/sasl2; do
    if [ -d "$d" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# Prepares DIR/sasl2 (plugins + Sendmail.conf) and DIR/etc/sasldb2 with the test user.
# Sets _SM_SASL_SYSDIR (the folder to mount over), or SM_AUTH_WHY and returns 1.
_sm_setup_sasl() {
  local dir=$1 root=$2 sysdir
  _SM_SASL_SYSDIR=""
  if ! sysdir=$(_sm_sasl_system_dir); then
    SM_AUTH_WHY="no system SASL plugin folder (libsasl2-modules-db missing?) to mount over"
    return 1
  fi
  mkdir -p "$dir/sasl2"
  chmod 755 "$dir/sasl2"
  # Copies, not links: the folder is mounted over the system one, where links would loop.
  cp -a "$sysdir"/. "$dir/sasl2"/
  cp -a "$root"/usr/lib/*/sasl2/. "$dir/sasl2"/ 2>/dev/null || true
  cat >"$dir/sasl2/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $dir/etc/sasldb2
mech_list: PLAIN LOGIN
EOF
  chmod 644 "$dir/sasl2/Sendmail.conf"
  if ! compgen -G "$dir/sasl2/libsasldb.so*" >/dev/null || ! compgen -G "$dir/sasl2/libplain.so*" >/dev/null; then
    SM_AUTH_WHY="the sasldb or PLAIN plugin is missing from $sysdir and the unpacked tree"
    return 1
  fi
  # saslpasswd2 is not set-id, so it honours SASL_PATH (Sendmail, which scrubs its
  # environment, gets the same folder by the bind mount instead).
  if ! printf '%s' "$SM_AUTH_PASS" | SASL_PATH="$dir/sasl2" \
    "$root/usr/sbin/saslpasswd2" -f "$dir/etc/sasldb2" -u "$SM_HOSTNAME" -c -p "$SM_AUTH_USER"; then
    SM_AUTH_WHY="saslpasswd2 could not write $dir/etc/sasldb2"
    return 1
  fi
  chmod 600 "$dir/etc/sasldb2"
  _SM_SASL_SYSDIR=$sysdir
}

# The milter block of conf/sendmail.mc (between its BEGIN and END markers), with its S=
# replaced by SPEC: the tests use the documented lines, not a copy of them.
_sm_milter_block() {
  local spec=$1 mc="$SM_REPO_ROOT/conf/sendmail.mc" block
  # libmilter's syntax, and nothing that m4 quoting or the sed below could misread.
  if [[ ! $spec =~ ^((inet|inet6):[0-9]+(@[A-Za-z0-9.:_-]+)?|(unix|local):/[A-Za-z0-9._/-]+)$ ]]; then
    _sm_say "milter socket spec not understood: $spec (inet:PORT@HOST, unix:/path, local:/path)"
    return 1
  fi
  block=$(sed -n '/^dnl BEGIN retention-milter/,/^dnl END retention-milter/p' "$mc")
  if ! grep -q 'INPUT_MAIL_FILTER' <<<"$block"; then
    _sm_say "no INPUT_MAIL_FILTER block between the markers in $mc"
    return 1
  fi
  # shellcheck disable=SC2001 # a regex replacement, which ${var//} cannot do
  sed "s|S=[^,]*,|S=$spec,|" <<<"$block"
}

_sm_write_config() {
  local dir=$1 root=$2 spec=$3 sink_port=$4 d
  local cfdir="$root/usr/share/sendmail/cf"

  printf '127.0.0.1\t%s mx localhost\n127.0.0.2\t%s\n::1\tlocalhost ip6-localhost\n' \
    "$SM_HOSTNAME" "$SM_OUTSIDE_NAME" >"$dir/etc/hosts"
  if [ -f /etc/nsswitch.conf ]; then
    sed -E 's/^hosts:.*/hosts: files/' /etc/nsswitch.conf >"$dir/etc/nsswitch.conf"
  fi
  printf 'hosts\tfiles\naliases\tfiles\n' >"$dir/etc/service.switch"
  printf 'postmaster: root\nMAILER-DAEMON: postmaster\nabuse: postmaster\n' >"$dir/etc/aliases"
  : >"$dir/etc/local-host-names"
  : >"$dir/etc/trusted-users"
  : >"$dir/etc/statistics"
  : >"$dir/etc/mailertable"
  for d in "${SM_LOCAL_DOMAINS[@]}"; do
    printf '%s\tmaildir:%s\n' "$d" "$d" >>"$dir/etc/mailertable"
  done

  local milter=""
  if [ -n "$spec" ]; then
    milter=$(_sm_milter_block "$spec") || return 1
  fi

  # m4 quotes (`...') around every value: a path must never be read as an m4 macro.
  cat >"$dir/etc/sendmail.mc" <<EOF
divert(-1)
# Generated by tests/e2e/lib/sendmail.sh for a private test instance. Do not install.
divert(0)dnl
VERSIONID(\`retention-milter e2e test instance')dnl
OSTYPE(\`linux')dnl
dnl Every file of the instance lives under the test folder.
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`QUEUE_DIR', \`$dir/mqueue')dnl
define(\`confPID_FILE', \`$dir/run/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$dir/etc/aliases')dnl
define(\`confCW_FILE', \`-o $dir/etc/local-host-names')dnl
define(\`confCT_FILE', \`-o $dir/etc/trusted-users')dnl
define(\`confSTATUS_FILE', \`$dir/etc/statistics')dnl
define(\`confHELP_FILE', \`$root/etc/mail/helpfile')dnl
define(\`confSERVICE_SWITCH_FILE', \`$dir/etc/service.switch')dnl
define(\`confHOSTS_FILE', \`$dir/etc/hosts')dnl
define(\`confDEAD_LETTER_DROP', \`$dir/dead.letter')dnl
dnl The test folder is under /tmp (sticky, world-writable): without these, Sendmail refuses
dnl its alias database and maps as unsafe.
define(\`confDONT_BLAME_SENDMAIL', \`GroupWritableDirPathSafe,MapInUnsafeDirPath,TrustStickyBit')dnl
dnl A busy test machine must not make Sendmail queue or refuse mail.
define(\`confQUEUE_LA', \`200')dnl
define(\`confREFUSE_LA', \`400')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confMIN_FREE_BLOCKS', \`0')dnl
dnl No ident lookups and no DNS: nothing may wait on a network that is not there.
define(\`confTO_IDENT', \`0')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
dnl Interface addresses are not needed in class w, and their reverse lookups only add noise.
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confLOG_LEVEL', \`$SM_LOG_LEVEL')dnl
define(\`confPRIVACY_FLAGS', \`authwarnings,novrfy,noexpn')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`nocanonify')dnl
dnl The helpline and staff domains: accepted from anyone, delivered by the maildir mailer.
RELAY_DOMAIN(\`${SM_LOCAL_DOMAINS[*]}')dnl
FEATURE(\`mailertable', \`hash -o $dir/etc/mailertable')dnl
dnl Everything else goes to the test's SMTP sink.
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $sink_port')dnl
dnl Port MTA: anyone may write to the local domains; only 127.0.0.1 and authenticated clients
dnl may relay. Port MSA: AUTH required (M=a), as on a submission service.
DAEMON_OPTIONS(\`Port=$SM_PORT, Addr=127.0.0.1, Name=MTA')dnl
DAEMON_OPTIONS(\`Port=$SM_SUBMIT_PORT, Addr=127.0.0.1, Name=MSA, M=Ea')dnl
define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl
TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl
define(\`confAUTH_REALM', \`$SM_HOSTNAME')dnl
$milter
dnl The local mailer (postmaster, root) writes into Maildirs too, under the host's name.
define(\`LOCAL_MAILER_PATH', \`$dir/bin/deliver-maildir')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver-maildir $dir/mail $SM_HOSTNAME \$u')dnl
define(\`LOCAL_MAILER_FLAGS', \`SPhn')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MAILER_DEFINITIONS
\`Mmaildir,	P=$dir/bin/deliver-maildir, F=lsDFMPhnu, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP/HdrFromSMTP,
		T=DNS/RFC822/X-Unix, U=$SM_MAIL_USER, A=deliver-maildir $dir/mail \$h \$u'
EOF
  m4 -D_CF_DIR_="$cfdir/" "$cfdir/m4/cf.m4" "$dir/etc/sendmail.mc" >"$dir/etc/sendmail.cf"
  # makemap reads the .cf for its file-safety settings (DontBlameSendmail).
  # It warns that /tmp is world-writable, which TrustStickyBit accepts: only failure is shown.
  # shellcheck disable=SC2094 # makemap reads mailertable and writes mailertable.db
  if ! "$root/usr/libexec/sendmail/makemap" -C "$dir/etc/sendmail.cf" hash "$dir/etc/mailertable" \
    <"$dir/etc/mailertable" 2>"$dir/makemap.err"; then
    cat "$dir/makemap.err" >&2
    return 1
  fi
}

# Reads the SMTP greeting and the EHLO answer of 127.0.0.1:PORT; prints the EHLO lines.
_sm_ehlo() {
  local port=$1 line out=""
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
  IFS= read -r -t 10 line <&"$fd" || { exec {fd}>&-; return 1; }
  case $line in 220*) ;; *) exec {fd}>&-; return 1 ;; esac
  printf 'EHLO probe.test\r\n' >&"$fd"
  while IFS= read -r -t 10 line <&"$fd"; do
    out+="${line%$'\r'}"$'\n'
    case $line in 250\ *) break ;; esac
  done
  printf 'QUIT\r\n' >&"$fd"
  exec {fd}>&-
  printf '%s' "$out"
}

sm_start() {
  local dir=${1:?usage: sm_start DIR [MILTER_SOCKET_SPEC]} spec=${2:-}
  local root cache py i
  if [ "$(id -u)" -ne 0 ]; then
    _sm_say "needs root (Sendmail runs as root; namespaces and mounts need it)"
    return 1
  fi
  case $dir in
    /*) ;;
    *) dir="$PWD/$dir" ;;
  esac
  if [[ ! $dir =~ ^/[A-Za-z0-9._/-]+$ ]]; then
    _sm_say "DIR must be a plain absolute path (letters, digits, . _ - /): $dir"
    return 1
  fi
  # A test killed before its trap ran may have left an instance in this folder.
  sm_stop "$dir"
  cache=$("$SM_REPO_ROOT/scripts/fetch-sendmail.sh" "$SM_CACHE") || return 1
  # The script's stdout is the path alone; anything else there is a bug to name, not a path.
  if [ ! -x "$cache/root/usr/libexec/sendmail/sendmail" ]; then
    _sm_say "scripts/fetch-sendmail.sh printed something that is not the unpacked cache: $cache"
    return 1
  fi
  root="$cache/root"
  py=$(_sm_python)

  mkdir -p "$dir"/{bin,etc,run,ns,mail,sink,mqueue}
  # Sendmail insists on a private queue, and on safe paths to its files.
  chmod 700 "$dir/mqueue"
  chown root:root "$dir/mqueue"
  chmod go-w "$dir" "$dir/etc" "$dir/bin"
  if [ "$SM_MAIL_USER" != root ]; then
    # The maildir mailer runs as that user: it must reach its script and the mail folder.
    chown "$SM_MAIL_USER" "$dir/mail"
    chmod go+x "$dir" "$dir/bin"
  fi
  export SM_DIR="$dir" SM_LOG="$dir/sendmail.log" SM_MAIL_DIR="$dir/mail"
  export SM_SINK_DIR="$dir/sink" SM_CF="$dir/etc/sendmail.cf"
  export SM_BIN="$root/usr/libexec/sendmail/sendmail"
  export SM_AUTH_USER="${SM_AUTH_USER:-staff}" SM_AUTH_PASS="${SM_AUTH_PASS:-helpline-test-pw}"
  : >"$SM_LOG"
  _sm_write_helpers "$dir"

  # 1. The syslog listener, before anything of Sendmail runs.
  rm -f "$dir/run/syslog.pid" "$dir/run/sink.pid" "$dir/run/sink.port" "$dir/run/sendmail.pid"
  _sm_spawn "$dir/helpers.out" "$py" "$dir/bin/smhelper.py" syslog \
    "$dir/run/log.sock" "$SM_LOG" "$dir/run/syslog.pid"
  # 2. The SMTP sink for outside domains.
  _sm_spawn "$dir/helpers.out" "$py" "$dir/bin/smhelper.py" sink \
    "$SM_SINK_DIR" "$dir/run/sink.port" "$dir/run/sink.pid"
  if ! _sm_wait_file "$dir/run/syslog.pid" 10 || ! _sm_wait_file "$dir/run/sink.pid" 10; then
    _sm_say "the syslog listener or the sink did not start:"
    cat "$dir/helpers.out" >&2
    sm_stop "$dir"
    return 1
  fi

  # 3. AUTH, then the configuration.
  export SM_AUTH=0 SM_AUTH_WHY=""
  _sm_setup_sasl "$dir" "$root" || true
  { read -r SM_PORT; read -r SM_SUBMIT_PORT; } < <(_sm_free_port 2)
  export SM_PORT SM_SUBMIT_PORT
  if ! _sm_write_config "$dir" "$root" "$spec" "$(cat "$dir/run/sink.port")"; then
    _sm_say "could not build $dir/etc/sendmail.cf"
    sm_stop "$dir"
    return 1
  fi

  # 4. Sendmail, in its own mount and UTS namespaces, in the foreground (-bD) of its session.
  _sm_spawn "$dir/sendmail.out" unshare --mount --uts --propagation private -- \
    "$dir/bin/ns-run" "$dir" "$SM_BIN" "$SM_HOSTNAME" "$_SM_SASL_SYSDIR"
  # Ready when it greets and answers EHLO (that answer also tells whether AUTH is on). This
  # one session (EHLO, QUIT) reaches the milter too, as a connection without a message.
  local ehlo="" pid
  for ((i = 0; i < 200; i++)); do
    pid=$(head -n 1 "$dir/run/sendmail.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      break # it died: no use waiting
    fi
    if [ -n "$pid" ] && ehlo=$(_sm_ehlo "$SM_PORT" 2>/dev/null) && [ -n "$ehlo" ]; then
      break
    fi
    ehlo=""
    sleep 0.05
  done
  if [ -z "$ehlo" ]; then
    _sm_say "Sendmail did not answer on 127.0.0.1:$SM_PORT (10 s at most):"
    cat "$dir/sendmail.out" >&2
    tail -n 20 "$SM_LOG" >&2
    sm_stop "$dir"
    return 1
  fi
  SM_PID=$(head -n 1 "$dir/run/sendmail.pid")
  export SM_PID
  if grep -Eq '^250-AUTH .*PLAIN' <<<"$ehlo"; then
    SM_AUTH=1
  elif [ -z "$SM_AUTH_WHY" ]; then
    SM_AUTH_WHY="Sendmail does not offer AUTH PLAIN (see $SM_LOG)"
  fi
  export SM_AUTH SM_AUTH_WHY
  return 0
}

# Prints the pid in DIR/run/NAME.pid if that process is still the one we started: pid files
# outlive a killed test, and a recycled pid must never be signalled. Helpers carry DIR in
# their command line; Sendmail rewrites its own (process title), so it is known by the mount
# namespace that ns-run recorded from inside (unique to this instance while it lives).
_sm_verified_pid() {
  local dir=$1 name=$2 pid
  pid=$(head -n 1 "$dir/run/$name.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] || return 1
  if [ "$name" = sendmail ]; then
    [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$(cat "$dir/run/sendmail.mntns" 2>/dev/null)" ] ||
      return 1
  else
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/" || return 1
  fi
  echo "$pid"
}

# Pids of the processes whose mount namespace is NS (e.g. "mnt:[4026532177]").
_sm_ns_pids() {
  local ns=$1 p
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ]; then echo "${p#/proc/}"; fi
  done
}

# Sends SIG to each pid, and to its process group when it leads one (_sm_spawn makes each
# helper and Sendmail a session leader, and Sendmail's children stay in its group).
_sm_signal() {
  local sig=$1 pid
  shift
  for pid in "$@"; do
    if [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
      kill "-$sig" -- "-$pid" 2>/dev/null || true
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
  done
}

sm_stop() {
  local dir=${1:-${SM_DIR:-}} name pid ns="" pids=() i alive
  [ -n "$dir" ] && [ -d "$dir/run" ] || return 0
  for name in sendmail syslog sink; do
    if pid=$(_sm_verified_pid "$dir" "$name"); then
      pids+=("$pid")
      # While the daemon lives its namespace does too, so every process in it is ours
      # (SMTP sessions, deliveries), even one that left the process group.
      if [ "$name" = sendmail ]; then
        ns=$(cat "$dir/run/sendmail.mntns")
        mapfile -t -O "${#pids[@]}" pids < <(_sm_ns_pids "$ns")
      fi
    fi
  done
  if [ "${#pids[@]}" -gt 0 ]; then
    _sm_signal TERM "${pids[@]}"
    for ((i = 0; i < 50; i++)); do
      alive=0
      for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then alive=1; fi
      done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    if [ "$alive" = 1 ]; then
      _sm_signal KILL "${pids[@]}"
    fi
    # A session forked while the daemon was stopping.
    if [ -n "$ns" ]; then
      while read -r pid; do
        kill -KILL "$pid" 2>/dev/null || true
      done < <(_sm_ns_pids "$ns")
    fi
  fi
  rm -f "$dir"/run/*.pid "$dir/run/sink.port" "$dir/run/sendmail.mntns"
  return 0
}

sm_wait_delivered() {
  local glob=${1:?usage: sm_wait_delivered GLOB N TIMEOUT} want=${2:-1} timeout=${3:-10}
  local i n=0
  for ((i = 0; i <= timeout * 10; i++)); do
    # compgen fails when nothing matches: under pipefail that must not end the caller.
    n=$( (compgen -G "$glob" || true) | wc -l)
    [ "$n" -ge "$want" ] && return 0
    sleep 0.1
  done
  _sm_say "timeout: $n of $want files match $glob after ${timeout}s; Sendmail's log ends:"
  tail -n 15 "${SM_LOG:-/dev/null}" >&2
  return 1
}

sm_queue_ids() {
  local filter=${1:-} ids
  [ -f "${SM_LOG:-}" ] || return 0
  # Lines look like "Nov 29 01:47:00 sm-mta[123]: 6AT1l0x4000123: from=<...>, ...". A message
  # Sendmail accepted has a from= line with nrcpts of 1 or more (a session refused at RCPT
  # logs nrcpts=0); with ERE, keep those having any log line matching it (to=<...>, msgid=<...>).
  ids=$(grep -E ': from=.*, nrcpts=[1-9]' "$SM_LOG" |
    sed -nE 's/^.*\[[0-9]+\]: ([0-9A-Za-z]{8,20}): .*$/\1/p' | awk '!seen[$0]++' || true)
  if [ -n "$filter" ] && [ -n "$ids" ]; then
    grep -E -- "$filter" "$SM_LOG" | sed -nE 's/^.*\[[0-9]+\]: ([0-9A-Za-z]{8,20}): .*$/\1/p' |
      awk 'NR == FNR { want[$0] = 1; next } want[$0] && !seen[$0]++' - <(printf '%s\n' "$ids") || true
  elif [ -n "$ids" ]; then
    printf '%s\n' "$ids"
  fi
}

sm_log() {
  [ -f "${SM_LOG:-}" ] || return 0
  if [ -n "${1:-}" ]; then tail -n "$1" "$SM_LOG"; else cat "$SM_LOG"; fi
}

sm_exec() {
  [ -n "${SM_PID:-}" ] || { _sm_say "sm_exec: no Sendmail running"; return 1; }
  nsenter -t "$SM_PID" -m -u -- "$SM_BIN" -C "$SM_CF" "$@"
}
