# shellcheck shell=bash
# A private, real Postfix for the end-to-end tests: its own config_directory, queue and data
# folders, log file, Dovecot (for SMTP AUTH, and IMAP) and smtp-sink (the outside world), all
# under one test folder and on loopback. The machine's own Postfix (/etc/postfix,
# /var/spool/postfix) is never started, read for mail, or changed. Needs root (Postfix's
# master runs as root and its queue belongs to the postfix user). Source this file, then:
#
#   pf_start DIR [MILTER_SPEC] [NAME=VALUE...]
#        start it. DIR: an absolute path without blanks or commas (Postfix lists split on
#        them), created if missing, made 0755 so Postfix's and Dovecot's users can enter it.
#        MILTER_SPEC ("inet:127.0.0.1:PORT", "unix:/path"; "" for none) is set as smtpd_milters
#        and non_smtpd_milters with milter_default_action = tempfail. NAME=VALUE pairs are
#        main.cf settings applied last (e.g. milter_command_timeout=5s).
#   pf_use DIR          act on the instance pf_start started in DIR from now on (a test
#                       running two instances switches between them; sets every PF_*)
#   pf_stop [DIR]       stop Postfix, Dovecot and smtp-sink (idempotent, safe in an EXIT
#                       trap even after a half-done pf_start, always returns 0)
#   pf_wait_delivered GLOB N TIMEOUT
#                       wait until GLOB (quote it) matches N files or more, none of them still
#                       being written by smtp-sink; on timeout says what it saw, returns 1
#   pf_queue_count      messages in the queue now (maildrop incoming active deferred hold)
#   pf_queue_empty      status 0 when the queue is empty
#   pf_wait_queue_empty [TIMEOUT]   (default 10 s)
#   pf_queue_ids        queue ids of the messages in the queue now, one a line
#   pf_log_ids [ERE]    queue ids that Postfix's cleanup logged (every message it accepted,
#                       first first); with ERE, only ids having a log line that matches it
#                       (e.g. 'to=<info@respectphoneline\.test>', 'milter-reject')
#   pf_flush            attempt to deliver everything queued now (postqueue -f)
#   pf_log [N]          print Postfix's log (its last N lines)
#   pf_postconf ARGS... postconf on this instance (e.g. `pf_postconf -h smtpd_milters`)
#   pf_set NAME=VALUE...   change main.cf settings and reload
#   pf_set_milter SPEC  point smtpd_milters/non_smtpd_milters at SPEC ("" removes) and reload
#   pf_reload           postfix reload (waits a moment so new smtpd processes use it)
#   pf_sendmail ARGS... Postfix's sendmail(1) for this instance (local submission: pickup,
#                       non_smtpd_milters), e.g. `pf_sendmail -f a@b -t <msg`
#   pf_as_mail CMD...   run CMD as the mail store's user (PF_MAIL_UID/GID, no other groups)
#   pf_add_mailbox ADDRESS...   make more virtual mailboxes (reloads Postfix)
#   pf_sink_files       files smtp-sink saved, oldest first
#   pf_doveadm ARGS...  doveadm for the private Dovecot (e.g. force-resync -u USER '*')
#   pf_dovecot_stop / pf_dovecot_start
#                       stop the private Dovecot alone (IMAP, LMTP, doveadm, SMTP AUTH gone),
#                       start it again with the same config and users
#   pf_count USER FOLDER ID
#                       how many messages in USER's FOLDER Dovecot finds with ID in their
#                       Message-ID
#   pf_mail_home ADDRESS   the Dovecot home of a mailbox: PF_MAIL_DIR/<domain>/<local part>
#   pf_imap USER STATEMENTS  an IMAP session as USER, running Python STATEMENTS with M the
#                       logged-in imaplib connection
#   pf_imap_view USER   what USER's mail client shows after a fresh login: every folder and
#                       every message downloaded whole, as JSON (lib/imap_view.py); fails on
#                       any IMAP error and on a message SELECT counts but FETCH cannot give
#
# Exported by pf_start:
#   PF_DIR              the test folder (DIR)
#   PF_CONFIG_DIR       DIR/postfix/etc (main.cf, master.cf, the virtual mailbox map)
#   PF_QUEUE_DIR, PF_DATA_DIR   DIR/postfix/queue, DIR/postfix/data
#   PF_PORT             smtpd on 127.0.0.1 ({daemon_name} is mx.respect.test, Postfix's
#                       default $myhostname); mynetworks is 127.0.0.1/32 only, so a client on
#                       127.0.0.2 (swaks --local-interface 127.0.0.2) is an outsider
#   PF_SUBMISSION_PORT  smtpd on 127.0.0.1 with SMTP AUTH, {daemon_name} ORIGINATING; only
#                       authenticated clients may send (PF_SUBMISSION_RESTRICTIONS changes it)
#   PF_LOG              Postfix's log file (maillog_file through postlogd)
#   PF_MAIL_DIR         DIR/mail = virtual_mailbox_base: each address of PF_MAILBOXES (and of
#                       pf_add_mailbox) is delivered by Postfix's virtual(8) to the Maildir
#                       PF_MAIL_DIR/<domain>/<local part>/ (lower-cased); other addresses in
#                       PF_DOMAINS are rejected "User unknown" (or, with PF_CATCHALL=1, go to
#                       PF_MAIL_DIR/<domain>/catchall/)
#   PF_MAIL_USER, PF_MAIL_UID, PF_MAIL_GID   owner of delivered mail (Postfix's virtual(8)
#                       will not deliver as root)
#   SINK_DIR, PF_SINK_PORT   mail to other domains is relayed to smtp-sink on 127.0.0.1:
#                       PF_SINK_PORT, which saves each transaction as one file in SINK_DIR:
#                       X-Client-Addr/-Proto, X-Helo-Args, X-Mail-Args, X-Rcpt-Args lines,
#                       smtp-sink's Received line, then the message as Postfix sent it
#   PF_AUTH_USER, PF_AUTH_PASS   the SMTP AUTH user (Dovecot passwd-file; {auth_authen} is
#                       PF_AUTH_USER)
#   PF_AUTH_SOCKET      Dovecot's auth socket that Postfix uses (smtpd_sasl_type = dovecot)
#   PF_IMAP_PORT        Dovecot IMAP on 127.0.0.1, no TLS, plaintext login allowed; every
#                       PF_DOVECOT_USERS address logs in with PF_AUTH_PASS
#   PF_DOVECOT_CONF, PF_DOVECOT_LOG
#   PF_LMTP_SOCKET      Dovecot's LMTP socket (with PF_MAIL_FORMAT), which Postfix delivers to
#   PF_DOVEADM_PORT     doveadm's HTTP API on 127.0.0.1 (with PF_DOVEADM_API_KEY), at
#                       http://127.0.0.1:PF_DOVEADM_PORT/doveadm/v1
#   PF_MILTER           the MILTER_SPEC given to pf_start ("" when none)
# Knobs read by pf_start (set before calling it):
#   PF_DOMAINS          virtual_mailbox_domains, default "respectphoneline.test
#                       mensadviceline.test respect.test" (two helplines and the staff domain)
#   PF_MAILBOXES        the virtual mailboxes: info@, review@ and quality-review@ of both
#                       helplines, staff@, alice@ and bob@respect.test
#   PF_CATCHALL=1       also deliver unknown local parts (see PF_MAIL_DIR)
#   PF_MAIL_USER        default rmtest, a system user made on first use (useradd --system;
#                       the one change pf_start makes outside DIR)
#   PF_AUTH_USER, PF_AUTH_PASS   default staff@respect.test / password
#   PF_DOVECOT_USERS    IMAP logins besides PF_AUTH_USER, default the helplines' info@
#   PF_SUBMISSION_RESTRICTIONS   the submission port's smtpd_relay_restrictions, default
#                       "permit_sasl_authenticated,reject"
#   PF_MAIL_FORMAT      unset: Postfix's virtual(8) writes the Maildirs itself (Dovecot only
#                       reads them; any address is a Dovecot user). maildir, mbox, sdbox or
#                       mdbox: Postfix hands every virtual mailbox's mail to Dovecot's LMTP
#                       (virtual_transport = lmtp:unix:PF_LMTP_SOCKET), which stores it in
#                       that format under pf_mail_home (maildir: the home itself, as without
#                       PF_MAIL_FORMAT; mbox: ~/mail with INBOX ~/mail/inbox; sdbox: ~/sdbox;
#                       mdbox: ~/mdbox), so Dovecot's indexes and caches are its own. Its
#                       users are then a passwd-file listing PF_MAILBOXES, PF_AUTH_USER and
#                       PF_DOVECOT_USERS (all log in with PF_AUTH_PASS), which Dovecot can
#                       iterate (`doveadm user '*@respect.test'`); PF_CATCHALL is not offered
#   PF_MAIL_SEPARATOR   the namespace's hierarchy separator, default "." for Maildir and "/"
#                       for the other formats
#   PF_LAZY_EXPUNGE=1   Dovecot's lazy_expunge plugin: every expunged message is first copied
#                       into the user's folder EXPUNGED (made when missing)
#   PF_DOVECOT_ACL=1    Dovecot's ACLs (acl and imap_acl plugins, vfile ACL files beside each
#                       folder, the shared-mailboxes dict in PF_DOVECOT_DIR/shared) and a shared
#                       namespace: a user given rights on another user's folder (doveadm acl
#                       set -u OWNER FOLDER user=USER lookup ...) sees it over IMAP as
#                       shared/<owner address>/FOLDER. Needs PF_MAIL_SEPARATOR=/ (with ".",
#                       Dovecot would cut the owner's address at its first dot). A folder
#                       without an ACL file gives its owner all rights and others none
#   PF_DOVEADM_API_KEY  set: doveadm's HTTP API listens on 127.0.0.1:PF_DOVEADM_PORT with this
#                       doveadm_api_key; PF_DOVEADM_ALLOWED_COMMANDS (comma-separated command
#                       names as doveadm spells them, "mailbox status"; default all) is its
#                       doveadm_allowed_commands
#
# How it is built, and why:
# - `postfix -c DIR/postfix/etc start`: every command given -c (and every process master
#   starts, through the MAIL_CONFIG variable) works on this instance only. The queue folders
#   are made as Postfix's postfix-files says (what `post-install create-missing` does, in a
#   tenth of its time), then `postfix start` runs with quick-start; `postfix set-permissions`
#   is not used: it would also chown the machine's shared Postfix files.
# - No service is chrooted (master.cf chroot column "n"), so absolute paths (Dovecot's auth
#   socket, milter unix sockets, the Maildirs) work as written.
# - Logging: maillog_file with the postlogd service, no syslog. maillog_file must start with
#   one of maillog_file_prefixes (default "/var, /dev/stdout"), so that is set to DIR.
# - DNS is never asked: smtp_dns_support_level = disabled, the relayhost is a bracketed IP,
#   smtpd_peername_lookup = no (client names are "unknown"), inet_protocols = ipv4.
# - Speed: queue_run_delay/backoff 1-2 s, in_flow_delay = 0 and smtpd_error_sleep_time = 0
#   (a rejected command would otherwise cost a second), delay_warning_time = 0. Generated
#   config files are dated 10 s back: Postfix waits until main.cf is over a second old
#   before it trusts it (2 s lost at each start otherwise). Dovecot answers a wrong password
#   at once (auth_failure_delay = 0, no anvil auth penalty).
# - Milter macros, as the milter needs them: milter_connect_macros (j {daemon_name}
#   {daemon_addr} v _), milter_mail_macros (i {auth_type} {auth_authen} {auth_author}
#   {mail_addr} {mail_host} {mail_mailer}), milter_end_of_data_macros (i {auth_authen}
#   {daemon_name}); milter_protocol = 6.
# - smtpd_authorized_xclient_hosts = 127.0.0.1, so a test may use swaks --xclient to play
#   any client address or name.

