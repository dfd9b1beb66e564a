#!/usr/bin/env bash
# A sweep whose PostgreSQL server goes away in the middle of its run. A shared mailbox holds
# expired and live messages, their rows moved from an SQLite index to the server with
# `retentionctl migrate-index`, as an admin moving an install would. The server ends the
# sweeper's session at the moment it marks the first row destroyed (a trigger that
# terminates its own backend: what a server shutting down or failing over does to a
# client). Checks: that run stops with exit 1 and says why, writes no row destroyed and
# touches no live message; the next run, with the server back to normal, finishes the work
# (exit 0): every expired message gone and its row destroyed, every live one untouched,
# byte for byte, and its row present.
# Usage: test_pg_sweep_interrupted.sh PATH/TO/retention-sweep PATH/TO/retentionctl
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/lib/sweep.sh
. "$HERE/lib/sweep.sh"
# shellcheck source=SCRIPTDIR/lib/pg.sh
. "$HERE/lib/pg.sh"

SWEEP=${1:?usage: $0 PATH/TO/retention-sweep PATH/TO/retentionctl}
CTL=${2:?usage: $0 PATH/TO/retention-sweep PATH/TO/retentionctl}
EXPIRED=40
LIVE=10

e2e_begin
require_root
require_tools python3 sqlite3
e2e_workdir W rm-pg-sweep-cut

pg_start "$W"
pg_createdb retention
SHARED=$W/vmail/respectphoneline.test/info
mkdir -p "$W/sweep" "$W/state"

# config [INDEX-LINES...]: the sweeper's config, with the [index] lines given.
config() {
  {
    printf '[index]\npath = "%s"\nkey_file = "%s"\n' "$W/state/index.sqlite3" "$W/state/index.key"
    printf '%s\n' "$@"
    printf '[log]\nsink = "file:%s"\nlevel = "info"\n' "$W/sweep/sweep.log"
    rm_line_toml
    sweep_mailbox "$SHARED" shared respect-phoneline
  } >"$W/sweep/retention.toml"
}

# --- the index: made in SQLite, seeded as the milter would have, moved to the server ------
config
"$CTL" -c "$W/sweep/retention.toml" upgrade-index >"$W/upgrade.out" 2>&1 || fail "upgrade-index makes the SQLite index" "$(cat "$W/upgrade.out")"
"$(e2e_python)" "$E2E_LIB_DIR/sweep_seed_store.py" "$SHARED" "$W/state/index.key" "$EXPIRED" "$LIVE" "$W/seed.sql"
sqlite3 "$W/state/index.sqlite3" ".read $W/seed.sql"
(cd "$SHARED/cur" && sha256sum 1700000000.M*LP1.* | sort) >"$W/live.before"
config "conninfo = \"$(pg_conninfo retention)\""
"$CTL" -c "$W/sweep/retention.toml" migrate-index --to postgresql >"$W/migrate.out" 2>&1 ||
  fail "migrate-index copies the index to the server" "$(cat "$W/migrate.out")"
config 'backend = "postgresql"' "conninfo = \"$(pg_conninfo retention)\""
assert_eq "$((EXPIRED + LIVE))" "$(pg_psql retention "SELECT count(*) FROM messages WHERE state = 'present'")" \
  "the server holds the $((EXPIRED + LIVE)) present rows"

# --- the server ends the sweeper's session as it marks the first row destroyed -----------
pg_psql retention "CREATE FUNCTION end_this_session() RETURNS trigger LANGUAGE plpgsql AS \$\$
  BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END \$\$"
pg_psql retention "CREATE TRIGGER end_this_session BEFORE UPDATE ON messages FOR EACH ROW
  WHEN (NEW.state = 'destroyed') EXECUTE FUNCTION end_this_session()"

sweep_run() {
  SWEEP_RC=0
  "$SWEEP" -c "$W/sweep/retention.toml" --json >"$W/sweep/out.json" 2>"$W/sweep/err" || SWEEP_RC=$?
}
sweep_run
assert_eq 1 "$SWEEP_RC" "the sweep whose server went away stops with exit 1"
echo "# the stopped run said: $(head -c 400 "$W/sweep/err")"
sweep_show_failure
assert_file_matches "$W/sweep/err" "terminat|server|connection" "it says the server's connection was lost"
assert_file_not_contains "$W/sweep/err" "$PG_PASSWORD" "its message holds no password"
assert_eq 0 "$(pg_psql retention "SELECT count(*) FROM messages WHERE state = 'destroyed'")" \
  "no row is marked destroyed by the run that lost its server"
(cd "$SHARED/cur" && sha256sum 1700000000.M*LP1.* | sort) >"$W/live.cut"
assert_cmd "no live message was touched by the run that lost its server" cmp "$W/live.before" "$W/live.cut"

# --- the server back to normal: the next run finishes the work ----------------------------
pg_psql retention "DROP TRIGGER end_this_session ON messages"
sweep_run
assert_eq 0 "$SWEEP_RC" "the next run completes (exit 0)"
sweep_show_failure
assert_eq 0 "$(find "$SHARED" -type f -name '1700000000.M*OP1.*' | wc -l)" "no expired message is left"
(cd "$SHARED/cur" && sha256sum 1700000000.M*LP1.* | sort) >"$W/live.after"
assert_cmd "every live message is still there, byte for byte" cmp "$W/live.before" "$W/live.after"
assert_eq "$EXPIRED" "$(pg_psql retention "SELECT count(*) FROM messages WHERE queue_id LIKE 'SEEDO%' AND state = 'destroyed'")" \
  "every expired row is marked destroyed"
assert_eq "$LIVE" "$(pg_psql retention "SELECT count(*) FROM messages WHERE queue_id LIKE 'SEEDL%' AND state = 'present'")" \
  "every live row is still present"
assert_eq 0 "$(pg_psql retention "SELECT count(*) FROM messages WHERE claimed_at IS NOT NULL")" \
  "no claim of the stopped run is left"
e2e_finish
