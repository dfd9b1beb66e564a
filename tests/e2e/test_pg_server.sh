#!/usr/bin/env bash
# A PostgreSQL index on a server of the test's own: upgrade-index sets up the programs'
# roles and keeps the server from logging their statements, retentionctl works as its
# role's login, and `retentionctl check` warns about a login role that logs its statements
# and about WAL archiving (which needs a server restart, hence a cluster of our own).
# Usage: test_pg_server.sh RETENTIONCTL (root only: 77 skips otherwise)
set -uo pipefail

CTL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.sh"
. "$HERE/lib/pg.sh"

e2e_begin
require_root "a private PostgreSQL server"
e2e_workdir T rm-pgserver-e2e
pg_start "$T" || exit 1
pg_createdb retention || fail "made the database"

# No user in conninfo: each program's role comes from PGUSER (or its system user).
e2e_scratch_install "$T" -e 's|^user = "retention"|user = "root"|' -e 's|^socket_group = "postfix"|socket_group = "root"|' \
  -e "s|^\[index\]|[index]\nbackend = \"postgresql\"\nconninfo = \"host=$PG_DIR port=$PG_PORT dbname=retention\"|"
chmod 2770 "$T/state" "$T/letters"

# as ROLE EXPECTED-EXIT DESCRIPTION ARGS...: retentionctl logged in as ROLE; output in $out.
as() {
  local role=$1 want=$2 what=$3
  shift 3
  out=$(PGUSER=$role "$CTL" -c "$T/retention.toml" "$@" 2>&1)
  local rc=$?
  if [ "$rc" -ne "$want" ]; then fail "$what: exit $rc, wanted $want" "$out"; return 1; fi
  pass "$what (exit $rc)"
}
has() { grep -qF -- "$1" <<<"$out" || fail "output lacks '$1': $(head -c 800 <<<"$out")"; }
lacks() { ! grep -qF -- "$1" <<<"$out" || fail "output shows '$1': $(grep -F -- "$1" <<<"$out" | head -c 400)"; }

as postgres 0 "upgrade-index as the superuser" upgrade-index && has "created the index"
pg_psql retention "CREATE ROLE e2e_ctl LOGIN IN ROLE retention_ctl" || fail "made a login role"

# The server logs every statement with its parameters, except in the index's database.
pg_log_statements || fail "server logs every statement"
as e2e_ctl 1 "show as retentionctl's role" show '<e2e.pg.7c1d@sender.example>' && has "no message"
as e2e_ctl 0 "report as retentionctl's role" report
pg_psql postgres "SELECT 'logging-is-on'" >/dev/null
assert_file_contains "$PG_LOG" "logging-is-on" "the server logs statements elsewhere"
assert_file_not_contains "$PG_LOG" "FROM messages" "no statement of retentionctl in the server's log"
assert_file_not_contains "$PG_LOG" "parameters:" "no parameter (digest) in the server's log"
if PGUSER=e2e_ctl "$PG_BIN/psql" -X -q -At -d "host=$PG_DIR port=$PG_PORT dbname=retention" \
  -c "DELETE FROM messages" >/dev/null 2>&1; then
  fail "retentionctl's role deleted rows"
else
  pass "retentionctl's role may not delete rows"
fi

as postgres 0 "check after upgrade-index" check && lacks "may log the programs' statements" && lacks "archive_mode"

pg_psql retention "ALTER ROLE e2e_ctl IN DATABASE retention SET log_statement = 'all'"
as postgres 0 "check with a login role that logs" check && has "e2e_ctl: log_statement = all"

pg_psql postgres "ALTER SYSTEM SET archive_mode = on" && pg_psql postgres "ALTER SYSTEM SET archive_command = '/bin/true'"
pg_restart || fail "server restarted"
as postgres 0 "check with WAL archiving" check && has "archive_mode = on with an archive command" && has "digest_grace"

e2e_finish