: "${PF_DOMAINS:=respectphoneline.test mensadviceline.test respect.test}"
: "${PF_MAIL_USER:=rmtest}"
: "${PF_AUTH_USER:=staff@respect.test}"
: "${PF_AUTH_PASS:=password}"
: "${PF_DOVECOT_USERS:=info@respectphoneline.test info@mensadviceline.test}"
: "${PF_SUBMISSION_RESTRICTIONS:=permit_sasl_authenticated,reject}"
: "${PF_MAILBOXES:=info@respectphoneline.test review@respectphoneline.test quality-review@respectphoneline.test info@mensadviceline.test review@mensadviceline.test quality-review@mensadviceline.test staff@respect.test alice@respect.test bob@respect.test}"

PF_HOSTNAME=mx.respect.test

_pf_say() { echo "postfix.sh: $*" >&2; }

# The owner of delivered mail. Postfix's virtual(8) refuses uid 0, and a user of our own
# (rather than nobody) keeps the test mail apart from anything else nobody owns.
_pf_mail_user() {
  if ! getent passwd "$PF_MAIL_USER" >/dev/null; then
    # Two tests starting at once may race here: useradd locks, the loser fails, getent decides.
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$PF_MAIL_USER" >/dev/null 2>&1 || true
    getent passwd "$PF_MAIL_USER" >/dev/null || {
      _pf_say "cannot create the mail user $PF_MAIL_USER"
      return 1
    }
  fi
  PF_MAIL_UID=$(id -u "$PF_MAIL_USER")
  PF_MAIL_GID=$(id -g "$PF_MAIL_USER")
  export PF_MAIL_USER PF_MAIL_UID PF_MAIL_GID
}

