# shellcheck shell=bash
# A private, real Sendmail daemon for the end-to-end tests, run from Debian's packages
# unpacked by scripts/fetch-sendmail.sh (sendmail-bin conflicts with the machine's postfix,
# so it is never installed). Everything lives under one test folder; nothing of the
# machine's Postfix, /etc/mail or syslog is touched. Needs root (Sendmail binds and runs
# as root; namespaces and mounts need it too). Source common.sh and this file, then:
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

# Starts CMD... in a session of its own (so sm_stop can end it with its children by process
# group), with output appended to OUT. The pid is not taken from $!: with job control on,
# setsid would fork. Each helper writes its own pid file instead.
_sm_spawn() {
  local out=$1
  shift
  setsid "$@" </dev/null >>"$out" 2>&1 &
}

# The maildir mailer's program (sendmail_deliver_maildir.sh), copied next to the instance:
# Sendmail runs it as SM_MAIL_USER, as: deliver-maildir MAILROOT HOST ADDR, the message on
# stdin; its exit codes are sysexits, which Sendmail understands.
_sm_install_mailer() {
  install -m 755 "$SM_LIB_DIR/sendmail_deliver_maildir.sh" "$1/bin/deliver-maildir"
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

  # The values are plain (letters, digits, . _ - /: checked by sm_start), so sed can put them in.
  printf '%s\n' "$milter" >"$dir/etc/milter.m4"
  sed -e "s|@DIR@|$dir|g" -e "s|@ROOT@|$root|g" -e "s|@HOSTNAME@|$SM_HOSTNAME|g" \
    -e "s|@LOG_LEVEL@|$SM_LOG_LEVEL|g" -e "s|@LOCAL_DOMAINS@|${SM_LOCAL_DOMAINS[*]}|g" \
    -e "s|@SINK_PORT@|$sink_port|g" -e "s|@PORT@|$SM_PORT|g" -e "s|@SUBMIT_PORT@|$SM_SUBMIT_PORT|g" \
    -e "s|@MAIL_USER@|$SM_MAIL_USER|g" -e "/^@MILTER@\$/{r $dir/etc/milter.m4" -e "d}" \
    "$SM_LIB_DIR/sendmail_test.mc" >"$dir/etc/sendmail.mc"
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

# Status 0 once the daemon of DIR answered EHLO (the answer is kept in DIR/run/ehlo), or
# once it died: no use waiting then (no answer kept).
_sm_greets() {
  local dir=$1 pid ehlo
  pid=$(head -n 1 "$dir/run/sendmail.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 0
  ehlo=$(_sm_ehlo "$SM_PORT" 2>/dev/null) && [ -n "$ehlo" ] || return 1
  printf '%s' "$ehlo" >"$dir/run/ehlo"
}

sm_start() {
  local dir=${1:?usage: sm_start DIR [MILTER_SOCKET_SPEC]} spec=${2:-}
  local root cache py
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
  py=$(e2e_python)

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
  _sm_install_mailer "$dir"

  # 1. The syslog listener, before anything of Sendmail runs.
  rm -f "$dir/run/syslog.pid" "$dir/run/sink.pid" "$dir/run/sink.port" "$dir/run/sendmail.pid" "$dir/run/ehlo"
  _sm_spawn "$dir/helpers.out" "$py" "$SM_LIB_DIR/sendmail_helper.py" syslog \
    "$dir/run/log.sock" "$SM_LOG" "$dir/run/syslog.pid"
  # 2. The SMTP sink for outside domains.
  _sm_spawn "$dir/helpers.out" "$py" "$SM_LIB_DIR/sendmail_helper.py" sink \
    "$SM_SINK_DIR" "$dir/run/sink.port" "$dir/run/sink.pid"
  if ! wait_for 10 test -s "$dir/run/syslog.pid" || ! wait_for 10 test -s "$dir/run/sink.pid"; then
    _sm_say "the syslog listener or the sink did not start:"
    cat "$dir/helpers.out" >&2
    sm_stop "$dir"
    return 1
  fi

  # 3. AUTH, then the configuration.
  export SM_AUTH=0 SM_AUTH_WHY=""
  _sm_setup_sasl "$dir" "$root" || true
  { read -r SM_PORT; read -r SM_SUBMIT_PORT; } < <(free_ports 2)
  export SM_PORT SM_SUBMIT_PORT
  if ! _sm_write_config "$dir" "$root" "$spec" "$(cat "$dir/run/sink.port")"; then
    _sm_say "could not build $dir/etc/sendmail.cf"
    sm_stop "$dir"
    return 1
  fi

  # 4. Sendmail, in its own mount and UTS namespaces, in the foreground (-bD) of its session.
  _sm_spawn "$dir/sendmail.out" unshare --mount --uts --propagation private -- \
    "$SM_LIB_DIR/sendmail_ns_run.sh" "$dir" "$SM_BIN" "$SM_HOSTNAME" "$_SM_SASL_SYSDIR"
  # Ready when it greets and answers EHLO (that answer also tells whether AUTH is on). This
  # one session (EHLO, QUIT) reaches the milter too, as a connection without a message.
  local ehlo=""
  wait_for 10 _sm_greets "$dir" || true
  ehlo=$(cat "$dir/run/ehlo" 2>/dev/null || true)
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

_sm_all_gone() {
  local pid
  for pid in "$@"; do
    if kill -0 "$pid" 2>/dev/null; then return 1; fi
  done
}

sm_stop() {
  local dir=${1:-${SM_DIR:-}} name pid ns="" pids=() alive
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
    alive=0
    wait_for 5 _sm_all_gone "${pids[@]}" || alive=1
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

# compgen fails when nothing matches: under pipefail that must not end the caller.
_sm_glob_count() { (compgen -G "$1" || true) | wc -l; }
_sm_glob_at_least() { [ "$(_sm_glob_count "$1")" -ge "$2" ]; }

sm_wait_delivered() {
  local glob=${1:?usage: sm_wait_delivered GLOB N TIMEOUT} want=${2:-1} timeout=${3:-10}
  wait_for "$timeout" _sm_glob_at_least "$glob" "$want" && return 0
  _sm_say "timeout: $(_sm_glob_count "$glob") of $want files match $glob after ${timeout}s; Sendmail's log ends:"
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
