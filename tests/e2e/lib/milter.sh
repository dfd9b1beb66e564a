# shellcheck shell=bash
# The real retention-milter for end-to-end tests: a config under the test folder, the
# daemon in the foreground, and helpers to read its index. Source after common.sh.
#
#   rm_milter_start DIR BIN [TOML...]   write DIR/milter/retention.toml (unix socket, index,
#                        key and a debug log under DIR/milter; the two test helplines) with
#                        the extra TOML lines appended to [milter], then start BIN -f.
#                        Runs as user nobody when root. Exports RM_CONF, RM_SOCKET (libmilter
#                        spec), RM_SOCKET_PATH, RM_INDEX, RM_KEY, RM_LOG, RM_MILTER_PID.
#   rm_milter_restart    stop and start again with the same config
#   rm_milter_stop       SIGTERM, wait; idempotent, safe in a cleanup
#   rm_sql SQL           run SQL on the index (sqlite3, read-only)
#   rm_digest ID         hex HMAC-SHA-256 of a Message-ID as the index keys it (brackets and
#                        white space removed), computed here independently of the product
#   rm_retain_date N     today (UTC) plus N calendar months, clamped, as YYYY-MM-DD
#   rm_line_toml         the [policy]/[[line]] part of the config; RM_REVIEW_TOML (TOML lines)
#                        is added to the respect-phoneline line
#   rm_share_index GID   restart the milter with its index folder shared with group GID
#                        (setgid, group read-write), as in production: the sweeper, run as
#                        the mail store's user, marks rows in the index the milter writes
# The miltertest scripts source this file for rm_line_toml and rm_retain_date alone.

RM_MILTER_PID=""

rm_line_toml() {
  cat <<TOML
[policy.email]
retain = "6 months"

[[line]]
tag = "respect-phoneline"
name = "Respect Phoneline"
addresses = ["info@respectphoneline.test"]
domains = ["respectphoneline.test"]
policy = "email"
${RM_REVIEW_TOML:-}

[[line]]
tag = "mens-advice-line"
name = "Men's Advice Line"
addresses = ["info@mensadviceline.test"]
domains = ["mensadviceline.test"]
policy = "email"
TOML
}

rm_milter_start() {
  local dir=$1 bin=$2
  shift 2
  local md=$dir/milter
  mkdir -p "$md/state"
  export RM_CONF=$md/retention.toml RM_SOCKET_PATH=$md/milter.sock RM_INDEX=$md/state/index.sqlite3
  export RM_KEY=$md/state/index.key RM_LOG=$md/milter.log RM_MILTER_BIN=$bin
  export RM_SOCKET="unix:$RM_SOCKET_PATH"
  local user_line="" group_line=""
  if [ "$(id -u)" = 0 ]; then
    user_line='user = "nobody"'
    chown nobody "$md/state"
    touch "$RM_LOG"
    chown nobody "$RM_LOG"
    getent group postfix >/dev/null && group_line='socket_group = "postfix"'
  fi
  chmod 0755 "$md"
  {
    echo "[milter]"
    echo "socket = \"$RM_SOCKET\""
    echo 'socket_mode = "0660"'
    [ -n "$group_line" ] && echo "$group_line"
    [ -n "$user_line" ] && echo "$user_line"
    echo 'internal_hosts = ["127.0.0.1/32", "::1/128"]'
    echo 'originating_daemons = ["ORIGINATING"]'
    local extra
    for extra in "$@"; do echo "$extra"; done
    echo
    echo "[index]"
    echo "path = \"$RM_INDEX\""
    echo "key_file = \"$RM_KEY\""
    echo
    echo "[log]"
    echo "sink = \"file:$RM_LOG\""
    echo 'level = "debug"'
    echo
    rm_line_toml
  } >"$RM_CONF"
  _rm_milter_launch
}

_rm_milter_launch() {
  "$RM_MILTER_BIN" -f -c "$RM_CONF" 2>>"$RM_LOG.stderr" &
  RM_MILTER_PID=$!
  if ! wait_for 10 test -S "$RM_SOCKET_PATH"; then
    fail "the milter started" "$(cat "$RM_LOG" "$RM_LOG.stderr" 2>/dev/null | tail -20)"
    return 1
  fi
  # libmilter binds the socket before the index is opened and the pending journal imported:
  # wait for this process's "listening" line, which comes after both, so tests see the
  # rows' file and the import's log line.
  wait_for 10 grep -q "retention-milter\[$RM_MILTER_PID\] info: listening on" "$RM_LOG" || true
}

rm_milter_stop() {
  [ -n "$RM_MILTER_PID" ] || return 0
  kill -TERM "$RM_MILTER_PID" 2>/dev/null || true
  wait "$RM_MILTER_PID" 2>/dev/null || true
  RM_MILTER_PID=""
  return 0
}

rm_milter_restart() {
  rm_milter_stop
  _rm_milter_launch
}

rm_share_index() {
  local state
  state=$(dirname "$RM_INDEX")
  rm_milter_stop
  chgrp -R "$1" "$state"
  chmod 2770 "$state"
  chmod g+rw "$RM_INDEX"*
  rm_milter_restart
}

rm_sql() { sqlite3 -readonly "$RM_INDEX" "$1"; }

rm_digest() {
  python3 - "$RM_KEY" "$1" <<'PY'
import hashlib, hmac, re, sys
key = open(sys.argv[1], "rb").read()
v = sys.argv[2]
m = re.search(r"<([^<>]*)>", v)
ident = re.sub(r"\s", "", m.group(1) if m else v)
print(hmac.new(key, ident.encode(), hashlib.sha256).hexdigest().upper())
PY
}

# The keyed digest an index row keeps of a record token (X-Retention-Record), in hex.
rm_record_digest() {
  python3 - "$RM_KEY" "$1" <<'PY'
import hashlib, hmac, sys
key = open(sys.argv[1], "rb").read()
print(hmac.new(key, b"retention-milter record token v1\0" + sys.argv[2].encode(), hashlib.sha256).hexdigest().upper())
PY
}

rm_retain_date() {
  python3 - "$1" <<'PY'
import calendar, datetime, sys
n = int(sys.argv[1]); t = datetime.datetime.now(datetime.timezone.utc).date()
m = t.month - 1 + n; y = t.year + m // 12; m = m % 12 + 1
print(datetime.date(y, m, min(t.day, calendar.monthrange(y, m)[1])).isoformat())
PY
}