# Sets every PF_* path from DIR, so that pf_stop DIR works in a shell that never ran pf_start.
_pf_paths() {
  PF_DIR=$1
  PF_CONFIG_DIR=$PF_DIR/postfix/etc
  PF_QUEUE_DIR=$PF_DIR/postfix/queue
  PF_DATA_DIR=$PF_DIR/postfix/data
  PF_LOG=$PF_DIR/postfix.log
  PF_MAIL_DIR=$PF_DIR/mail
  SINK_DIR=$PF_DIR/sink
  PF_DOVECOT_DIR=$PF_DIR/dovecot
  PF_DOVECOT_CONF=$PF_DOVECOT_DIR/dovecot.conf
  PF_DOVECOT_LOG=$PF_DOVECOT_DIR/dovecot.log
  PF_AUTH_SOCKET=$PF_DOVECOT_DIR/run/auth-postfix
  PF_LMTP_SOCKET=$PF_DOVECOT_DIR/run/lmtp-postfix
  export PF_DIR PF_CONFIG_DIR PF_QUEUE_DIR PF_DATA_DIR PF_LOG PF_MAIL_DIR SINK_DIR \
    PF_DOVECOT_DIR PF_DOVECOT_CONF PF_DOVECOT_LOG PF_AUTH_SOCKET PF_LMTP_SOCKET
}

# ---------------------------------------------------------------------------------------
# smtp-sink: the outside world

_pf_start_sink() {
  mkdir -p "$SINK_DIR" && chown "$PF_MAIL_UID:$PF_MAIL_GID" "$SINK_DIR" || return 1
  # smtp-sink must drop root (-u). -d: one file per transaction, named from the strftime
  # template plus a random suffix. Started from a subshell so it is not a job of the test
  # script (a bare `wait` there would hang on it); the pid comes from a pid file written by
  # the shell that execs smtp-sink.
  (bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PF_DIR/sink.pid" \
    smtp-sink -u "$PF_MAIL_USER" -d "$SINK_DIR/%Y%m%d%H%M%S." \
    "127.0.0.1:$PF_SINK_PORT" 64 </dev/null >>"$PF_DIR/sink.out" 2>&1 &)
  wait_for 30 port_listening "$PF_SINK_PORT" || {
    _pf_say "smtp-sink did not start on port $PF_SINK_PORT: $(cat "$PF_DIR/sink.out" 2>/dev/null)"
    return 1
  }
}

# Pid from FILE when that process is alive and its command line contains WORD.
_pf_live_pid() {
  local file=$1 word=$2 pid
  [ -f "$file" ] || return 1
  pid=$(head -n 1 "$file" 2>/dev/null | tr -dc '0-9')
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word" || return 1
  echo "$pid"
}

# Status 0 when PID has exited (a zombie waiting for its parent counts as gone).
_pf_gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# Ends PID (TERM, then KILL after TIMEOUT seconds) and returns once it is gone: a process
# just sent KILL is still there for a moment, longer on a loaded machine.
_pf_kill_wait() {
  local pid=$1 timeout=${2:-15}
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_for "$timeout" _pf_gone "$pid" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait_for 15 _pf_gone "$pid" || _pf_say "process $pid did not end after KILL"
}

# ---------------------------------------------------------------------------------------
# Dovecot: SMTP AUTH for Postfix (smtpd_sasl_type = dovecot) and IMAP for the tests

# The mail_location for PF_MAIL_FORMAT (every format below the user's home).
_pf_mail_location() {
  case "${PF_MAIL_FORMAT:-}" in
    "") echo "maildir:$PF_MAIL_DIR/%Ld/%Ln" ;;
    maildir) echo "maildir:~" ;;
    mbox) echo "mbox:~/mail:INBOX=~/mail/inbox" ;;
    sdbox) echo "sdbox:~/sdbox" ;;
    mdbox) echo "mdbox:~/mdbox" ;;
    *) _pf_say "PF_MAIL_FORMAT must be maildir, mbox, sdbox or mdbox: '$PF_MAIL_FORMAT'"; return 1 ;;
  esac
}

