# shellcheck shell=bash
# A private PostgreSQL server for the end-to-end tests: Debian's initdb/pg_ctl, a cluster in a
# folder the test owns, a Unix socket in that folder and 127.0.0.1 on a free port (TCP logins
# need the superuser's password; the socket trusts its local users). Needs root: initdb and
# the server refuse to run as root, so they run as the `postgres` system user. Source after
# common.sh, then:
#
#   pg_start DIR        make and start a cluster in DIR/pg (DIR: the test's folder); stopped
#                       at exit (registered with at_exit). Exports PG_DIR (socket folder),
#                       PG_DATA, PG_PORT, PG_PASSWORD, PG_BIN, PG_LOG (the server's log file:
#                       logging_collector off, its stderr appended there)
#   pg_conninfo DB      connection string for DB as the superuser, through the socket
#   pg_tcp_conninfo DB  the same over TCP on 127.0.0.1, with the password
#   pg_psql DB SQL      run SQL in DB (psql -X -At, stops at the first error); output unaligned
#   pg_createdb DB      make an empty database DB
#   pg_log_statements [DB]  log every statement with all its parameters, in full, to PG_LOG
#                       (log_statement = 'all', log_parameter_max_length = -1 and its
#                       _on_error twin) server-wide; with DB, on that database too, over any
#                       setting of its own (retentionctl upgrade-index turns logging off there):
#                       new sessions of DB log everything
#   pg_dump_db DB FILE  plain-SQL pg_dump of DB into FILE
#   pg_restart          stop (fast) and start again on the same port and folder
#   pg_stop             stop the server (idempotent, safe in a cleanup, returns 0)
#   pg_as_server CMD... run CMD as the server's user, from /
#
# RM_PG_BINDIR names the server's programs; else pg_config's bindir when it has initdb (the
# libpq-dev pg_config may belong to a version whose server is not installed), else the
# newest /usr/lib/postgresql/*/bin, as tests/unit/pg_test_util.hpp finds them.

PG_DIR=""

_pg_say() { echo "pg.sh: $*" >&2; }

_pg_bindir() {
  local dir
  if [ -n "${RM_PG_BINDIR:-}" ]; then
    echo "$RM_PG_BINDIR"
    return
  fi
  dir=$(pg_config --bindir 2>/dev/null || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
    return
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && echo "$dir"
  done | sort -t/ -k5 -n -r | head -n 1
}

pg_as_server() { (cd / && runuser -u postgres -- "$@"); }

pg_start() {
  local dir=$1/pg port opts _
  PG_BIN=$(_pg_bindir)
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    fail "PostgreSQL server programs found (install Debian's postgresql package)"
    return 1
  fi
  getent passwd postgres >/dev/null || { fail "a postgres system user exists"; return 1; }
  # The socket folder must be reachable by the daemons' users (nobody, the mail user); the
  # data folder stays the server's alone, as initdb wants it.
  mkdir -p "$dir"
  chown postgres: "$dir"
  chmod 0755 "$dir"
  export PG_DIR=$dir PG_DATA=$dir/data PG_LOG=$dir/server.log PG_BIN
  PG_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  export PG_PASSWORD
  (umask 077 && printf '%s\n' "$PG_PASSWORD" >"$dir/password")
  chown postgres: "$dir/password"
  at_exit pg_stop
  if ! pg_as_server "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C --no-sync \
    --no-instructions --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/password" \
    >"$dir/initdb.log" 2>&1; then
    fail "initdb made a cluster" "$(cat "$dir/initdb.log")"
    return 1
  fi
  pg_as_server touch "$PG_LOG"
  for _ in 1 2 3 4 5; do # the free port may be taken meanwhile
    port=$(free_ports 1)
    opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c logging_collector=off"
    opts+=" -c fsync=off -c full_page_writes=off"
    if pg_as_server "$PG_BIN/pg_ctl" start -w -t 60 -D "$PG_DATA" -l "$PG_LOG" -o "$opts" \
      >>"$dir/pg_ctl.log" 2>&1; then
      export PG_PORT=$port
      return 0
    fi
  done
  fail "the PostgreSQL server started" "$(tail -n 30 "$dir/pg_ctl.log" "$PG_LOG")"
  return 1
}

pg_conninfo() { echo "host=$PG_DIR port=$PG_PORT user=postgres dbname=$1 connect_timeout=10"; }

pg_tcp_conninfo() {
  echo "host=127.0.0.1 port=$PG_PORT user=postgres password=$PG_PASSWORD dbname=$1 connect_timeout=10"
}

pg_psql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(pg_conninfo "$1")" -c "$2"; }

pg_createdb() { pg_psql postgres "CREATE DATABASE \"$1\""; }

pg_log_statements() {
  local setting
  for setting in "log_statement = 'all'" "log_parameter_max_length = -1" "log_parameter_max_length_on_error = -1"; do
    pg_psql postgres "ALTER SYSTEM SET $setting" || return 1
  done
  if [ -n "${1:-}" ]; then
    for setting in "log_statement = 'all'" "log_parameter_max_length = -1" "log_parameter_max_length_on_error = -1"; do
      pg_psql postgres "ALTER DATABASE \"$1\" SET $setting" || return 1
    done
  fi
  pg_psql postgres "SELECT pg_reload_conf()" >/dev/null || return 1
  # shellcheck disable=SC2016  # evaluated on each try
  wait_until 10 '[ "$(pg_psql postgres "SHOW log_statement")" = all ]'
}

pg_dump_db() { "$PG_BIN/pg_dump" --no-password -d "$(pg_conninfo "$1")" -f "$2"; }

pg_restart() {
  pg_as_server "$PG_BIN/pg_ctl" restart -w -t 60 -m fast -D "$PG_DATA" -l "$PG_LOG" >>"$PG_DIR/pg_ctl.log" 2>&1
}

pg_stop() {
  [ -n "$PG_DIR" ] && [ -f "$PG_DATA/postmaster.pid" ] || return 0
  pg_as_server "$PG_BIN/pg_ctl" stop -w -t 60 -m fast -D "$PG_DATA" >>"$PG_DIR/pg_ctl.log" 2>&1 || true
  return 0
}
