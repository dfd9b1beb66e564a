# shellcheck shell=bash
# The real retention-milter for end-to-end tests: a config under the test folder, the
# daemon in the foreground, and helpers to read its index. Source after common.sh.
#
#   rm_milter_start DIR BIN [TOML...]   write DIR/milter/retention.toml (unix socket, index,
#                        key and a debug log under DIR/milter; the two test helplines) with
#                        the extra TOML lines appended to [milter], then start BIN -f.
#                        RM_LOG_LEVEL (default debug) is the log's level; its stderr goes
#                        to RM_LOG.stderr.
#                        Runs as user nobody when root. Exports RM_CONF, RM_SOCKET (libmilter
#                        spec), RM_SOCKET_PATH, RM_INDEX, RM_KEY, RM_LOG, RM_MILTER_PID.
#   rm_milter_config DIR BIN [TOML...]  the same, without starting it (start it with
#                        rm_milter_restart, e.g. once its index is made)
#                        RM_INDEX_TOML (TOML lines) is added to [index] by both
#   rm_milter_restart    stop and start again with the same config
#   rm_milter_stop [PID] SIGTERM, wait; idempotent, safe in a cleanup. PID: a milter started
#                        earlier whose RM_MILTER_PID was kept (a test running two of them)
#   rm_sql SQL           run SQL on the index (sqlite3, read-only)
#   rm_digest ID...      hex HMAC-SHA-256 of each Message-ID as the index keys it, one a
#                        line, computed independently of the product (index_digest.py:
#                        the one oracle every test uses)
#   rm_retain_date N     today (UTC) plus N calendar months, clamped, as YYYY-MM-DD
#   rm_line_toml         the [policy]/[[line]] part of the config; RM_REVIEW_TOML (TOML lines)
#                        is added to the respect-phoneline line
#   rm_share_index GID   restart the milter with its index folder shared with group GID
#                        (setgid, group read-write), as in production: the sweeper, run as
#                        the mail store's user, marks rows in the index the milter writes

RM_MILTER_PID=""

# One [[line]] of the config: TAG NAME DOMAIN [TOML...]
_rm_line() {
  printf '[[line]]\ntag = "%s"\nname = "%s"\naddresses = ["info@%s"]\ndomains = ["%s"]\npolicy = "email"\n' \
    "$1" "$2" "$3" "$3"
  shift 3
  [ "$#" -eq 0 ] || printf '%s\n' "$@"
  echo
}

rm_line_toml() {
  printf '[policy.email]\nretain = "6 months"\n\n'
  _rm_line respect-phoneline "Respect Phoneline" respectphoneline.test ${RM_REVIEW_TOML:+"$RM_REVIEW_TOML"}
  _rm_line mens-advice-line "Men's Advice Line" mensadviceline.test
}

rm_milter_start() {
  rm_milter_config "$@" && _rm_milter_launch
}

rm_milter_config() {
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
    [ -n "${RM_INDEX_TOML:-}" ] && printf '%s\n' "$RM_INDEX_TOML"
    echo
    echo "[log]"
    echo "sink = \"file:$RM_LOG\""
    echo "level = \"${RM_LOG_LEVEL:-debug}\""
    echo
    rm_line_toml
  } >"$RM_CONF"
}

_rm_milter_launch() {
  "$RM_MILTER_BIN" -f -c "$RM_CONF" 2>>"$RM_LOG.stderr" &
  RM_MILTER_PID=$!
  # 30 s: a sanitizer build on a loaded machine starts slowly; a healthy start takes less.
  if ! wait_for 30 test -S "$RM_SOCKET_PATH"; then
    fail "the milter started" "$(cat "$RM_LOG" "$RM_LOG.stderr" 2>/dev/null | tail -20)"
    return 1
  fi
  # libmilter binds the socket before the index is opened and the pending journal imported:
  # wait for this process's "listening" line, which comes after both, so tests see the
  # rows' file and the import's log line.
  wait_for 30 rm_milter_settled || true
}

# Status 0 once the milter started last logged "listening on" (its index open, the journal
# imported), or is gone (it refused to start).
rm_milter_settled() {
  grep -q "retention-milter\[$RM_MILTER_PID\] info: listening on" "$RM_LOG" || ! kill -0 "$RM_MILTER_PID" 2>/dev/null
}

# shellcheck disable=SC2120  # PID is optional
rm_milter_stop() {
  local pid=${1:-$RM_MILTER_PID}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$pid" != "$RM_MILTER_PID" ] || RM_MILTER_PID=""
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

rm_digest() { "$(e2e_python)" "$E2E_LIB_DIR/index_digest.py" "$RM_KEY" message-id "$@"; }

# The keyed digest an index row keeps of a record token (X-Retention-Record), in hex.
rm_record_digest() { "$(e2e_python)" "$E2E_LIB_DIR/index_digest.py" "$RM_KEY" record "$1"; }

rm_retain_date() { "$(e2e_python)" "$E2E_LIB_DIR/retain_date.py" "$1"; }