pf_mail_home() {
  local a
  a=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
  echo "$PF_MAIL_DIR/${a#*@}/${a%@*}"
}

# Appends the Dovecot users ADDRESS... to its passwd-file (skipping those already there).
# With PF_MAIL_FORMAT each line carries the mail store's uid, gid and the home, so the file
# is the userdb too (Dovecot re-reads it when it changes).
_pf_add_dovecot_users() {
  local f=$PF_DOVECOT_DIR/users u
  for u in "$@"; do
    u=$(printf '%s' "$u" | tr '[:upper:]' '[:lower:]')
    grep -q "^$u:" "$f" 2>/dev/null && continue
    if [ -n "${PF_MAIL_FORMAT:-}" ]; then
      printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$u" "$PF_AUTH_PASS" "$PF_MAIL_UID" "$PF_MAIL_GID" "$(pf_mail_home "$u")" >>"$f"
    else
      printf '%s:{PLAIN}%s::::::\n' "$u" "$PF_AUTH_PASS" >>"$f"
    fi
  done
  # Test credentials only; Dovecot's auth process (user dovecot) must read them.
  chmod 0644 "$f"
}

# The userdb: with PF_MAIL_FORMAT the passwd-file (iterable, as doveadm's user masks need);
# else any address is a user, so doveadm -u works for every mailbox Postfix delivered to.
_pf_dovecot_userdb() {
  if [ -n "${PF_MAIL_FORMAT:-}" ]; then
    printf 'userdb {\n  driver = passwd-file\n  args = username_format=%%Lu %s\n}\n' "$PF_DOVECOT_DIR/users"
  else
    printf 'userdb {\n  driver = static\n  args = uid=%s gid=%s home=%s/%%Ld/%%Ln allow_all_users=yes\n}\n' \
      "$PF_MAIL_UID" "$PF_MAIL_GID" "$PF_MAIL_DIR"
  fi
}

_pf_lazy_expunge_mailbox() {
  [ "${PF_LAZY_EXPUNGE:-0}" = 1 ] || return 0
  printf '  mailbox EXPUNGED {\n    auto = create\n  }\n'
}

_pf_lazy_expunge_plugin() {
  [ "${PF_LAZY_EXPUNGE:-0}" = 1 ] || return 0
  # A message moved between folders is copied there only when its last instance goes.
  printf 'mail_plugins = $mail_plugins lazy_expunge\nplugin {\n  lazy_expunge = EXPUNGED\n  lazy_expunge_only_last_instance = yes\n}\n'
}

# The format's location for the shared namespace: the owner's home (%%h) in place of ~; the
# reader's own flags (\Seen...) kept apart, outside every folder of the reader's mailbox
# (Maildir++ lists dot folders only, mbox every file under ~/mail).
_pf_shared_location() {
  local pvt=INDEXPVT=~/acl-private/shared/%%u
  case "${PF_MAIL_FORMAT:-}" in
    "" | maildir) echo "maildir:%%h:$pvt" ;;
    mbox) echo "mbox:%%h/mail:INBOX=%%h/mail/inbox:$pvt" ;;
    sdbox | mdbox) echo "$PF_MAIL_FORMAT:%%h/$PF_MAIL_FORMAT:$pvt" ;;
  esac
}

# After every global mail_plugins line: the imap block's $mail_plugins is expanded where it
# stands.
_pf_acl_conf() { # SEPARATOR
  [ "${PF_DOVECOT_ACL:-0}" = 1 ] || return 0
  mkdir -p "$PF_DOVECOT_DIR/shared" && chown "$PF_MAIL_UID:$PF_MAIL_GID" "$PF_DOVECOT_DIR/shared" || return 1
  cat <<EOF
mail_plugins = \$mail_plugins acl
protocol imap {
  mail_plugins = \$mail_plugins imap_acl
}
plugin {
  acl = vfile
  # Which users may see which owners' folders; written as the mail store's user.
  acl_shared_dict = file:$PF_DOVECOT_DIR/shared/shared-mailboxes.db
}
namespace {
  type = shared
  separator = $1
  prefix = shared$1%%u$1
  location = $(_pf_shared_location)
  subscriptions = no
  list = children
}
EOF
}

# LMTP for Postfix's deliveries (PF_MAIL_FORMAT), and doveadm's HTTP API (PF_DOVEADM_API_KEY).
_pf_dovecot_services() {
  if [ -n "${PF_MAIL_FORMAT:-}" ]; then
    cat <<EOF
# Postfix's lmtp client runs as postfix, unchrooted: it reaches this absolute path.
service lmtp {
  unix_listener lmtp-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
postmaster_address = postmaster@respect.test
EOF
  fi
  if [ -n "${PF_DOVEADM_API_KEY:-}" ]; then
    cat <<EOF
doveadm_api_key = $PF_DOVEADM_API_KEY
${PF_DOVEADM_ALLOWED_COMMANDS:+doveadm_allowed_commands = $PF_DOVEADM_ALLOWED_COMMANDS}
service doveadm {
  inet_listener http {
    address = 127.0.0.1
    port = $PF_DOVEADM_PORT
    ssl = no
  }
}
EOF
  fi
}

_pf_write_dovecot_conf() {
  local d=$PF_DOVECOT_DIR location protocols=imap sep
  mkdir -p "$d/run" "$d/state" && chmod 0755 "$d" || return 1
  location=$(_pf_mail_location) || return 1
  [ -z "${PF_MAIL_FORMAT:-}" ] || protocols="imap lmtp"
  case "${PF_MAIL_FORMAT:-maildir}" in maildir) sep=${PF_MAIL_SEPARATOR:-.} ;; *) sep=${PF_MAIL_SEPARATOR:-/} ;; esac
  if [ "${PF_DOVECOT_ACL:-0}" = 1 ] && [ "$sep" = . ]; then
    # The shared namespace's prefix holds the owner's address, read up to the next separator.
    _pf_say "PF_DOVECOT_ACL=1 needs PF_MAIL_SEPARATOR=/ (a '.' separator cuts the addresses in shared folder names)"
    return 1
  fi
  : >"$d/users"
  # shellcheck disable=SC2086  # blank-separated lists
  _pf_add_dovecot_users "$PF_AUTH_USER" $PF_DOVECOT_USERS ${PF_MAIL_FORMAT:+$PF_MAILBOXES}
  cat >"$PF_DOVECOT_CONF" <<EOF
# Private Dovecot for the tests (tests/e2e/lib/postfix.sh); nothing from /etc/dovecot.
instance_name = rmtest-$PF_IMAP_PORT
base_dir = $d/run
state_dir = $d/state
log_path = $PF_DOVECOT_LOG
info_log_path = $PF_DOVECOT_LOG
protocols = $protocols
listen = 127.0.0.1
ssl = no
# Loopback without TLS: plaintext logins are how the tests log in.
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered at once: no 2 s failure delay, and no growing per-IP penalty
# (anvil) that would slow every later login from 127.0.0.1 in the same test.
auth_failure_delay = 0
auth_username_format = %Lu
first_valid_uid = 1
mail_location = $location
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $d/users
}
$(_pf_dovecot_userdb)
namespace inbox {
  inbox = yes
  separator = $sep
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
$(_pf_lazy_expunge_mailbox)
}
$(_pf_lazy_expunge_plugin)
$(_pf_acl_conf "$sep")
service auth {
  # Postfix's smtpd runs as the postfix user, unchrooted: it reaches this absolute path.
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PF_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
$(_pf_dovecot_services)
EOF
}

_pf_start_dovecot() {
  _pf_write_dovecot_conf || return 1
  pf_dovecot_start
}

pf_dovecot_start() {
  dovecot -c "$PF_DOVECOT_CONF" >>"$PF_DOVECOT_DIR/start.out" 2>&1 || {
    _pf_say "dovecot did not start: $(cat "$PF_DOVECOT_DIR/start.out" "$PF_DOVECOT_LOG" 2>/dev/null)"
    return 1
  }
  local ready=(test -S "$PF_AUTH_SOCKET")
  if ! wait_for 30 "${ready[@]}" || ! wait_for 30 port_listening "$PF_IMAP_PORT" ||
    { [ -n "${PF_MAIL_FORMAT:-}" ] && ! wait_for 30 test -S "$PF_LMTP_SOCKET"; } ||
    { [ -n "${PF_DOVEADM_API_KEY:-}" ] && ! wait_for 30 port_listening "$PF_DOVEADM_PORT"; }; then
    _pf_say "dovecot's sockets or ports did not appear: $(cat "$PF_DOVECOT_LOG" 2>/dev/null)"
    return 1
  fi
}

# Dovecot's master and its children, gone when this returns (the sockets it leaves behind
# are refused connections, as on a server where Dovecot is down).
pf_dovecot_stop() {
  local dove kids p
  dove=$(_pf_live_pid "$PF_DOVECOT_DIR/run/master.pid" "$PF_DOVECOT_CONF") || return 0
  kids=$(cat "/proc/$dove/task/$dove/children" 2>/dev/null || true)
  _pf_kill_wait "$dove" 20
  for p in $kids; do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q '^dovecot'; then
      _pf_kill_wait "$p" 5
    fi
  done
}

pf_doveadm() { doveadm -c "$PF_DOVECOT_CONF" "$@"; }

pf_count() { pf_doveadm search -u "$1" mailbox "$2" header message-id "$3" 2>/dev/null | wc -l; }

# pf_imap USER PYTHON-STATEMENTS: an IMAP session as USER (password PF_AUTH_PASS), the
# statements run with M the logged-in imaplib connection (lib/imap_session.py).
pf_imap() { "$(e2e_python)" "$E2E_LIB_DIR/imap_session.py" "$PF_IMAP_PORT" "$1" "$PF_AUTH_PASS" "$2"; }

pf_imap_view() { "$(e2e_python)" "$E2E_LIB_DIR/imap_view.py" "$PF_IMAP_PORT" "$1" "$PF_AUTH_PASS"; }

# ---------------------------------------------------------------------------------------
# Postfix

_pf_write_master_cf() {
  cat >"$PF_CONFIG_DIR/master.cf" <<EOF
# Private Postfix for the tests (tests/e2e/lib/postfix.sh). Nothing is chrooted.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$PF_PORT inet n - n - - smtpd
127.0.0.1:$PF_SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=$PF_SUBMISSION_RESTRICTIONS
  -o milter_macro_daemon_name=ORIGINATING
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# Writes the virtual mailbox map from ADDRESS... (and PF_CATCHALL). Postfix refuses regexp
# substitution ($1) in virtual_mailbox_maps, so each mailbox is listed. texthash: needs no
# postmap (whose fsync of a .db costs up to seconds on a busy disk), but is read when a
# process starts, so a change needs a reload.
_pf_write_mailbox_map() {
  local a map=$PF_CONFIG_DIR/virtual_mailbox d
  : >"$map.new"
  for a in "$@"; do
    a=$(printf '%s' "$a" | tr '[:upper:]' '[:lower:]')
    case "$a" in
      [a-z0-9]*@*[a-z0-9]) ;;
      *) _pf_say "not a mailbox address: '$a'"; rm -f "$map.new"; return 1 ;;
    esac
    case "${a%@*}" in *[!a-z0-9._+-]*) _pf_say "unsafe local part: '$a'"; rm -f "$map.new"; return 1 ;; esac
    printf '%s %s/%s/\n' "$a" "${a#*@}" "${a%@*}" >>"$map.new"
  done
  if [ "${PF_CATCHALL:-0}" = 1 ]; then
    for d in $PF_DOMAINS; do printf '@%s %s/catchall/\n' "$d" "$d" >>"$map.new"; done
  fi
  mv "$map.new" "$map" && _pf_backdate "$map"
}

pf_add_mailbox() {
  local map=$PF_CONFIG_DIR/virtual_mailbox
  # shellcheck disable=SC2046  # one address a line, no blanks
  _pf_write_mailbox_map $(awk '$1 !~ /^@/ { print $1 }' "$map") "$@" || return 1
  [ -z "${PF_MAIL_FORMAT:-}" ] || _pf_add_dovecot_users "$@" || return 1
  if _pf_master_running; then pf_reload; fi
}

_pf_write_main_cf() {
  local milter=$1
  shift
  : >"$PF_CONFIG_DIR/main.cf"
  local settings=(
    "compatibility_level = 3.6"
    "queue_directory = $PF_QUEUE_DIR"
    "data_directory = $PF_DATA_DIR"
    "mail_owner = postfix"
    "setgid_group = postdrop"
    "maillog_file = $PF_LOG"
    "maillog_file_prefixes = $PF_DIR"
    "myhostname = $PF_HOSTNAME"
    "mydomain = respect.test"
    "myorigin = \$myhostname"
    "mydestination ="
    "inet_interfaces = 127.0.0.1"
    "inet_protocols = ipv4"
    "mynetworks = 127.0.0.1/32"
    "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
    "smtpd_authorized_xclient_hosts = 127.0.0.1/32"
    "smtpd_peername_lookup = no"
    "smtpd_sasl_type = dovecot"
    "smtpd_sasl_path = $PF_AUTH_SOCKET"
    "smtpd_sasl_auth_enable = no"
    "alias_maps ="
    "alias_database ="
    "local_recipient_maps ="
    "relay_domains ="
    "virtual_mailbox_domains = $PF_DOMAINS"
    "virtual_mailbox_base = $PF_MAIL_DIR"
    "virtual_mailbox_maps = texthash:$PF_CONFIG_DIR/virtual_mailbox"
    "virtual_uid_maps = static:$PF_MAIL_UID"
    "virtual_gid_maps = static:$PF_MAIL_GID"
    "virtual_minimum_uid = 1"
    "relayhost = [127.0.0.1]:$PF_SINK_PORT"
    "smtp_dns_support_level = disabled"
    "smtputf8_enable = no"
    "biff = no"
    "append_dot_mydomain = no"
    "delay_warning_time = 0"
    "queue_run_delay = 1s"
    "minimal_backoff_time = 1s"
    "maximal_backoff_time = 2s"
    "in_flow_delay = 0"
    "smtpd_error_sleep_time = 0"
    "milter_protocol = 6"
    "milter_default_action = tempfail"
    "milter_connect_macros = j {daemon_name} {daemon_addr} v _"
    "milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}"
    "milter_end_of_data_macros = i {auth_authen} {daemon_name}"
    "smtpd_milters = $milter"
    "non_smtpd_milters = $milter"
  )
  [ -z "${PF_MAIL_FORMAT:-}" ] || settings+=("virtual_transport = lmtp:unix:$PF_LMTP_SOCKET")
  printf '%s\n' "${settings[@]}" >"$PF_CONFIG_DIR/main.cf"
  _pf_backdate "$PF_CONFIG_DIR/main.cf" "$PF_CONFIG_DIR/master.cf"
  # shellcheck disable=SC2086  # PF_MAILBOXES is a blank-separated list
  _pf_write_mailbox_map $PF_MAILBOXES || return 1
  # The caller's NAME=VALUE settings, last, through postconf (which checks the syntax).
  if [ "$#" -gt 0 ]; then
    postconf -c "$PF_CONFIG_DIR" -e "$@" && _pf_backdate "$PF_CONFIG_DIR/main.cf" || return 1
  fi
}

pf_postconf() { postconf -c "$PF_CONFIG_DIR" "$@"; }

# Postfix will not read a configuration file that changed within the last second or so: it
# re-reads it every 0.3 s until it is that old (so as not to read a half-edited file), which
# cost 2 s at each start. Files written here are complete, so they are dated 10 s back.
_pf_backdate() { touch -d '-10 seconds' "$@"; }

# Makes the queue and data folders with the owners and modes of Postfix's postfix-files,
# as `post-install create-missing` would (that shell script takes about two seconds), and
# marks the queue quick-start, so that `postfix start` skips its (slow) install checks.
_pf_make_queue_dirs() {
  local files path type owner group mode _
  files="$(postconf -dh meta_directory)/postfix-files"
  [ -r "$files" ] || return 0 # `postfix start` will create them itself
  # shellcheck disable=SC2016  # the $names are postfix-files' own, matched literally
  while IFS=: read -r path type owner group mode _; do
    [ "$type" = d ] || continue
    case "$path" in
      '$queue_directory'*) path=$PF_QUEUE_DIR${path#\$queue_directory} ;;
      '$data_directory'*) path=$PF_DATA_DIR${path#\$data_directory} ;;
      *) continue ;;
    esac
    owner=${owner/\$mail_owner/postfix}
    group=${group/\$setgid_group/postdrop}
    [ "$group" != - ] || group=""
    mkdir -p "$path" && chown "$owner${group:+:$group}" "$path" && chmod "$mode" "$path" || return 1
  done <"$files"
  touch "$PF_QUEUE_DIR/quick-start"
}

# Pid of this instance's master (alive, and carrying this config dir), or status 1.
_pf_master_pid() {
  local pid
  pid=$(_pf_live_pid "$PF_QUEUE_DIR/pid/master.pid" master) || return 1
  grep -qzxF -- "MAIL_CONFIG=$PF_CONFIG_DIR" "/proc/$pid/environ" 2>/dev/null || return 1
  echo "$pid"
}

_pf_master_running() { _pf_master_pid >/dev/null; }

pf_start() {
  local dir=${1:-} milter=${2:-}
  local extra=("${@:3}")
  case "$dir" in
    /*) ;;
    *) _pf_say "pf_start: DIR must be an absolute path: '$dir'"; return 1 ;;
  esac
  case "$dir" in
    *[[:space:],]*) _pf_say "pf_start: DIR must not contain blanks or commas: '$dir'"; return 1 ;;
  esac
  [ "$(id -u)" -eq 0 ] || { _pf_say "pf_start: needs root"; return 1; }
  local tool
  for tool in postfix postconf postqueue smtp-sink dovecot doveadm; do
    command -v "$tool" >/dev/null || { _pf_say "pf_start: $tool is not installed"; return 1; }
  done

  _pf_paths "$dir"
  PF_MILTER=$milter
  export PF_MILTER
  if _pf_master_running; then
    _pf_say "pf_start: a Postfix already runs on $PF_CONFIG_DIR"
    return 1
  fi
  _pf_mail_user || return 1

  local ports
  ports=$(free_ports 5 | tr '\n' ' ')
  read -r PF_PORT PF_SUBMISSION_PORT PF_SINK_PORT PF_IMAP_PORT PF_DOVEADM_PORT <<<"$ports"
  export PF_PORT PF_SUBMISSION_PORT PF_SINK_PORT PF_IMAP_PORT PF_DOVEADM_PORT PF_AUTH_USER PF_AUTH_PASS
  mkdir -p "$PF_DIR" && printf '%s\n%s\n' "$ports" "$milter" >"$PF_DIR/instance" || return 1
  if [ -n "${PF_MAIL_FORMAT:-}" ] && [ "${PF_CATCHALL:-0}" = 1 ]; then
    _pf_say "pf_start: PF_CATCHALL needs Postfix's own delivery (no PF_MAIL_FORMAT)"
    return 1
  fi

  mkdir -p "$PF_DIR" "$PF_CONFIG_DIR" "$PF_QUEUE_DIR" "$PF_DATA_DIR" "$PF_MAIL_DIR" || return 1
  # Postfix's own checks want root-owned, not group/other-writable config and queue roots;
  # its users must be able to walk down to them.
  chmod 0755 "$PF_DIR" "$PF_DIR/postfix" "$PF_CONFIG_DIR" "$PF_QUEUE_DIR" || return 1
  _pf_make_queue_dirs || return 1
  # A DIR under a folder closed to others (/root/..., a 0700 mktemp) would fail later in
  # obscure ways: Postfix's daemons, Dovecot and the mail user must reach their folders.
  if ! runuser -u postfix -- test -x "$PF_QUEUE_DIR" || ! runuser -u "$PF_MAIL_USER" -- test -x "$PF_MAIL_DIR"; then
    _pf_say "pf_start: the postfix and $PF_MAIL_USER users cannot enter $PF_DIR (a parent folder is closed to others)"
    return 1
  fi
  chown "$PF_MAIL_UID:$PF_MAIL_GID" "$PF_MAIL_DIR" || return 1
  : >>"$PF_LOG"

  _pf_write_master_cf || return 1
  _pf_write_main_cf "$milter" "${extra[@]}" || return 1

  _pf_start_sink || { pf_stop "$dir"; return 1; }
  _pf_start_dovecot || { pf_stop "$dir"; return 1; }

  if ! postfix -c "$PF_CONFIG_DIR" start >"$PF_DIR/postfix-start.out" 2>&1; then
    _pf_say "postfix start failed: $(cat "$PF_DIR/postfix-start.out")"
    _pf_say "log: $(tail -n 20 "$PF_LOG")"
    pf_stop "$dir"
    return 1
  fi
  # master binds the smtpd ports before `postfix start` returns; check rather than trust.
  if ! wait_for 30 port_listening "$PF_PORT" || ! wait_for 30 port_listening "$PF_SUBMISSION_PORT"; then
    _pf_say "Postfix does not listen on $PF_PORT/$PF_SUBMISSION_PORT; log: $(tail -n 20 "$PF_LOG")"
    pf_stop "$dir"
    return 1
  fi
  return 0
}

pf_use() {
  local ports
  [ -f "$1/instance" ] || { _pf_say "pf_use: no instance was started in $1"; return 1; }
  _pf_paths "$1"
  { read -r ports; read -r PF_MILTER || true; } <"$1/instance"
  read -r PF_PORT PF_SUBMISSION_PORT PF_SINK_PORT PF_IMAP_PORT PF_DOVEADM_PORT <<<"$ports"
  export PF_PORT PF_SUBMISSION_PORT PF_SINK_PORT PF_IMAP_PORT PF_DOVEADM_PORT PF_MILTER
}

# Processes of this instance that outlived master: all carry MAIL_CONFIG=<config dir>.
_pf_instance_pids() {
  local env=$1
  # One grep over every environ (NUL-separated); unreadable or vanished ones are skipped.
  grep -lzxF -- "MAIL_CONFIG=$env" /proc/[0-9]*/environ 2>/dev/null |
    sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}

pf_stop() {
  local dir=${1:-${PF_DIR:-}} master dove sink kids="" p
  [ -n "$dir" ] || return 0
  _pf_paths "$dir"
  # TERM all three at once, then wait: Dovecot alone takes about a second to wind down.
  if master=$(_pf_master_pid); then
    # What `postfix stop` does (TERM to master, which ends its children), without its
    # one-second polling steps.
    echo "$(date '+%b %e %T') ${PF_HOSTNAME%%.*} postfix/pf_stop: stopping the Postfix mail system" >>"$PF_LOG"
    kill -TERM "$master" 2>/dev/null || true
  fi
  if dove=$(_pf_live_pid "$PF_DOVECOT_DIR/run/master.pid" "$PF_DOVECOT_CONF"); then
    # Its children call themselves "dovecot-<instance_name>/auth" and so on.
    kids=$(cat "/proc/$dove/task/$dove/children" 2>/dev/null || true)
    kill -TERM "$dove" 2>/dev/null || true
  fi
  if sink=$(_pf_live_pid "$PF_DIR/sink.pid" "$SINK_DIR/"); then
    kill -TERM "$sink" 2>/dev/null || true
  fi
  # master leads its process group: if it hangs, KILL the group (as `postfix stop` does),
  # then wait until it is gone, so that pf_stop returning means the instance has ended.
  if [ -n "$master" ] && ! wait_for 20 _pf_gone "$master"; then
    kill -KILL -- "-$master" 2>/dev/null || true
    wait_for 15 _pf_gone "$master" || _pf_say "Postfix's master $master did not end after KILL"
  fi
  [ -z "$dove" ] || _pf_kill_wait "$dove" 20
  [ -z "$sink" ] || _pf_kill_wait "$sink" 10
  # Whatever outlived its master, ended by pid: this instance's Postfix processes (they all
  # carry MAIL_CONFIG=<its config dir>) and Dovecot's children.
  for p in $(_pf_instance_pids "$PF_CONFIG_DIR"); do
    _pf_kill_wait "$p" 5
  done
  for p in $kids; do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q '^dovecot'; then
      _pf_kill_wait "$p" 5
    fi
  done
  return 0
}

# Count of master's "reload" lines in the log (one per reload it has carried out).
_pf_reload_count() { grep -cE 'postfix[^ ]*/master\[[0-9]+\]: reload ' "$PF_LOG" 2>/dev/null || true; }
_pf_reloaded_since() { [ "$(_pf_reload_count)" -gt "$1" ]; }

_pf_all_gone() {
  local pid
  for pid in "$@"; do _pf_gone "$pid" || return 1; done
}

pf_reload() {
  local before master old=()
  before=$(_pf_reload_count)
  master=$(_pf_master_pid || true)
  [ -z "$master" ] || mapfile -t old < <(pgrep -P "$master" -x smtpd || true)
  postfix -c "$PF_CONFIG_DIR" reload >/dev/null 2>&1 || return 1
  # master re-reads main.cf on HUP and logs it; new processes start with the new settings.
  if ! wait_for 30 _pf_reloaded_since "$before"; then
    _pf_say "pf_reload: master did not log the reload within 30 s"
    return 1
  fi
  # smtpd processes keep the old settings until they exit, which idle ones do on the reload
  # signal; one still serving a client ends with its session (5 s at most here).
  wait_for 5 _pf_all_gone "${old[@]}" || true
}

pf_set() {
  postconf -c "$PF_CONFIG_DIR" -e "$@" && _pf_backdate "$PF_CONFIG_DIR/main.cf" && pf_reload
}

pf_set_milter() {
  PF_MILTER=${1:-}
  export PF_MILTER
  pf_set "smtpd_milters = $PF_MILTER" "non_smtpd_milters = $PF_MILTER"
}

pf_sendmail() { sendmail -C "$PF_CONFIG_DIR" "$@"; }

pf_as_mail() { setpriv --reuid="$PF_MAIL_UID" --regid="$PF_MAIL_GID" --clear-groups "$@"; }

pf_flush() { postqueue -c "$PF_CONFIG_DIR" -f; }

pf_log() {
  if [ -n "${1:-}" ]; then tail -n "$1" "$PF_LOG"; else cat "$PF_LOG"; fi
}

pf_queue_count() {
  find "$PF_QUEUE_DIR"/{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | wc -l
}

pf_queue_empty() { [ "$(pf_queue_count)" -eq 0 ]; }

pf_wait_queue_empty() { wait_for "${1:-10}" pf_queue_empty; }

pf_queue_ids() {
  # postqueue -j: one JSON object a line (Postfix 3.1+).
  postqueue -c "$PF_CONFIG_DIR" -j 2>/dev/null | sed -nE 's/.*"queue_id": *"([^"]+)".*/\1/p'
}

pf_log_ids() {
  local re=${1:-} ids id
  ids=$(sed -nE 's/.*postfix[^ ]*\/cleanup\[[0-9]+\]: ([0-9A-Za-z]+): message-id=.*/\1/p' "$PF_LOG" | awk '!seen[$0]++')
  for id in $ids; do
    if [ -z "$re" ] || grep -E -- ": $id: " "$PF_LOG" | grep -qE -- "$re"; then
      echo "$id"
    fi
  done
}

pf_sink_files() {
  find "$SINK_DIR" -maxdepth 1 -type f -printf '%T@ %p\n' 2>/dev/null | sort -n | cut -d' ' -f2-
}

# Files that smtp-sink holds open (it writes each dump file while the transaction lasts).
_pf_sink_open_files() {
  local pid
  pid=$(_pf_live_pid "$PF_DIR/sink.pid" "$SINK_DIR/") || return 0
  find "/proc/$pid/fd" -type l -printf '%l\n' 2>/dev/null | grep -F "$SINK_DIR/" || true
}

# Count of files GLOB matches, none of them being written by smtp-sink (else -1).
_pf_glob_count() {
  local glob=$1 files f open
  files=$(shopt -s nullglob; for f in $glob; do [ -f "$f" ] && echo "$f"; done)
  open=$(_pf_sink_open_files)
  if [ -n "$open" ] && [ -n "$files" ] && grep -qxF -f <(echo "$open") <<<"$files"; then
    echo -1
  elif [ -z "$files" ]; then
    echo 0
  else
    wc -l <<<"$files"
  fi
}

_pf_glob_at_least() { [ "$(_pf_glob_count "$1")" -ge "$2" ]; }

pf_wait_delivered() {
  local glob=$1 want=$2 timeout=${3:-10}
  wait_for "$timeout" _pf_glob_at_least "$glob" "$want" && return 0
  _pf_say "pf_wait_delivered: $(_pf_glob_count "$glob") of $want files match $glob after ${timeout}s;" \
    "$(pf_queue_count) queued; log tail:"
  tail -n 15 "$PF_LOG" >&2 || true
  return 1
}
